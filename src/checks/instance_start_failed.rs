//! `instance-start-failed`: recent failed start operations, with the log lines that say why.
//! Incus keeps finished operations for a few seconds only, so this sees starts that just
//! failed; the agent can read an instance's log later.

use super::{Check, Context, Evidence, Finding, Kind, Severity};
use crate::cluster::instance_of_url;

pub const CHECK: Check = Check {
    id: "instance-start-failed",
    run,
    warnings: &[],
};

/// The lines of an instance log that say why a start failed.
pub fn error_lines(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains(" ERROR ") || l.contains("Error:") || l.contains("error:"))
        .map(crate::document::collapse_ws)
        .collect()
}

fn run(ctx: &Context) -> Vec<Finding> {
    let st = ctx.state;
    let mut out = Vec::new();
    for op in st.operations.iter().filter(|o| o.status == "Failure") {
        let starting =
            op.description.starts_with("Starting") || op.description.starts_with("Restarting");
        if !starting {
            continue;
        }
        for url in op.resources.get("instances").into_iter().flatten() {
            let Some((project, name)) = instance_of_url(url) else {
                continue;
            };
            let mut f = Finding::new(
                CHECK.id,
                Severity::High,
                Kind::Instance,
                &name,
                format!("Instance {name} failed to start"),
            )
            .in_project(&project)
            .evidence(Evidence::new(
                format!("GET /1.0/operations/{}", op.id),
                "err",
                op.err.clone(),
            ));
            let lines = st
                .instance_logs
                .get(&(project.clone(), name.clone()))
                .map(|l| error_lines(l))
                .unwrap_or_default();
            for l in lines.iter().rev().take(4).rev() {
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
                .docs_about("troubleshoot instances fail to start show log")
                .fix(format!("incus info {name} --show-log --project {project}"))
                .fix(format!("incus config show {name} --expanded --project {project}   # raw.lxc, limits, devices"))
                .fix(format!("incus start {name} --project {project}   # after fixing the cause"));
            out.push(f);
        }
    }
    out
}
