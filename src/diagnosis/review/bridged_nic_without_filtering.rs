//! `bridged-nic-without-filtering`: instances of restricted projects (the ones Incus confines
//! for users it does not fully trust) on a bridge without MAC and IP filtering, so they can
//! spoof their neighbours' addresses (explanation/security.md, bridged NIC security). One
//! finding per project.

use super::support::some_names;
use crate::diagnosis::checks::{Check, Context, Evidence, Finding, Kind, Severity};
use crate::diagnosis::cluster::ClusterState;
use crate::diagnosis::incus::api::ConfigMap;

pub const RULE: Check = Check {
    id: "bridged-nic-without-filtering",
    run,
    warnings: &[],
};

/// Whether a device is a NIC on a bridge (its own `nictype`, or a managed bridge network).
fn bridged(st: &ClusterState, d: &ConfigMap) -> bool {
    if d.get("type").map(String::as_str) != Some("nic") {
        return false;
    }
    d.get("nictype").map(String::as_str) == Some("bridged")
        || d.get("network").is_some_and(|n| {
            st.networks
                .iter()
                .any(|x| &x.name == n && x.kind == "bridge")
        })
}

fn filtered(d: &ConfigMap) -> bool {
    [
        "security.mac_filtering",
        "security.ipv4_filtering",
        "security.ipv6_filtering",
    ]
    .iter()
    .all(|k| d.get(*k).map(String::as_str) == Some("true"))
}

fn run(ctx: &Context) -> Vec<Finding> {
    let st = ctx.state;
    let mut out = Vec::new();
    for p in st
        .projects
        .iter()
        .filter(|p| p.config.get("restricted").map(String::as_str) == Some("true"))
    {
        let open: Vec<String> = st
            .instances
            .iter()
            .filter(|i| i.project == p.name)
            .flat_map(|i| {
                i.expanded_devices
                    .iter()
                    .filter(|(_, d)| bridged(st, d) && !filtered(d))
                    .map(move |(n, _)| format!("{}/{n}", i.name))
            })
            .collect();
        if open.is_empty() {
            continue;
        }
        out.push(
            Finding::new(RULE.id, Severity::Moderate, Kind::Project, &p.name, format!("{} NIC(s) in restricted project {} are bridged without filtering", open.len(), p.name))
                .in_project(&p.name)
                .evidence(Evidence::new("GET /1.0/instances?recursion=1", "expanded_devices (security.mac_filtering, ipv4_filtering, ipv6_filtering)", some_names(&open, 8)))
                .explain("On a bridge, an instance without filtering can send frames with another instance's MAC or IP address, intercept or disturb its traffic. For users confined to a restricted project, turn on MAC, IPv4 and IPv6 filtering on their NICs (usually in the project's profile).")
                .docs_at("explanation/security.md", "bridged-nic-security", "Bridged NIC security").docs_about("bridged NIC security mac_filtering ipv4_filtering spoofing")
                .fix(format!("incus profile device set default eth0 security.mac_filtering=true security.ipv4_filtering=true security.ipv6_filtering=true --project {}", p.name)),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};
    use crate::diagnosis::incus::api::Project;

    fn tenant(restricted: bool, filtering: bool) -> B {
        B::cluster(3)
            .with(move |st| {
                let mut p = Project {
                    name: "tenant".into(),
                    ..Project::default()
                };
                if restricted {
                    p.config.insert("restricted".into(), "true".into());
                }
                st.projects.push(p);
            })
            .instance_with("web", "m1", move |i| {
                i.project = "tenant".into();
                let mut nic = ConfigMap::new();
                nic.insert("type".into(), "nic".into());
                nic.insert("nictype".into(), "bridged".into());
                nic.insert("parent".into(), "br0".into());
                if filtering {
                    for k in [
                        "security.mac_filtering",
                        "security.ipv4_filtering",
                        "security.ipv6_filtering",
                    ] {
                        nic.insert(k.into(), "true".into());
                    }
                }
                i.expanded_devices.insert("eth0".into(), nic);
            })
    }

    #[test]
    fn restricted_projects_on_bridges() {
        table(
            &RULE,
            vec![
                ("unrestricted project", tenant(false, false).build(), vec![]),
                (
                    "restricted, no filtering",
                    tenant(true, false).build(),
                    vec![("moderate", "project/tenant")],
                ),
                ("restricted, filtered", tenant(true, true).build(), vec![]),
            ],
        );
    }
}
