//! `instance-autostart-failed`: instances Incus gave up starting at boot.

use super::support::{warning_evidence, warning_subject, warnings_of};
use super::{Check, Context, Finding, Kind, Severity};

const WARNING: &str = "Failed to autostart instance";

pub const CHECK: Check = Check {
    id: "instance-autostart-failed",
    run,
    warnings: &[WARNING],
};

fn run(ctx: &Context) -> Vec<Finding> {
    warnings_of(ctx.state, WARNING)
        .map(|w| {
            let (_, name, project) = warning_subject(w);
            let project = project.unwrap_or_else(|| "default".into());
            Finding::new(CHECK.id, Severity::High, Kind::Instance, &name, format!("Instance {name} did not start automatically on {}", w.location))
                .on_member(&w.location)
                .in_project(&project)
                .evidence(warning_evidence(w))
                .explain(format!(
                    "{name} has boot.autostart set but Incus gave up starting it after three attempts: {}. \
                     The cause is usually a storage pool or network that was not available at boot, or a \
                     missing driver. The warning is resolved by the next successful start.",
                    w.last_message
                ))
                .docs_at("howto/instances_troubleshoot.md", "", "How to troubleshoot failing instances").docs_about("boot.autostart instance start daemon")
                .fix(format!("incus info {name} --show-log --project {project}"))
                .fix(format!("incus start {name} --project {project}   # once the cause is fixed"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};

    #[test]
    fn instances_that_did_not_autostart() {
        table(
            &CHECK,
            vec![
                (
                    "healthy",
                    B::cluster(3).instance("c1", "m1").build(),
                    vec![],
                ),
                (
                    "failed",
                    B::cluster(3)
                        .warning(
                            WARNING,
                            "m2",
                            "/1.0/instances/c1?project=dev",
                            "pool unavailable",
                        )
                        .build(),
                    vec![("high", "instance/c1")],
                ),
                (
                    "resolved by a later start",
                    B::cluster(3)
                        .warning(WARNING, "m2", "/1.0/instances/c1", "x")
                        .resolve_warnings()
                        .build(),
                    vec![],
                ),
            ],
        );
    }
}
