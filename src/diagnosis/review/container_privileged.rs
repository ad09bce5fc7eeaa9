//! `container-privileged`: containers with `security.privileged=true`. Root in such a
//! container is root on the host: "those aren't root safe" (explanation/security.md).

use super::support::project_flag;
use crate::diagnosis::checks::{Check, Context, Evidence, Finding, Kind, Severity};
use crate::diagnosis::incus::api::InstanceType;

pub const RULE: Check = Check {
    id: "container-privileged",
    run,
    warnings: &[],
};

fn run(ctx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for i in &ctx.state.instances {
        if i.kind != InstanceType::Container
            || i.expanded_config
                .get("security.privileged")
                .map(String::as_str)
                != Some("true")
        {
            continue;
        }
        let p = project_flag(&i.project);
        let own = i.config.contains_key("security.privileged");
        let mut f = Finding::new(
            RULE.id,
            Severity::High,
            Kind::Instance,
            &i.name,
            format!("Container {} is privileged: root in it is root on {}", i.name, i.location),
        )
        .in_project(&i.project)
        .on_member(&i.location)
        .evidence(Evidence::new(
            "GET /1.0/instances?recursion=1",
            format!("{}.expanded_config[\"security.privileged\"]", i.name),
            "true",
        ))
        .explain(
            "A privileged container maps its root user to the host's root: a process that escapes it (a kernel bug, a mounted host path, /proc or /sys tricks) owns the host and every other instance on it. Unprivileged containers map root to an unused host uid range; few workloads need more. Run what truly needs privileges in a virtual machine.",
        )
        .docs_at("explanation/security.md", "container-security", "Container security").docs_about("privileged containers security root safe unprivileged idmap");
        f = if own {
            f.fix(format!(
                "incus config set {}{p} security.privileged=false",
                i.name
            ))
        } else {
            f.fix(format!(
                "incus config show {}{p} --expanded   # the key comes from a profile ({}): unset it there or override it here",
                i.name,
                i.profiles.join(", ")
            ))
            .fix(format!("incus config set {}{p} security.privileged=false", i.name))
        };
        out.push(f.fix(format!(
            "incus restart {}{p}   # takes effect on restart",
            i.name
        )));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};

    fn privileged(value: &str, kind: InstanceType) -> B {
        let value = value.to_string();
        B::cluster(3)
            .instance("web", "m1")
            .instance_with("c1", "m2", move |i| {
                i.kind = kind;
                i.expanded_config
                    .insert("security.privileged".into(), value);
            })
    }

    #[test]
    fn privileged_containers_only() {
        table(
            &RULE,
            vec![
                (
                    "healthy",
                    B::cluster(3).instance("web", "m1").build(),
                    vec![],
                ),
                (
                    "privileged",
                    privileged("true", InstanceType::Container).build(),
                    vec![("high", "instance/c1")],
                ),
                (
                    "explicitly unprivileged",
                    privileged("false", InstanceType::Container).build(),
                    vec![],
                ),
                (
                    "a VM with the key is not a container",
                    privileged("true", InstanceType::VirtualMachine).build(),
                    vec![],
                ),
            ],
        );
    }
}
