//! `time-skew`: members whose clock differs from the leader's by more than 5 seconds.

use super::support::{warning_evidence, warnings_of};
use super::{Check, Context, Finding, Kind, Severity};

const WARNING: &str = "Time skew detected between leader and local";

pub const CHECK: Check = Check {
    id: "time-skew",
    run,
    warnings: &[WARNING],
};

fn run(ctx: &Context) -> Vec<Finding> {
    warnings_of(ctx.state, WARNING)
        .map(|w| {
            let member = if w.location.is_empty() { "unknown" } else { w.location.as_str() };
            Finding::new(CHECK.id, Severity::Moderate, Kind::ClusterMember, member, format!("Clock of {member} is off from the database leader's"))
                .evidence(warning_evidence(w))
                .explain(
                    "The member's clock differs from the leader's by more than 5 seconds. Heartbeats carry \
                     timestamps, so skewed members can be marked offline wrongly, and certificates and \
                     scheduled snapshots misbehave. Incus clears this warning once the clocks agree.",
                )
                .docs_at("explanation/clustering.md", "clustering-offline-members", "Offline members and fault tolerance").docs_about("cluster heartbeat offline threshold time")
                .fix(format!("ssh {member} 'timedatectl; chronyc tracking'   # is NTP running and synchronised?"))
                .fix(format!("ssh {member} 'apt install chrony && systemctl enable --now chrony'   # run NTP on every member"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};

    #[test]
    fn clock_skew_warnings() {
        table(
            &CHECK,
            vec![
                ("healthy", B::cluster(3).build(), vec![]),
                (
                    "skew on m2",
                    B::cluster(3)
                        .warning(WARNING, "m2", "", "Time skew detected")
                        .build(),
                    vec![("moderate", "cluster-member/m2")],
                ),
                (
                    "resolved",
                    B::cluster(3)
                        .warning(WARNING, "m2", "", "Time skew detected")
                        .resolve_warnings()
                        .build(),
                    vec![],
                ),
            ],
        );
    }
}
