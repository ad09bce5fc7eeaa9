//! `failover-capacity`: N+1. If a member died (or is evacuated), could each of its running
//! instances be placed on the other members? Memory: `limits.memory` (current usage where
//! unset) against each member's `memory.total` minus what its own instances take; CPU the same
//! with `limits.cpu` against its cores, as a lower severity (CPU can be overcommitted, memory
//! cannot). Placement is first-fit, largest first, as an admin would reason about it.

use std::collections::HashMap;

use super::support::{gib, some_names};
use crate::diagnosis::checks::{Check, Context, Evidence, Finding, Kind, Severity};
use crate::diagnosis::cluster::ClusterState;
use crate::diagnosis::incus::api::{Instance, MemberStatus};
use crate::diagnosis::incus::capacity::{parse_cpus, parse_size};

pub const RULE: Check = Check {
    id: "failover-capacity",
    run,
    warnings: &[],
};

/// One resource: its name, what an instance needs of it, what a member has.
struct Resource {
    name: &'static str,
    severity: Severity,
    need: fn(&Instance, u64) -> u64,
    total: fn(&ClusterState, &str) -> u64,
    show: fn(u64) -> String,
}

fn memory_need(i: &Instance, host: u64) -> u64 {
    i.expanded_config
        .get("limits.memory")
        .and_then(|v| parse_size(v, host))
        .or_else(|| i.state.as_ref().map(|s| s.memory.usage))
        .unwrap_or(0)
}

fn cpu_need(i: &Instance, _: u64) -> u64 {
    i.expanded_config
        .get("limits.cpu")
        .and_then(|v| parse_cpus(v))
        .unwrap_or(0)
}

const RESOURCES: [Resource; 2] = [
    Resource {
        name: "memory",
        severity: Severity::High,
        need: memory_need,
        total: |st, m| st.member_resources.get(m).map_or(0, |r| r.memory.total),
        show: gib,
    },
    Resource {
        name: "CPU",
        severity: Severity::Moderate,
        need: cpu_need,
        total: |st, m| st.member_resources.get(m).map_or(0, |r| r.cpu.total),
        show: |n| format!("{n} CPUs"),
    },
];

fn run(ctx: &Context) -> Vec<Finding> {
    let st = ctx.state;
    if !st.clustered() {
        return Vec::new();
    }
    // Members whose hardware is known and that are online: the ones that could take instances.
    let members: Vec<&str> = st
        .members
        .iter()
        .filter(|m| {
            m.status == MemberStatus::Online && st.member_resources.contains_key(&m.server_name)
        })
        .map(|m| m.server_name.as_str())
        .collect();
    if members.len() < 2 {
        return Vec::new();
    }
    // Running instances by member, read once (a review of 1,000 members and 10,000 instances
    // must not walk every instance for every pair of members).
    let mut running: HashMap<&str, Vec<&Instance>> = HashMap::new();
    for i in st.instances.iter().filter(|i| i.status == "Running") {
        running.entry(i.location.as_str()).or_default().push(i);
    }
    let on = |m: &str| running.get(m).map_or(&[][..], Vec::as_slice);
    let mut out = Vec::new();
    for r in &RESOURCES {
        let total: HashMap<&str, u64> = members.iter().map(|&m| (m, (r.total)(st, m))).collect();
        let taken: HashMap<&str, u64> = members
            .iter()
            .map(|&m| (m, on(m).iter().map(|i| (r.need)(i, total[m])).sum()))
            .collect();
        let free = |m: &str| total[m].saturating_sub(taken[m]);
        for &lost in &members {
            let others: Vec<&str> = members.iter().copied().filter(|&m| m != lost).collect();
            let moving: Vec<(&Instance, u64)> = on(lost)
                .iter()
                .map(|&i| (i, (r.need)(i, total[lost])))
                .collect();
            let room: Vec<u64> = others.iter().map(|&m| free(m)).collect();
            let homeless: Vec<String> = first_fit(moving, room)
                .into_iter()
                .map(|(i, need)| format!("{} ({})", i.name, (r.show)(need)))
                .collect();
            if homeless.is_empty() {
                continue;
            }
            let others_free: Vec<String> = others
                .iter()
                .map(|&m| format!("{m} {} free of {}", (r.show)(free(m)), (r.show)(total[m])))
                .collect();
            out.push(
                Finding::new(
                    RULE.id,
                    r.severity,
                    Kind::ClusterMember,
                    lost,
                    format!("If {lost} fails, {} instance(s) fit on no other member ({})", homeless.len(), r.name),
                )
                .evidence(Evidence::new(
                    format!("GET /1.0/resources?target={lost}"),
                    format!("{} total; running instances take", r.name),
                    format!("{} ; {}", (r.show)(total[lost]), (r.show)(taken[lost])),
                ))
                .evidence(Evidence::new("GET /1.0/resources?target=…", "the other members", others_free.join(", ")))
                .evidence(Evidence::new("GET /1.0/instances?recursion=2", "no room for", some_names(&homeless, 8)))
                .explain(format!(
                    "N+1 capacity: when a member dies or is evacuated for maintenance, its instances must start on the others. Counting each instance's limits.{} ({}), the rest of the cluster has no room for these, so they would stay down (or evacuation fails) until {lost} is back. Add capacity, lower the limits, or spread the instances so that any one member's load fits on the rest.",
                    if r.name == "memory" { "memory" } else { "cpu" },
                    if r.name == "memory" { "current usage where unset" } else { "instances without limits.cpu are not counted" },
                ))
                .docs_at("howto/cluster_manage.md", "cluster-evacuate", "Evacuate and restore cluster members").docs_about("evacuate cluster member instances moved to other members placement")
                .fix(format!("incus list --all-projects location={lost} -c nsl   # what would have to move"))
                .fix("incus cluster list   # then add a member, or lower limits.memory / limits.cpu where they are larger than needed"),
            );
        }
    }
    out
}

/// Places each instance (largest first, then by name) on the first member with room for it;
/// returns the instances that fit nowhere, with what they need.
fn first_fit(mut moving: Vec<(&Instance, u64)>, mut room: Vec<u64>) -> Vec<(&Instance, u64)> {
    moving.retain(|(_, need)| *need > 0);
    moving.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.name.cmp(&b.0.name)));
    moving
        .into_iter()
        .filter(|(_, need)| match room.iter_mut().find(|f| **f >= *need) {
            Some(f) => {
                *f -= need;
                false
            }
            None => true,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};
    use crate::diagnosis::incus::capacity::{InstanceUsage, MemoryUsage, Resources};

    const GIB: u64 = 1 << 30;

    /// Three members of 16 GiB and 8 CPUs each.
    fn cluster() -> B {
        B::cluster(3).with(|st| {
            for m in ["m1", "m2", "m3"] {
                let mut r = Resources::default();
                r.memory.total = 16 * GIB;
                r.cpu.total = 8;
                st.member_resources.insert(m.into(), r);
            }
        })
    }

    fn with_limit(b: B, name: &str, member: &str, key: &str, value: &str) -> B {
        let (key, value) = (key.to_string(), value.to_string());
        b.instance_with(name, member, move |i| {
            i.expanded_config.insert(key, value);
        })
    }

    #[test]
    fn each_members_instances_must_fit_on_the_others() {
        // 10 GiB on each member: the 10 GiB of a lost member fits in no 6 GiB left elsewhere.
        let full = || {
            let mut b = cluster();
            for (n, m) in [("a", "m1"), ("b", "m2"), ("c", "m3")] {
                b = with_limit(b, n, m, "limits.memory", "10GiB");
            }
            b
        };
        // 6 GiB each: the lost 6 GiB fits in the 10 GiB left on either other.
        let roomy = || {
            let mut b = cluster();
            for (n, m) in [("a", "m1"), ("b", "m2"), ("c", "m3")] {
                b = with_limit(b, n, m, "limits.memory", "6GiB");
            }
            b
        };
        table(
            &RULE,
            vec![
                ("no instances", cluster().build(), vec![]),
                ("room everywhere", roomy().build(), vec![]),
                (
                    "no room anywhere",
                    full().build(),
                    vec![
                        ("high", "cluster-member/m1"),
                        ("high", "cluster-member/m2"),
                        ("high", "cluster-member/m3"),
                    ],
                ),
                (
                    // Exactly what is left: 8 GiB on m1, 8 GiB free on m2 (16 - 8).
                    "the boundary fits",
                    with_limit(
                        with_limit(cluster(), "a", "m1", "limits.memory", "8GiB"),
                        "b",
                        "m2",
                        "limits.memory",
                        "8GiB",
                    )
                    .build(),
                    vec![],
                ),
                (
                    "usage counts where no limit is set",
                    full()
                        .instance_with("big", "m3", |i| {
                            i.state = Some(InstanceUsage {
                                memory: MemoryUsage { usage: 3 * GIB },
                            });
                        })
                        .with(|st| st.instances.retain(|i| i.name != "a" && i.name != "b"))
                        .build(),
                    // m3 runs c (10 GiB) and big (3 GiB): 13 GiB; m1 and m2 have 16 GiB free each.
                    vec![],
                ),
                (
                    "CPU, lower severity",
                    with_limit(
                        with_limit(
                            with_limit(cluster(), "a", "m1", "limits.cpu", "6"),
                            "b",
                            "m2",
                            "limits.cpu",
                            "6",
                        ),
                        "c",
                        "m3",
                        "limits.cpu",
                        "0-5",
                    )
                    .build(),
                    vec![
                        ("moderate", "cluster-member/m1"),
                        ("moderate", "cluster-member/m2"),
                        ("moderate", "cluster-member/m3"),
                    ],
                ),
                (
                    "stopped instances need nothing",
                    full()
                        .with(|st| {
                            st.instances
                                .iter_mut()
                                .for_each(|i| i.status = "Stopped".into())
                        })
                        .build(),
                    vec![],
                ),
                ("standalone", B::standalone().build(), vec![]),
            ],
        );
    }
}
