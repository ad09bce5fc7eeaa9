//! `healing-without-shared-storage`: `cluster.healing_threshold` > 0 while instances sit on
//! local storage or use local devices. Healing only moves instances on shared storage, and
//! without fencing a member that is only unreachable keeps running its instances while they
//! start elsewhere: "risk of data corruption" (howto/cluster_manage.md).

use super::support::{LOCAL_DRIVERS, pool_driver, root_pool, server_config, some_names};
use crate::diagnosis::checks::{Check, Context, Evidence, Finding, Kind, Severity};
use crate::diagnosis::incus::api::Instance;

pub const RULE: Check = Check {
    id: "healing-without-shared-storage",
    run,
    warnings: &[],
};

/// Device types bound to one host.
const LOCAL_DEVICES: &[&str] = &[
    "unix-char",
    "unix-block",
    "unix-hotplug",
    "usb",
    "gpu",
    "pci",
];

/// Why healing cannot move `i`, if it cannot.
fn stuck(ctx: &Context, i: &Instance) -> Option<String> {
    if let Some(pool) = root_pool(i)
        && let Some(driver) = pool_driver(ctx.state, pool)
        && LOCAL_DRIVERS.contains(&driver)
    {
        return Some(format!("{} (root on {driver} pool {pool})", i.name));
    }
    i.expanded_devices.iter().find_map(|(name, d)| {
        let kind = d.get("type").map_or("", String::as_str);
        let host_disk = kind == "disk" && d.get("source").is_some_and(|s| s.starts_with('/'));
        (LOCAL_DEVICES.contains(&kind) || host_disk)
            .then(|| format!("{} (local {kind} device {name})", i.name))
    })
}

fn run(ctx: &Context) -> Vec<Finding> {
    let st = ctx.state;
    let value = server_config(st, "cluster.healing_threshold").trim();
    let threshold: u64 = value.parse().unwrap_or(0);
    if !st.clustered() || threshold == 0 {
        return Vec::new();
    }
    let stuck: Vec<String> = st.instances.iter().filter_map(|i| stuck(ctx, i)).collect();
    if stuck.is_empty() {
        return Vec::new();
    }
    vec![
        Finding::new(
            RULE.id,
            Severity::High,
            Kind::Cluster,
            &st.remote,
            format!("Healing is on (after {threshold} s) but {} instance(s) cannot be moved by it", stuck.len()),
        )
        .evidence(Evidence::new("GET /1.0", "config[\"cluster.healing_threshold\"]", value))
        .evidence(Evidence::new("GET /1.0/instances?recursion=1", "instances on local storage or with local devices", some_names(&stuck, 8)))
        .explain(
            "Healing only applies to instances on shared storage (Ceph, LINSTOR, clustered LVM...): instances on a member's own disks cannot start elsewhere, so healing does not help them, and a member that is only cut off (not dead) keeps writing while Incus believes it gone. Without fencing (BMC or PDU cutting its power) that risks data corruption. Either move those instances to shared storage and add fencing, or turn healing off and evacuate by hand.",
        )
        .docs_at("howto/cluster_manage.md", "cluster-automatic-evacuation", "Cluster healing").docs_about("automatic evacuation healing threshold shared storage data corruption")
        .fix("incus config set cluster.healing_threshold=0   # turn healing off until storage is shared and members are fenced")
        .fix("incus storage list   # a remote driver (ceph, linstor, lvmcluster) is what healing needs"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};

    fn on_pool(b: B, name: &str, pool: &str) -> B {
        let pool = pool.to_string();
        b.instance_with(name, "m1", move |i| {
            let mut root = std::collections::BTreeMap::new();
            root.insert("type".to_string(), "disk".to_string());
            root.insert("path".to_string(), "/".to_string());
            root.insert("pool".to_string(), pool);
            i.expanded_devices.insert("root".into(), root);
        })
    }

    fn ceph(b: B) -> B {
        b.with(|st| {
            st.pools.push(crate::diagnosis::incus::api::StoragePool {
                name: "remote".into(),
                driver: "ceph".into(),
                ..Default::default()
            })
        })
    }

    #[test]
    fn healing_over_local_storage() {
        let healing = || B::cluster(3).config("cluster.healing_threshold", "30");
        table(
            &RULE,
            vec![
                (
                    "healing off, dir pool",
                    on_pool(B::cluster(3), "c1", "default").build(),
                    vec![],
                ),
                (
                    "healing on, dir pool",
                    on_pool(healing(), "c1", "default").build(),
                    vec![("high", "cluster/local")],
                ),
                (
                    "healing on, ceph",
                    on_pool(ceph(healing()), "c1", "remote").build(),
                    vec![],
                ),
                (
                    "healing on, ceph but a GPU",
                    on_pool(ceph(healing()), "c1", "remote")
                        .with(|st| {
                            let mut gpu = std::collections::BTreeMap::new();
                            gpu.insert("type".to_string(), "gpu".to_string());
                            st.instances[0].expanded_devices.insert("gpu0".into(), gpu);
                        })
                        .build(),
                    vec![("high", "cluster/local")],
                ),
                (
                    "healing 0",
                    on_pool(
                        B::cluster(3).config("cluster.healing_threshold", "0"),
                        "c1",
                        "default",
                    )
                    .build(),
                    vec![],
                ),
            ],
        );
    }
}
