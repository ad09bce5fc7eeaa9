//! `instance-start-failed`: recent failed start operations, with the log lines that say why.
//! Incus keeps finished operations for a few seconds only, so this sees starts that just
//! failed; the agent can read an instance's log later.

use super::{Check, Context, Evidence, Finding, Kind, Severity};
use crate::diagnosis::cluster::instance_of_url;
use crate::diagnosis::incus::api::OperationStatus;

pub const CHECK: Check = Check {
    id: "instance-start-failed",
    run,
    warnings: &[],
};

/// The lines of an instance log that say why a start failed.
pub fn error_lines(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains(" ERROR ") || l.contains("Error:") || l.contains("error:"))
        .map(crate::util::text::collapse_ws)
        .collect()
}

fn run(ctx: &Context) -> Vec<Finding> {
    let st = ctx.state;
    let mut out: Vec<Finding> = Vec::new();
    let mut failures: Vec<&crate::diagnosis::incus::api::Operation> = st
        .operations
        .iter()
        .filter(|o| o.status == OperationStatus::Failure)
        .collect();
    // Newest first, one finding per instance.
    failures.sort_by(|a, b| b.created_at.cmp(&a.created_at));
    let mut seen: std::collections::BTreeSet<(String, String)> = std::collections::BTreeSet::new();
    for op in failures {
        let starting =
            op.description.starts_with("Starting") || op.description.starts_with("Restarting");
        if !starting {
            continue;
        }
        for url in op.resources.get("instances").into_iter().flatten() {
            let Some((project, name)) = instance_of_url(url) else {
                continue;
            };
            if !seen.insert((project.clone(), name.clone())) {
                continue;
            }
            let mut f = Finding::new(
                CHECK.id,
                Severity::High,
                Kind::Instance,
                &name,
                format!("Instance {name} failed to start"),
            )
            .on_member(&op.location)
            .in_project(&project)
            .evidence(Evidence::new(
                format!("GET /1.0/operations/{}", op.id),
                "err",
                op.err.clone(),
            ));
            let lines = st
                .instance_logs
                .get(&crate::diagnosis::cluster::InstanceRef {
                    project: project.clone(),
                    name: name.clone(),
                })
                .map(|l| error_lines(l))
                .unwrap_or_default();
            // In an LXC log the first errors are the cause, the later ones its fallout.
            for l in lines.iter().take(4) {
                f = f.evidence(Evidence::new(
                    format!("GET /1.0/instances/{name}/logs/lxc.log"),
                    "ERROR",
                    l.clone(),
                ));
            }
            let hint = lines
                .iter()
                .find(|l| {
                    l.contains("Failed to exec")
                        || l.contains("No such file")
                        || l.contains("Permission denied")
                        || l.contains("apparmor")
                        || l.contains("cgroup")
                })
                .cloned();
            f = f
                .explain(format!(
                    "Starting {name}{} failed: {}{}",
                    if op.location.is_empty() { String::new() } else { format!(" on {}", op.location) },
                    op.err,
                    hint.map(|h| format!(". The instance log says: {h}")).unwrap_or_default()
                ))
                .docs_at("howto/instances_troubleshoot.md", "", "How to troubleshoot failing instances").docs_about("troubleshoot instances fail to start show log")
                .fix(format!("incus info {name} --show-log --project {project}"))
                .fix(format!("incus config show {name} --expanded --project {project}   # raw.lxc, limits, devices"))
                .fix(format!("incus start {name} --project {project}   # after fixing the cause"));
            out.push(f);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};

    use crate::diagnosis::incus::api::OperationStatus;

    #[test]
    fn failed_starts_from_the_operations() {
        let failed = |desc: &str| {
            B::cluster(3)
                .instance_with("web1", "m2", |i| i.status = "Stopped".into())
                .operation(OperationStatus::Failure, desc, |o| {
                    o.err = "Failed to run: exec /nonexistent/init".into();
                    o.resources
                        .insert("instances".into(), vec!["/1.0/instances/web1".into()]);
                })
                .build()
        };
        table(
            &CHECK,
            vec![
                (
                    "healthy",
                    B::cluster(3).instance("web1", "m2").build(),
                    vec![],
                ),
                (
                    "a start that failed",
                    failed("Starting instance"),
                    vec![("high", "instance/web1")],
                ),
                (
                    "a restart that failed",
                    failed("Restarting instance"),
                    vec![("high", "instance/web1")],
                ),
                (
                    "another failed task is operation-failed's",
                    failed("Creating snapshot"),
                    vec![],
                ),
            ],
        );
    }
}
