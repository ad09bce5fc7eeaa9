//! `member-offline`: members the leader gets no heartbeat from, including evacuated members
//! that died (they stay `Evacuated`; only the leader's failed heartbeats give them away).

use super::support::{heartbeat_failures, url_address, warning_evidence};
use super::{Check, Context, Evidence, Finding, Kind, Severity};
use crate::diagnosis::incus::api::MemberStatus;

const WARNING: &str = "Offline cluster member";

pub const CHECK: Check = Check {
    id: "member-offline",
    run,
    warnings: &[WARNING],
};

fn run(ctx: &Context) -> Vec<Finding> {
    let st = ctx.state;
    let mut out = Vec::new();
    for m in &st.members {
        let address = url_address(&m.url);
        let heartbeat_failures = heartbeat_failures(st, m);
        let offline = m.status == MemberStatus::Offline;
        let dead_in_maintenance = m.status != MemberStatus::Offline
            && m.status != MemberStatus::Online
            && !heartbeat_failures.is_empty();
        if !offline && !dead_in_maintenance {
            continue;
        }
        let instances: Vec<&str> = st
            .instances
            .iter()
            .filter(|i| i.location == m.server_name)
            .map(|i| i.name.as_str())
            .collect();
        let voter = m
            .roles
            .iter()
            .any(|r| r == "database" || r == "database-leader");
        let title = if offline {
            format!("Cluster member {} is offline: {}", m.server_name, m.message)
        } else {
            format!(
                "Cluster member {} is {} and does not answer heartbeats",
                m.server_name, m.status
            )
        };
        let mut f = Finding::new(
            CHECK.id,
            Severity::High,
            Kind::ClusterMember,
            &m.server_name,
            title,
        )
        .evidence(Evidence::new(
            "GET /1.0/cluster/members",
            format!("{}.status", m.server_name),
            format!("{} ({})", m.status, m.message),
        ))
        .docs_at(
            "explanation/clustering.md",
            "clustering-offline-members",
            "Offline members and fault tolerance",
        )
        .docs_about("deal with offline cluster members force remove offline_threshold");
        for w in heartbeat_failures.iter().take(2) {
            f = f.evidence(warning_evidence(w));
        }
        let threshold = st
            .server
            .as_ref()
            .and_then(|s| s.config.get("cluster.offline_threshold").cloned())
            .unwrap_or_else(|| "20".into());
        f = f.explain(format!(
            "The database leader has had no heartbeat answer from {name} ({url}) for longer than \
             cluster.offline_threshold ({threshold}s). Usually incusd is not running there, the host \
             is down, or the cluster address is unreachable (firewall, address change). {inst} \
             While it is offline its instances show as ERROR and requests forwarded to it fail.{voter}",
            name = m.server_name,
            url = m.url,
            inst = if instances.is_empty() {
                "No instances are located on it.".to_string()
            } else {
                format!("{} instance(s) are located on it: {}.", instances.len(), instances.join(", "))
            },
            voter = if voter {
                " It is a database voter, so the cluster has one failure less to spare."
            } else {
                ""
            }
        ));
        f = f
            .fix(format!(
                "ssh {host} 'systemctl status incus; journalctl -u incus -n 50'   # on the member: is incusd running?",
                host = address.split(':').next().unwrap_or(&m.server_name)
            ))
            .fix(format!("incus cluster list   # after restarting incusd on {}, it returns to ONLINE", m.server_name))
            .fix(format!(
                "incus cluster remove --force {}   # only if the member is lost for good; reinstall it before it rejoins",
                m.server_name
            ));
        out.push(f);
    }
    out.extend(unresponsive(st));
    out
}

/// Members online in the database whose daemon does not answer (stopped or hung): the leader
/// marks them offline only after `cluster.offline_threshold`.
fn unresponsive(st: &crate::diagnosis::cluster::ClusterState) -> Vec<Finding> {
    let mut out = Vec::new();
    for (name, why) in &st.unresponsive_members {
        let Some(m) = st.member(name) else { continue };
        let address = url_address(&m.url);
        out.push(
            Finding::new(
                CHECK.id,
                Severity::High,
                Kind::ClusterMember,
                name,
                format!("Cluster member {name} does not answer requests"),
            )
            .evidence(Evidence::new(
                format!("GET /1.0/cluster/members/{name}/state"),
                "error",
                why.clone(),
            ))
            .explain(format!(
                "{name} ({url}) is still listed as {status}, but a request forwarded to it got no \
                 answer: its daemon is stopped, hung or overloaded. If it stays so, the leader marks \
                 it offline after cluster.offline_threshold, and requests about its instances fail \
                 or wait until then.",
                url = m.url,
                status = m.status
            ))
            .docs_at("explanation/clustering.md", "clustering-offline-members", "Offline members and fault tolerance").docs_about("deal with offline cluster members force remove offline_threshold")
            .fix(format!(
                "ssh {host} 'systemctl status incus; journalctl -u incus -n 50'   # on the member: is incusd stopped or hung?",
                host = address.split(':').next().unwrap_or(name)
            ))
            .fix(format!("ssh {host} 'sudo systemctl restart incus'   # when it is hung", host = address.split(':').next().unwrap_or(name))),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};
    use crate::diagnosis::incus::api::MemberStatus;

    const DOWN: &str = "Failed to send heartbeat request: Put \"https://127.0.0.13:8443/internal/database\": connection refused";

    #[test]
    fn offline_dead_in_maintenance_and_hung_members() {
        table(
            &CHECK,
            vec![
                ("healthy", B::cluster(3).build(), vec![]),
                (
                    "offline",
                    B::cluster(3)
                        .status("m2", MemberStatus::Offline, "No heartbeat for 31s")
                        .build(),
                    vec![("high", "cluster-member/m2")],
                ),
                (
                    "evacuated and dead: the leader's heartbeats fail",
                    B::cluster(3)
                        .status(
                            "m3",
                            MemberStatus::Evacuated,
                            "Unavailable due to maintenance",
                        )
                        .warning("Offline cluster member", "m1", "", DOWN)
                        .build(),
                    vec![("high", "cluster-member/m3")],
                ),
                (
                    "evacuated and alive: not offline",
                    B::cluster(3)
                        .status(
                            "m3",
                            MemberStatus::Evacuated,
                            "Unavailable due to maintenance",
                        )
                        .build(),
                    vec![],
                ),
                (
                    "online with an old warning: heartbeats work now",
                    B::cluster(3)
                        .warning("Offline cluster member", "m1", "", DOWN)
                        .build(),
                    vec![],
                ),
                (
                    "hung: online but does not answer",
                    B::cluster(3)
                        .with(|s| {
                            s.unresponsive_members
                                .insert("m2".into(), "timed out".into());
                        })
                        .build(),
                    vec![("high", "cluster-member/m2")],
                ),
            ],
        );
    }
}
