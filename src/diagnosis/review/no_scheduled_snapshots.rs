//! `no-scheduled-snapshots`: instances run but none takes scheduled snapshots, and there is no
//! sign of any other protection: "in a production setup, you should always back up" (backup.md).
//! One finding for the installation, as it would fire on almost every new cluster.

use super::support::installation;
use crate::diagnosis::checks::{Check, Context, Evidence, Finding, Severity};

pub const RULE: Check = Check {
    id: "no-scheduled-snapshots",
    run,
    warnings: &[],
};

fn run(ctx: &Context) -> Vec<Finding> {
    let st = ctx.state;
    if st.instances.is_empty() {
        return Vec::new();
    }
    let scheduled = |c: &std::collections::BTreeMap<String, String>| {
        c.get("snapshots.schedule")
            .is_some_and(|s| !s.trim().is_empty())
    };
    if st.instances.iter().any(|i| scheduled(&i.expanded_config))
        || st.volumes.values().flatten().any(|v| scheduled(&v.config))
    {
        return Vec::new();
    }
    let (kind, name) = installation(st);
    vec![
        Finding::new(RULE.id, Severity::Low, kind, &name, format!("None of the {} instances takes scheduled snapshots", st.instances.len()))
            .evidence(Evidence::new("GET /1.0/instances?recursion=1", "expanded_config[\"snapshots.schedule\"]", "unset on every instance"))
            .explain("Nothing in Incus protects these instances on a schedule: a bad upgrade or a deleted file can only be undone from backups made outside Incus, if there are any. Scheduled snapshots (with an expiry) give quick rollbacks; exports or a backup target elsewhere are still needed, as snapshots live in the same pool.")
            .docs_at("howto/instances_backup.md", "schedule-instance-snapshots", "Schedule instance snapshots").docs_about("scheduled snapshots backup instances production")
            .fix("incus profile set default snapshots.schedule=@daily snapshots.expiry=2w   # every instance of the profile")
            .fix("incus export <instance> /backups/<instance>.tar.gz   # and a copy off the cluster"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};

    #[test]
    fn no_schedule_anywhere() {
        table(
            &RULE,
            vec![
                ("no instances", B::cluster(3).build(), vec![]),
                (
                    "instances, no schedule",
                    B::cluster(3)
                        .instance("a", "m1")
                        .instance("b", "m2")
                        .build(),
                    vec![("low", "cluster/local")],
                ),
                (
                    "one scheduled",
                    B::cluster(3)
                        .instance("a", "m1")
                        .instance_with("b", "m2", |i| {
                            i.expanded_config
                                .insert("snapshots.schedule".into(), "@daily".into());
                        })
                        .build(),
                    vec![],
                ),
            ],
        );
    }
}
