//! `dir-storage-pool`: pools on the `dir` driver, "a last resort" (reference/storage_drivers.md):
//! no quotas (without project quotas on the host filesystem), no fast snapshots or copies,
//! slow migrations.

use crate::diagnosis::checks::{Check, Context, Evidence, Finding, Kind, Severity};

pub const RULE: Check = Check {
    id: "dir-storage-pool",
    run,
    warnings: &[],
};

fn run(ctx: &Context) -> Vec<Finding> {
    ctx.state
        .pools
        .iter()
        .filter(|p| p.driver == "dir")
        .map(|p| {
            Finding::new(RULE.id, Severity::Low, Kind::StoragePool, &p.name, format!("Storage pool {} uses the dir driver", p.name))
                .evidence(Evidence::new("GET /1.0/storage-pools?recursion=1", format!("{}.driver", p.name), "dir"))
                .explain("The dir driver copies files: snapshots and copies take as long as the data, disk limits are not enforced without project quotas on the host filesystem, and migrations send every file. ZFS or Btrfs give instant snapshots, quotas and efficient transfers; for a cluster that must survive a member, remote storage (Ceph, LINSTOR) lets instances restart elsewhere.")
                .docs_at("reference/storage_drivers.md", "recommended-setup", "Recommended setup").docs_about("recommended storage driver dir last resort zfs btrfs")
                .fix(format!("incus storage create <new-pool> zfs   # then move instances: incus move <instance> --storage <new-pool>   (from {})", p.name))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};

    #[test]
    fn dir_pools() {
        let zfs = B::cluster(3)
            .with(|st| st.pools[0].driver = "zfs".into())
            .build();
        table(
            &RULE,
            vec![
                ("zfs", zfs, vec![]),
                (
                    "dir",
                    B::cluster(3).build(),
                    vec![("low", "storage-pool/default")],
                ),
            ],
        );
    }
}
