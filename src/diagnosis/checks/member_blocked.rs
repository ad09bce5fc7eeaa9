//! `member-blocked`: members that wait for the rest of the cluster to be upgraded.

use super::{Check, Context, Evidence, Finding, Kind, Severity};
use crate::diagnosis::incus::api::MemberStatus;

pub const CHECK: Check = Check {
    id: "member-blocked",
    run,
    warnings: &[],
};

fn run(ctx: &Context) -> Vec<Finding> {
    let st = ctx.state;
    let blocked: Vec<_> = st
        .members
        .iter()
        .filter(|m| m.status == MemberStatus::Blocked)
        .collect();
    let version = st
        .server
        .as_ref()
        .map(|s| s.environment.server_version.clone())
        .unwrap_or_default();
    blocked
        .iter()
        .map(|m| {
            Finding::new(
                CHECK.id,
                Severity::High,
                Kind::ClusterMember,
                &m.server_name,
                format!("Cluster member {} is blocked: {}", m.server_name, m.message),
            )
            .evidence(Evidence::new(
                "GET /1.0/cluster/members",
                format!("{}.status", m.server_name),
                format!("{} ({})", m.status, m.message),
            ))
            .evidence(Evidence::new("GET /1.0", "environment.server_version", version.clone()))
            .explain(format!(
                "{} runs an older schema or API than the newest member. All members must run the same \
                 Incus version; a member upgraded first waits (its API answers 503 \"Daemon is starting \
                 up\") until the others are upgraded too, so the cluster stays partly unusable until the \
                 upgrade is finished on every member.",
                m.server_name
            ))
            .docs_at("howto/cluster_manage.md", "upgrade-cluster-members", "Upgrade cluster members").docs_about("upgrade cluster members same version blocked")
            .fix(format!(
                "ssh {} 'apt update && apt install --only-upgrade incus'   # upgrade it to the newest member's version",
                m.server_name
            ))
            .fix("incus cluster list   # every member returns to ONLINE once all run the same version")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};
    use crate::diagnosis::incus::api::MemberStatus;

    #[test]
    fn blocked_members_only() {
        table(
            &CHECK,
            vec![
                ("healthy", B::cluster(3).build(), vec![]),
                (
                    "blocked",
                    B::cluster(3)
                        .status("m3", MemberStatus::Blocked, "waiting for an upgrade")
                        .build(),
                    vec![("high", "cluster-member/m3")],
                ),
                (
                    "evacuated is not blocked",
                    B::cluster(3)
                        .status("m3", MemberStatus::Evacuated, "maintenance")
                        .build(),
                    vec![],
                ),
            ],
        );
    }
}
