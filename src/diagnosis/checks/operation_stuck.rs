//! `operation-stuck`: background tasks running for longer than they should.

use super::support::{human_duration, parse_time};
use super::{Check, Context, Evidence, Finding, Kind, Severity};
use crate::diagnosis::incus::api::OperationStatus;

pub const CHECK: Check = Check {
    id: "operation-stuck",
    run,
    warnings: &[],
};

fn run(ctx: &Context) -> Vec<Finding> {
    ctx.state
        .operations
        .iter()
        .filter(|o| o.status == OperationStatus::Running && o.class == "task")
        .filter_map(|o| {
            let age = ctx.now - parse_time(&o.created_at)?;
            (age >= ctx.settings.operation_stuck_secs).then_some((o, age))
        })
        .map(|(o, age)| {
            let mut f = Finding::new(CHECK.id, Severity::Moderate, Kind::Operation, &o.id, format!("\"{}\" has been running for {}{}", o.description, human_duration(age), if o.location.is_empty() { String::new() } else { format!(" on {}", o.location) }))
                .on_member(&o.location)
                .evidence(Evidence::new("GET /1.0/operations", format!("{}.created_at", o.id), o.created_at.clone()))
                .explain("Long image downloads and migrations are normal, but a task that makes no progress usually waits on storage, the network or an unreachable member. The daemon log and `incus monitor` show what it is doing.")
                .docs_at("faq.md", "faq-monitor", "How can I monitor what Incus is doing?").docs_about("monitor what Incus is doing debug")
                .fix(format!("incus operation show {}", o.id))
                .fix("incus monitor --pretty --type=logging   # what the daemon is doing now");
            if o.may_cancel {
                f = f.fix(format!("incus operation delete {}   # cancel it", o.id));
            }
            f
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};

    use crate::diagnosis::incus::api::OperationStatus;

    #[test]
    fn tasks_running_for_ten_minutes() {
        let at = |created: &str| {
            B::cluster(3)
                .operation(OperationStatus::Running, "Downloading image", |o| {
                    o.created_at = created.into()
                })
                .build()
        };
        table(
            &CHECK,
            vec![
                ("one minute", at("2026-11-26T06:59:00Z"), vec![]),
                ("just under ten minutes", at("2026-11-26T06:50:01Z"), vec![]),
                (
                    "ten minutes",
                    at("2026-11-26T06:50:00Z"),
                    vec![("moderate", "operation/op0")],
                ),
                (
                    "a finished one",
                    B::cluster(3)
                        .operation(OperationStatus::Success, "x", |o| {
                            o.created_at = "2026-11-26T01:00:00Z".into()
                        })
                        .build(),
                    vec![],
                ),
                (
                    "a websocket is not a task",
                    B::cluster(3)
                        .operation(OperationStatus::Running, "exec", |o| {
                            o.class = "websocket".into();
                            o.created_at = "2026-11-26T01:00:00Z".into();
                        })
                        .build(),
                    vec![],
                ),
            ],
        );
    }
}
