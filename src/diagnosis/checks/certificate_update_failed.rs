//! `certificate-update-failed`: a cluster certificate rotation that did not reach every member.

use super::support::{warning_evidence, warnings_of};
use super::{Check, Context, Finding, Kind, Severity};

const WARNING: &str = "Unable to update cluster certificate";

pub const CHECK: Check = Check {
    id: "certificate-update-failed",
    run,
    warnings: &[WARNING],
};

fn run(ctx: &Context) -> Vec<Finding> {
    warnings_of(ctx.state, WARNING)
        .map(|w| {
            let member = if w.location.is_empty() { ctx.state.remote.as_str() } else { w.location.as_str() };
            Finding::new(CHECK.id, Severity::High, Kind::Certificate, "cluster", format!("The cluster certificate could not be updated on {member}"))
                .on_member(member)
                .evidence(warning_evidence(w))
                .explain(format!(
                    "A cluster certificate update did not reach {member}: {}. Members with the old certificate \
                     cannot be verified by clients that pinned the new one.",
                    w.last_message
                ))
                .docs_at("howto/cluster_manage.md", "update-the-cluster-certificate", "Update the cluster certificate").docs_about("update the cluster certificate")
                .fix("incus cluster list   # every member must be online")
                .fix("incus cluster update-certificate <cert.crt> <cert.key>   # run it again once all members are online")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};

    #[test]
    fn cluster_certificate_updates_that_did_not_reach_a_member() {
        table(
            &CHECK,
            vec![
                ("healthy", B::cluster(3).build(), vec![]),
                (
                    "failed on m3",
                    B::cluster(3)
                        .warning(WARNING, "m3", "", "connection refused")
                        .build(),
                    vec![("high", "certificate/cluster")],
                ),
                (
                    "resolved",
                    B::cluster(3)
                        .warning(WARNING, "m3", "", "x")
                        .resolve_warnings()
                        .build(),
                    vec![],
                ),
            ],
        );
    }
}
