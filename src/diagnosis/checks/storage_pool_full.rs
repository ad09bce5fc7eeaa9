//! `storage-pool-full`: pools whose used space or inodes reach the threshold on a member.

use super::{Check, Context, Evidence, Finding, Kind, Severity};

pub const CHECK: Check = Check {
    id: "storage-pool-full",
    run,
    warnings: &[],
};

fn percent(used: u64, total: u64) -> Option<f64> {
    (total > 0).then(|| used as f64 * 100.0 / total as f64)
}

fn gib(b: u64) -> String {
    format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64)
}

fn run(ctx: &Context) -> Vec<Finding> {
    let st = ctx.state;
    let limit = ctx.settings.pool_full_percent;
    let mut out = Vec::new();
    for (member, state) in &st.member_states {
        for (pool, usage) in &state.storage_pools {
            let space = percent(usage.space.used, usage.space.total);
            let inodes = percent(usage.inodes.used, usage.inodes.total);
            let worst = space.unwrap_or(0.0).max(inodes.unwrap_or(0.0));
            if worst < limit {
                continue;
            }
            let what = if space.unwrap_or(0.0) >= inodes.unwrap_or(0.0) {
                "space"
            } else {
                "inodes"
            };
            let driver = st
                .pools
                .iter()
                .find(|p| p.name == *pool)
                .map(|p| p.driver.as_str())
                .unwrap_or("");
            // Loop-backed pools have a `size`; only those grow with `incus storage set`.
            let loop_backed = st
                .pools
                .iter()
                .find(|p| p.name == *pool)
                .is_some_and(|p| p.config.contains_key("size"));
            let mut f = Finding::new(
                CHECK.id,
                if worst >= 98.0 { Severity::Critical } else { Severity::High },
                Kind::StoragePool,
                pool,
                format!("Storage pool {pool} on {member} is {worst:.0}% full ({what})"),
            )
            .on_member(member)
            .evidence(Evidence::new(
                format!("GET /1.0/cluster/members/{member}/state"),
                format!("storage_pools.{pool}.space"),
                format!("{} of {} used ({:.1}%)", gib(usage.space.used), gib(usage.space.total), space.unwrap_or(0.0)),
            ))
            .explain(format!(
                "A full pool makes instance creation stall, snapshots and image downloads fail and \
                 running instances error on write (\"no space left on device\"). The threshold is {limit:.0}%."
            ))
            .docs_at("howto/storage_pools.md", "storage-resize-pool", "Resize a storage pool").docs_about("resize a storage pool full")
            .fix(format!("incus storage info {pool} --target {member}"))
            .fix("incus image list   # delete cached images that are not needed")
            .fix("incus snapshot list <instance>   # prune old snapshots, or set snapshots.expiry");
            if usage.inodes.total > 0 {
                f = f.evidence(Evidence::new(
                    format!("GET /1.0/cluster/members/{member}/state"),
                    format!("storage_pools.{pool}.inodes"),
                    format!(
                        "{} of {} used ({:.1}%)",
                        usage.inodes.used,
                        usage.inodes.total,
                        inodes.unwrap_or(0.0)
                    ),
                ));
            }
            if loop_backed && matches!(driver, "zfs" | "btrfs" | "lvm") {
                f = f.fix(format!("incus storage set {pool} size=<new size> --target {member}   # loop-backed pools grow in place"));
            }
            out.push(f);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};

    #[test]
    fn pools_at_or_over_the_threshold() {
        table(
            &CHECK,
            vec![
                ("healthy", B::cluster(3).build(), vec![]),
                (
                    "just under 90%",
                    B::cluster(3).pool_usage("default", "m2", 899, 1000).build(),
                    vec![],
                ),
                (
                    "at 90%",
                    B::cluster(3).pool_usage("default", "m2", 90, 100).build(),
                    vec![("high", "storage-pool/default")],
                ),
                (
                    "at 98%",
                    B::cluster(3).pool_usage("default", "m2", 98, 100).build(),
                    vec![("critical", "storage-pool/default")],
                ),
                (
                    "empty pool of unknown size",
                    B::cluster(3).pool_usage("default", "m2", 0, 0).build(),
                    vec![],
                ),
            ],
        );
    }
}
