//! `snapshots-only-backup`: instances that have snapshots but no backup, and no backups volume
//! configured anywhere: "snapshots ... don't constitute a secure backup" (backup.md), they live
//! in the same pool and go with it. One finding for the installation.

use super::support::{installation, server_config, some_names};
use crate::diagnosis::checks::{Check, Context, Evidence, Finding, Severity};

pub const RULE: Check = Check {
    id: "snapshots-only-backup",
    run,
    warnings: &[],
};

fn run(ctx: &Context) -> Vec<Finding> {
    let st = ctx.state;
    if !server_config(st, "storage.backups_volume")
        .trim()
        .is_empty()
    {
        return Vec::new();
    }
    let only: Vec<String> = st
        .instances
        .iter()
        .filter(|i| i.snapshots.0 > 0 && i.backups.0 == 0)
        .map(|i| format!("{} ({} snapshots)", i.name, i.snapshots.0))
        .collect();
    if only.is_empty() {
        return Vec::new();
    }
    let (kind, name) = installation(st);
    vec![
        Finding::new(RULE.id, Severity::Low, kind, &name, format!("{} instance(s) have snapshots but no backup", only.len()))
            .evidence(Evidence::new("GET /1.0/instances?recursion=2", "snapshots, backups", some_names(&only, 8)))
            .evidence(Evidence::new("GET /1.0", "config[\"storage.backups_volume\"]", "(unset)"))
            .explain("Snapshots share the instance's pool: a failed disk, a destroyed pool or a deleted instance takes them along. A backup is a copy elsewhere: `incus export` to another machine, `incus copy` to another server, or backups on a dedicated volume copied off the host.")
            .docs_at("backup.md", "snapshots", "Snapshots").docs_about("backups snapshots are not a secure backup export instance")
            .fix("incus export <instance> /backups/<instance>.tar.gz --optimized-storage   # then copy it off the cluster")
            .fix("incus copy <instance> <backup-remote>:<instance> --refresh   # or keep a copy on another server"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};
    use crate::diagnosis::incus::capacity::Count;

    fn with(snapshots: usize, backups: usize) -> B {
        B::cluster(3).instance_with("db", "m1", move |i| {
            i.snapshots = Count(snapshots);
            i.backups = Count(backups);
        })
    }

    #[test]
    fn snapshots_without_any_backup() {
        table(
            &RULE,
            vec![
                ("no snapshots", with(0, 0).build(), vec![]),
                (
                    "snapshots only",
                    with(3, 0).build(),
                    vec![("low", "cluster/local")],
                ),
                ("snapshots and a backup", with(3, 1).build(), vec![]),
                (
                    "a backups volume",
                    with(3, 0)
                        .config("storage.backups_volume", "default/backups")
                        .build(),
                    vec![],
                ),
            ],
        );
        let counted: Count = serde_json::from_str(r#"[{"name":"s1"},{"name":"s2"}]"#).unwrap();
        assert_eq!(counted, Count(2));
        assert_eq!(serde_json::from_str::<Count>("null").unwrap(), Count(0));
    }
}
