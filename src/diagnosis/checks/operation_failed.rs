//! `operation-failed`: recently failed background tasks (failed starts are `instance-start-failed`).

use super::{Check, Context, Evidence, Finding, Kind, Severity};
use crate::diagnosis::incus::api::OperationStatus;

pub const CHECK: Check = Check {
    id: "operation-failed",
    run,
    warnings: &[],
};

fn run(ctx: &Context) -> Vec<Finding> {
    ctx.state
        .operations
        .iter()
        .filter(|o| o.status == OperationStatus::Failure && !o.description.starts_with("Starting") && !o.description.starts_with("Restarting"))
        .map(|o| {
            let on: Vec<&str> = o.resources.values().flatten().map(String::as_str).take(3).collect();
            Finding::new(CHECK.id, Severity::Moderate, Kind::Operation, &o.id, format!("\"{}\" failed: {}", o.description, o.err))
                .on_member(&o.location)
                .evidence(Evidence::new(format!("GET /1.0/operations/{}", o.id), "err", o.err.clone()))
                .explain(format!(
                    "The task failed{}{}. Incus keeps finished operations for a few seconds only; the daemon log has the details.",
                    if o.location.is_empty() { String::new() } else { format!(" on {}", o.location) },
                    if on.is_empty() { String::new() } else { format!(" for {}", on.join(", ")) }
                ))
                .docs_at("faq.md", "faq-monitor", "How can I monitor what Incus is doing?").docs_about("monitor what Incus is doing debug")
                .fix("incus monitor --pretty --type=logging")
                .fix("journalctl -u incus -n 100")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};

    use crate::diagnosis::incus::api::OperationStatus;

    #[test]
    fn failed_tasks_other_than_starts() {
        table(
            &CHECK,
            vec![
                (
                    "healthy",
                    B::cluster(3)
                        .operation(OperationStatus::Success, "Creating snapshot", |_| {})
                        .build(),
                    vec![],
                ),
                (
                    "failed",
                    B::cluster(3)
                        .operation(OperationStatus::Failure, "Creating snapshot", |o| {
                            o.err = "no space".into()
                        })
                        .build(),
                    vec![("moderate", "operation/op0")],
                ),
                (
                    "a failed start is instance-start-failed's",
                    B::cluster(3)
                        .operation(OperationStatus::Failure, "Starting instance", |_| {})
                        .build(),
                    vec![],
                ),
            ],
        );
    }
}
