//! `security-module-disabled`: AppArmor or SELinux disabled. Reported when it can be fixed
//! (the tools are missing, or it was turned off by hand), or when privileged containers run
//! without it; unprivileged containers are confined by user namespaces anyway.

use super::support::{warning_evidence, warnings_of};
use super::{Check, Context, Finding, Kind, Severity};
use crate::diagnosis::incus::api::InstanceType;

const APPARMOR: &str = "AppArmor support has been disabled";
const SELINUX: &str = "SELinux support has been disabled";

pub const CHECK: Check = Check {
    id: "security-module-disabled",
    run,
    warnings: &[APPARMOR, SELINUX],
};

fn run(ctx: &Context) -> Vec<Finding> {
    let st = ctx.state;
    let privileged: Vec<&str> = st
        .instances
        .iter()
        .filter(|i| {
            i.kind == InstanceType::Container
                && i.expanded_config
                    .get("security.privileged")
                    .is_some_and(|v| v == "true")
        })
        .map(|i| i.name.as_str())
        .collect();
    let mut out = Vec::new();
    for w in warnings_of(st, APPARMOR).chain(warnings_of(st, SELINUX)) {
        let module = if w.kind == APPARMOR {
            "AppArmor"
        } else {
            "SELinux"
        };
        let fixable = w.last_message.contains("couldn't be found")
            || w.last_message.contains("Manually disabled");
        if !fixable && privileged.is_empty() {
            continue;
        }
        let member = if w.location.is_empty() {
            st.remote.clone()
        } else {
            w.location.clone()
        };
        let mut f = Finding::new(
            CHECK.id,
            if privileged.is_empty() { Severity::Low } else { Severity::Moderate },
            Kind::Server,
            &member,
            format!("{module} is disabled on {member}: {}", w.last_message),
        )
        .evidence(warning_evidence(w))
        .explain(format!(
            "Without {module}, Incus cannot add its mandatory access control layer. Unprivileged containers \
             stay isolated by user namespaces, but privileged containers{} lose an important barrier.",
            if privileged.is_empty() { String::new() } else { format!(" ({})", privileged.join(", ")) }
        ))
        .docs_at("explanation/security.md", "container-security", "Container security").docs_about("security apparmor privileged containers");
        f = if w.last_message.contains("couldn't be found") {
            f.fix(format!(
                "ssh {member} 'apt install apparmor && systemctl restart incus'"
            ))
        } else if w.last_message.contains("Manually disabled") {
            f.fix(format!("ssh {member} 'unset INCUS_SECURITY_APPARMOR in the incus service environment; systemctl restart incus'"))
        } else {
            f.fix("incus config set <container> security.privileged=false   # prefer unprivileged containers on this kernel")
        };
        out.push(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};

    use crate::diagnosis::incus::api::InstanceType;

    #[test]
    fn apparmor_off_matters_with_privileged_containers_or_when_fixable() {
        let privileged = |b: B| {
            b.instance_with("p1", "m1", |i| {
                i.kind = InstanceType::Container;
                i.expanded_config
                    .insert("security.privileged".into(), "true".into());
            })
        };
        let kernel = "AppArmor support has been disabled because of lack of kernel support";
        table(
            &CHECK,
            vec![
                (
                    "no kernel support, no privileged containers: harmless",
                    B::cluster(3)
                        .warning(APPARMOR, "m1", "", kernel)
                        .instance("c1", "m1")
                        .build(),
                    vec![],
                ),
                (
                    "no kernel support with a privileged container",
                    privileged(B::cluster(3))
                        .warning(APPARMOR, "m1", "", kernel)
                        .build(),
                    vec![("moderate", "server/m1")],
                ),
                (
                    "the parser is missing: fixable",
                    B::cluster(3)
                        .warning(APPARMOR, "m2", "", "apparmor_parser couldn't be found")
                        .build(),
                    vec![("low", "server/m2")],
                ),
            ],
        );
    }
}
