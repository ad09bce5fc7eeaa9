//! `network-unavailable`: managed networks a member could not bring up.

use super::support::{unavailable, warning_evidence, warning_subject, warnings_of};
use super::{Check, Context, Evidence, Finding, Kind, Severity};
use crate::diagnosis::cluster::OnMember;

const WARNING: &str = "Network unavailable";

pub const CHECK: Check = Check {
    id: "network-unavailable",
    run,
    warnings: &[WARNING],
};

fn run(ctx: &Context) -> Vec<Finding> {
    let st = ctx.state;
    unavailable(&st.network_status, st, WARNING)
        .into_iter()
        .map(|(net, member)| {
            let n = st.networks.iter().find(|n| n.name == net);
            let kind = n.map(|n| n.kind.as_str()).unwrap_or("");
            let mut f = Finding::new(CHECK.id, Severity::Critical, Kind::Network, &net, format!("Network {net} is unavailable on {member}"))
                .on_member(&member)
                .explain(format!(
                    "The {kind} network {net} could not be started on {member} (missing parent interface, \
                     OVN unreachable, bridge or dnsmasq failure). Instances with a NIC on it cannot start \
                     there (\"Network \\\"{net}\\\" unavailable on this server\")."
                ))
                .docs_at("howto/network_configure.md", "", "How to configure a network").docs_about("configure network network unavailable")
                .fix(format!("incus network info {net} --target {member}"))
                .fix(format!("incus network show {net} --target {member}   # parent interface, addresses"))
                .fix(format!("ssh {member} 'journalctl -u incus -n 50'   # why the network failed to start"));
            if let Some(n) = n
                && !n.project.is_empty() && n.project != "default" {
                    f = f.in_project(&n.project);
                }
            if let Some(s) = st.network_status.get(&OnMember::new(&net, &member)) {
                f = f.evidence(Evidence::new(format!("GET /1.0/networks/{net}?target={member}"), "status", s.clone()));
            }
            for w in warnings_of(st, WARNING).filter(|w| warning_subject(w).1 == net && w.location == member) {
                f = f.evidence(warning_evidence(w));
            }
            f
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};

    #[test]
    fn networks_unavailable_on_a_member() {
        table(
            &CHECK,
            vec![
                (
                    "healthy",
                    B::cluster(3)
                        .network("ovn0", "ovn", "Created")
                        .network_status("ovn0", "m1", "Created")
                        .build(),
                    vec![],
                ),
                (
                    "unavailable on m2",
                    B::cluster(3)
                        .network("ovn0", "ovn", "Created")
                        .network_status("ovn0", "m2", "Unavailable")
                        .build(),
                    vec![("critical", "network/ovn0")],
                ),
                (
                    "a warning says so",
                    B::cluster(3)
                        .network("br0", "bridge", "Created")
                        .warning(WARNING, "m1", "/1.0/networks/br0", "dnsmasq failed")
                        .build(),
                    vec![("critical", "network/br0")],
                ),
            ],
        );
    }
}
