//! `incus-warning`: any unresolved warning that no other check accounts for.

use super::support::{warning_evidence, warning_subject};
use super::{Check, Context, Finding, Severity, claimed_warning};

pub const CHECK: Check = Check {
    id: "incus-warning",
    run,
    warnings: &[],
};

fn run(ctx: &Context) -> Vec<Finding> {
    ctx.state
        .active_warnings()
        .filter(|w| !claimed_warning(&w.kind))
        .map(|w| {
            let (kind, name, project) = warning_subject(w);
            let mut f = Finding::new(
                CHECK.id,
                Severity::from_incus(&w.severity),
                kind,
                &name,
                format!("{}: {}", w.kind, w.last_message),
            )
            .on_member(&w.location)
            .evidence(warning_evidence(w))
            .explain(format!(
                "Incus raised this {} warning{} and it is not resolved.",
                w.severity,
                if w.location.is_empty() {
                    String::new()
                } else {
                    format!(" on {}", w.location)
                }
            ))
            .docs_about(&w.kind)
            .fix(format!("incus warning show {}", w.uuid))
            .fix(format!(
                "incus warning ack {}   # once handled, to keep the list meaningful",
                w.uuid
            ));
            if let Some(p) = project {
                f = f.in_project(&p);
            }
            f
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};

    #[test]
    fn warnings_no_other_check_accounts_for() {
        table(
            &CHECK,
            vec![
                ("healthy", B::cluster(3).build(), vec![]),
                (
                    "an unknown warning",
                    B::cluster(3)
                        .warning("Something new", "m2", "", "details")
                        .build(),
                    vec![("moderate", "server/m2")],
                ),
                (
                    "claimed by another check",
                    B::cluster(3)
                        .warning("Offline cluster member", "m1", "", "x")
                        .build(),
                    vec![],
                ),
                (
                    "resolved",
                    B::cluster(3)
                        .warning("Something new", "m2", "", "x")
                        .resolve_warnings()
                        .build(),
                    vec![],
                ),
            ],
        );
    }
}
