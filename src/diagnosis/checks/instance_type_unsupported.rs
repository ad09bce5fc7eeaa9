//! `instance-type-unsupported`: an instance driver that does not work on a member, reported
//! only when instances of that type exist (a cluster without VMs does not care about KVM).

use super::support::{warning_evidence, warnings_of};
use super::{Check, Context, Evidence, Finding, Kind, Severity};
use crate::diagnosis::incus::api::InstanceType;

const WARNING: &str = "Instance type not operational";

pub const CHECK: Check = Check {
    id: "instance-type-unsupported",
    run,
    warnings: &[WARNING],
};

/// The instance type a driver warning is about: container (lxc) or virtual-machine (qemu).
fn type_of(message: &str) -> InstanceType {
    let m = message.to_lowercase();
    if m.contains("lxc") || m.contains("container") {
        InstanceType::Container
    } else {
        InstanceType::VirtualMachine
    }
}

fn run(ctx: &Context) -> Vec<Finding> {
    let st = ctx.state;
    let mut out = Vec::new();
    for w in warnings_of(st, WARNING) {
        let kind = type_of(&w.last_message);
        let member = if w.location.is_empty() {
            st.remote.clone()
        } else {
            w.location.clone()
        };
        let affected: Vec<&str> = st
            .instances
            .iter()
            .filter(|i| i.kind == kind && (i.location == member || i.location.is_empty()))
            .map(|i| i.name.as_str())
            .collect();
        let anywhere = st.instances.iter().any(|i| i.kind == kind);
        if !anywhere {
            continue;
        }
        let severity = if affected.is_empty() {
            Severity::Moderate
        } else {
            Severity::High
        };
        let mut f = Finding::new(CHECK.id, severity, Kind::ClusterMember, &member, format!("{kind} instances cannot run on {member}: {}", w.last_message))
            .evidence(warning_evidence(w))
            .explain(format!(
                "The {} driver is not operational on {member}. {}",
                if kind == InstanceType::Container { "LXC" } else { "QEMU/KVM" },
                if affected.is_empty() {
                    format!("No {kind} is located there now, but the cluster has some: they cannot be started or moved there.")
                } else {
                    format!("{} instance(s) located there cannot start: {}.", affected.len(), affected.join(", "))
                }
            ))
            .docs_about(if kind == InstanceType::Container { "requirements LXC kernel" } else { "requirements QEMU virtual machines KVM" });
        f = if kind == InstanceType::Container {
            f.docs_at("requirements.md", "lxc", "LXC")
        } else {
            f.docs_at("requirements.md", "qemu", "QEMU")
        };
        if let Some(s) = &st.server {
            f = f.evidence(Evidence::new(
                "GET /1.0",
                "environment.driver",
                s.environment.driver.clone(),
            ));
        }
        f = if kind == InstanceType::VirtualMachine {
            f.fix(format!("ssh {member} 'ls -l /dev/kvm; modprobe vhost_vsock'   # KVM and vsock must be available"))
                .fix(format!("ssh {member} 'apt install qemu-system'   # QEMU 8.2 or newer, then restart incus"))
        } else {
            f.fix(format!(
                "ssh {member} 'journalctl -u incus -n 50'   # why LXC is not usable"
            ))
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

    const NO_KVM: &str = "QEMU failed to run feature checks: KVM not found";

    #[test]
    fn driver_warnings_matter_only_where_such_instances_exist() {
        let vm =
            |b: B, at: &str| b.instance_with("vm1", at, |i| i.kind = InstanceType::VirtualMachine);
        table(
            &CHECK,
            vec![
                (
                    "no VMs anywhere: harmless",
                    B::cluster(3)
                        .warning(WARNING, "m2", "", NO_KVM)
                        .instance("c1", "m2")
                        .build(),
                    vec![],
                ),
                (
                    "a VM on that member",
                    vm(B::cluster(3), "m2")
                        .warning(WARNING, "m2", "", NO_KVM)
                        .build(),
                    vec![("high", "cluster-member/m2")],
                ),
                (
                    "VMs elsewhere only",
                    vm(B::cluster(3), "m1")
                        .warning(WARNING, "m2", "", NO_KVM)
                        .build(),
                    vec![("moderate", "cluster-member/m2")],
                ),
            ],
        );
    }
}
