//! `member-evacuated`: members in maintenance (evacuated, evacuating, restoring).

use super::support::heartbeat_failures;
use super::{Check, Context, Evidence, Finding, Kind, Severity};
use crate::diagnosis::incus::api::{MemberStatus, OperationStatus};

pub const CHECK: Check = Check {
    id: "member-evacuated",
    run,
    warnings: &[],
};

fn run(ctx: &Context) -> Vec<Finding> {
    let st = ctx.state;
    st.members
        .iter()
        .filter(|m| m.status.in_maintenance())
        // A dead evacuated member is reported by member-offline.
        .filter(|m| heartbeat_failures(st, m).is_empty())
        .map(|m| {
            let stuck = st.operations.iter().find(|o| {
                o.status == OperationStatus::Running && o.description.contains("vacuat") && o.location == m.server_name
            });
            let mut f = Finding::new(
                CHECK.id,
                if m.status == MemberStatus::Evacuated { Severity::Low } else { Severity::Moderate },
                Kind::ClusterMember,
                &m.server_name,
                format!("Cluster member {} is {} ({})", m.server_name, m.status.as_str().to_lowercase(), m.message),
            )
            .evidence(Evidence::new(
                "GET /1.0/cluster/members",
                format!("{}.status", m.server_name),
                format!("{} ({})", m.status, m.message),
            ))
            .explain(format!(
                "{} is in maintenance: its instances were moved or stopped and no new instances are placed \
                 on it, so the cluster runs with less capacity. When the maintenance is done, restore it.",
                m.server_name
            ))
            .docs_at("howto/cluster_manage.md", "cluster-evacuate", "Evacuate and restore cluster members").docs_about("evacuate and restore cluster members")
            .fix(format!("incus cluster restore {}", m.server_name));
            if let Some(o) = stuck {
                f = f.evidence(Evidence::new("GET /1.0/operations", o.id.clone(), format!("{} since {}", o.description, o.created_at)));
            }
            f
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};
    use crate::diagnosis::incus::api::{MemberStatus, OperationStatus};

    #[test]
    fn members_in_maintenance() {
        table(
            &CHECK,
            vec![
                ("healthy", B::cluster(3).build(), vec![]),
                (
                    "evacuated",
                    B::cluster(3)
                        .status(
                            "m3",
                            MemberStatus::Evacuated,
                            "Unavailable due to maintenance",
                        )
                        .build(),
                    vec![("low", "cluster-member/m3")],
                ),
                (
                    "evacuating",
                    B::cluster(3)
                        .status("m3", MemberStatus::Evacuating, "")
                        .operation(OperationStatus::Running, "Evacuating cluster member", |o| {
                            o.location = "m3".into()
                        })
                        .build(),
                    vec![("moderate", "cluster-member/m3")],
                ),
                (
                    "dead in maintenance is member-offline's",
                    B::cluster(3)
                        .status(
                            "m3",
                            MemberStatus::Evacuated,
                            "Unavailable due to maintenance",
                        )
                        .warning(
                            "Offline cluster member",
                            "m1",
                            "",
                            "heartbeat to 127.0.0.13:8443 failed",
                        )
                        .build(),
                    vec![],
                ),
            ],
        );
    }
}
