//! `snapshots-without-expiry`: instances and custom volumes that take scheduled snapshots but
//! never expire them, so snapshots pile up until the pool is full (howto/instances_backup.md:
//! "consider setting an automatic expiry").

use super::support::project_flag;
use crate::diagnosis::checks::{Check, Context, Evidence, Finding, Kind, Severity};

pub const RULE: Check = Check {
    id: "snapshots-without-expiry",
    run,
    warnings: &[],
};

const WHY: &str = "Scheduled snapshots without snapshots.expiry are never deleted: each one keeps the blocks that changed since, so the pool fills a little more every day until writes fail for every instance on it. Set an expiry that matches how far back you need to go (e.g. 2w), and keep real backups elsewhere: snapshots live in the same pool.";

fn run(ctx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    let unset = |v: Option<&String>| v.is_none_or(|v| v.trim().is_empty());
    for i in &ctx.state.instances {
        let schedule = i.expanded_config.get("snapshots.schedule");
        if unset(schedule) || !unset(i.expanded_config.get("snapshots.expiry")) {
            continue;
        }
        let p = project_flag(&i.project);
        out.push(
            Finding::new(
                RULE.id,
                Severity::Moderate,
                Kind::Instance,
                &i.name,
                format!(
                    "Instance {} takes scheduled snapshots that never expire",
                    i.name
                ),
            )
            .in_project(&i.project)
            .on_member(&i.location)
            .evidence(Evidence::new(
                "GET /1.0/instances?recursion=1",
                format!("{}.expanded_config[\"snapshots.schedule\"]", i.name),
                schedule.cloned().unwrap_or_default(),
            ))
            .evidence(Evidence::new(
                "GET /1.0/instances?recursion=1",
                format!("{}.expanded_config[\"snapshots.expiry\"]", i.name),
                "(unset)",
            ))
            .explain(WHY)
            .docs_at(
                "howto/instances_backup.md",
                "schedule-instance-snapshots",
                "Schedule instance snapshots",
            )
            .docs_about("scheduled snapshots automatic expiry snapshots.expiry instance")
            .fix(format!(
                "incus config set {}{p} snapshots.expiry=2w",
                i.name
            ))
            .fix(format!(
                "incus snapshot list {}{p}   # and delete the ones no longer needed",
                i.name
            )),
        );
    }
    for (pool, volumes) in &ctx.state.volumes {
        for v in volumes {
            let schedule = v.config.get("snapshots.schedule");
            if unset(schedule) || !unset(v.config.get("snapshots.expiry")) {
                continue;
            }
            let p = project_flag(&v.project);
            let target = if v.location.is_empty() {
                String::new()
            } else {
                format!(" --target {}", v.location)
            };
            let name = format!("{pool}/{}", v.name);
            out.push(
                Finding::new(
                    RULE.id,
                    Severity::Moderate,
                    Kind::StorageVolume,
                    &name,
                    format!(
                        "Volume {} in pool {pool} takes scheduled snapshots that never expire",
                        v.name
                    ),
                )
                .in_project(if v.project.is_empty() {
                    "default"
                } else {
                    &v.project
                })
                .on_member(&v.location)
                .evidence(Evidence::new(
                    format!("GET /1.0/storage-pools/{pool}/volumes?recursion=1"),
                    format!("{}.config[\"snapshots.schedule\"]", v.name),
                    schedule.cloned().unwrap_or_default(),
                ))
                .explain(WHY)
                .docs_at(
                    "howto/storage_backup_volume.md",
                    "schedule-snapshots-of-a-custom-storage-volume",
                    "Schedule snapshots of a custom storage volume",
                )
                .docs_about("custom storage volume snapshots schedule expiry")
                .fix(format!(
                    "incus storage volume set {pool} {}{p}{target} snapshots.expiry=2w",
                    v.name
                )),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};
    use crate::diagnosis::incus::capacity::StorageVolume;

    fn scheduled(expiry: Option<&str>) -> B {
        let expiry = expiry.map(str::to_string);
        B::cluster(3).instance_with("db", "m1", move |i| {
            i.expanded_config
                .insert("snapshots.schedule".into(), "@daily".into());
            if let Some(e) = expiry {
                i.expanded_config.insert("snapshots.expiry".into(), e);
            }
        })
    }

    fn volume(expiry: Option<&str>) -> B {
        let mut v = StorageVolume {
            name: "data".into(),
            kind: "custom".into(),
            project: "default".into(),
            location: "m2".into(),
            ..StorageVolume::default()
        };
        v.config
            .insert("snapshots.schedule".into(), "0 6 * * *".into());
        if let Some(e) = expiry {
            v.config.insert("snapshots.expiry".into(), e.into());
        }
        B::cluster(3).with(|st| {
            st.volumes.insert("default".into(), vec![v]);
        })
    }

    #[test]
    fn schedules_without_expiry() {
        table(
            &RULE,
            vec![
                (
                    "no schedule",
                    B::cluster(3).instance("db", "m1").build(),
                    vec![],
                ),
                (
                    "schedule, no expiry",
                    scheduled(None).build(),
                    vec![("moderate", "instance/db")],
                ),
                (
                    "schedule, empty expiry",
                    scheduled(Some(" ")).build(),
                    vec![("moderate", "instance/db")],
                ),
                (
                    "schedule with expiry",
                    scheduled(Some("2w")).build(),
                    vec![],
                ),
                (
                    "volume, no expiry",
                    volume(None).build(),
                    vec![("moderate", "storage-volume/default/data")],
                ),
                ("volume with expiry", volume(Some("7d")).build(), vec![]),
            ],
        );
    }
}
