//! `cgroup-controller-missing`: a cgroup controller the host lacks, reported only when an
//! instance sets a limit that needs it (otherwise nothing depends on it).

use super::support::{warning_evidence, warnings_of};
use super::{Check, Context, Finding, Kind, Severity};
use crate::diagnosis::incus::api::InstanceType;

/// (warning type, configuration keys whose limit the controller enforces).
const CONTROLLERS: &[(&str, &[&str])] = &[
    (
        "Couldn't find the CGroup blkio",
        &[
            "limits.disk.priority",
            "limits.read",
            "limits.write",
            "limits.max",
        ],
    ),
    (
        "Couldn't find the CGroup blkio.weight",
        &["limits.disk.priority"],
    ),
    (
        "Couldn't find the CGroup CPU controller",
        &["limits.cpu.allowance", "limits.cpu.priority"],
    ),
    (
        "Couldn't find the CGroup CPUset controller",
        &["limits.cpu"],
    ),
    (
        "Couldn't find the CGroup CPUacct controller",
        &["limits.cpu"],
    ),
    (
        "Couldn't find the CGroup hugetlb controller",
        &["limits.hugepages."],
    ),
    (
        "Couldn't find the CGroup memory controller",
        &["limits.memory"],
    ),
    (
        "Couldn't find the CGroup memory swap accounting",
        &["limits.memory.swap"],
    ),
    (
        "Couldn't find the CGroup pids controller",
        &["limits.processes"],
    ),
    ("Couldn't find the CGroup devices controller", &[""]),
    ("Couldn't find the CGroup freezer controller", &[""]),
];

pub const CHECK: Check = Check {
    id: "cgroup-controller-missing",
    run,
    warnings: &[
        "Couldn't find the CGroup blkio",
        "Couldn't find the CGroup blkio.weight",
        "Couldn't find the CGroup CPU controller",
        "Couldn't find the CGroup CPUset controller",
        "Couldn't find the CGroup CPUacct controller",
        "Couldn't find the CGroup hugetlb controller",
        "Couldn't find the CGroup memory controller",
        "Couldn't find the CGroup memory swap accounting",
        "Couldn't find the CGroup pids controller",
        "Couldn't find the CGroup devices controller",
        "Couldn't find the CGroup freezer controller",
    ],
};

fn run(ctx: &Context) -> Vec<Finding> {
    let st = ctx.state;
    let mut out = Vec::new();
    for (kind, keys) in CONTROLLERS {
        for w in warnings_of(st, kind) {
            let member = if w.location.is_empty() {
                st.remote.clone()
            } else {
                w.location.clone()
            };
            // Containers on that member that set a limit the controller enforces ("" = any container).
            let users: Vec<String> = st
                .instances
                .iter()
                .filter(|i| {
                    i.kind == InstanceType::Container
                        && (i.location == member || i.location.is_empty())
                })
                .filter_map(|i| {
                    let key = i
                        .expanded_config
                        .keys()
                        .find(|k| keys.iter().any(|p| k.starts_with(p)))?;
                    Some(format!("{} ({key})", i.name))
                })
                .collect();
            if users.is_empty() {
                continue;
            }
            out.push(
                Finding::new(CHECK.id, Severity::Moderate, Kind::Server, &member, format!("{kind} on {member}; limits set on its instances are not enforced"))
                    .evidence(warning_evidence(w))
                    .explain(format!(
                        "The kernel or init system on {member} does not provide this cgroup controller, so Incus \
                         silently ignores limits that need it. Affected: {}.",
                        users.join(", ")
                    ))
                    .docs_at("requirements.md", "kernel-requirements", "Kernel requirements").docs_about("requirements kernel cgroup controllers limits")
                    .fix(format!("ssh {member} 'cat /sys/fs/cgroup/cgroup.controllers'   # which controllers are delegated"))
                    .fix("enable the controller (kernel option or systemd delegation), then restart incus"),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};

    #[test]
    fn a_missing_controller_matters_when_a_limit_needs_it() {
        let mem = "Couldn't find the CGroup memory controller";
        table(
            &CHECK,
            vec![
                (
                    "no limits set: harmless",
                    B::cluster(3)
                        .warning(mem, "m1", "", "x")
                        .instance("c1", "m1")
                        .build(),
                    vec![],
                ),
                (
                    "a memory limit on that member",
                    B::cluster(3)
                        .warning(mem, "m1", "", "x")
                        .instance_with("c1", "m1", |i| {
                            i.expanded_config
                                .insert("limits.memory".into(), "1GiB".into());
                        })
                        .build(),
                    vec![("moderate", "server/m1")],
                ),
                (
                    "a memory limit elsewhere",
                    B::cluster(3)
                        .warning(mem, "m1", "", "x")
                        .instance_with("c1", "m2", |i| {
                            i.expanded_config
                                .insert("limits.memory".into(), "1GiB".into());
                        })
                        .build(),
                    vec![],
                ),
            ],
        );
    }
}
