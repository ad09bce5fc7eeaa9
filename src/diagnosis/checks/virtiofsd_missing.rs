//! `virtiofsd-missing`: VMs whose shared folders fall back to 9p.

use super::support::{warning_evidence, warning_subject, warnings_of};
use super::{Check, Context, Finding, Kind, Severity};

const WARNING: &str = "Missing virtiofsd";

pub const CHECK: Check = Check {
    id: "virtiofsd-missing",
    run,
    warnings: &[WARNING],
};

fn run(ctx: &Context) -> Vec<Finding> {
    warnings_of(ctx.state, WARNING)
        .map(|w| {
            let (kind, name, project) = warning_subject(w);
            let mut f = Finding::new(CHECK.id, Severity::Moderate, kind, &name, format!("virtiofsd is missing on {}: VM shares use 9p", w.location))
                .on_member(&w.location)
                .evidence(warning_evidence(w))
                .explain("Disk devices that share a host path with a VM need virtiofsd for good performance and correct semantics; without it Incus falls back to the slower 9p protocol.")
                .docs_at("requirements.md", "qemu", "QEMU").docs_about("requirements QEMU virtiofsd disk device")
                .fix(format!("ssh {} 'apt install virtiofsd && systemctl restart incus'", w.location));
            if kind == Kind::Instance {
                f = f.in_project(project.as_deref().unwrap_or("default"));
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
    fn missing_virtiofsd() {
        table(
            &CHECK,
            vec![
                ("healthy", B::cluster(3).build(), vec![]),
                (
                    "missing on m2",
                    B::cluster(3)
                        .warning(WARNING, "m2", "", "virtiofsd not found")
                        .build(),
                    vec![("moderate", "server/m2")],
                ),
                (
                    "resolved",
                    B::cluster(3)
                        .warning(WARNING, "m2", "", "x")
                        .resolve_warnings()
                        .build(),
                    vec![],
                ),
            ],
        );
    }
}
