//! `storage-pool-unavailable`: pools a member cannot use (not mounted, backing gone).

use super::support::{unavailable, warning_evidence, warning_subject, warnings_of};
use super::{Check, Context, Evidence, Finding, Kind, Severity};
use crate::diagnosis::cluster::OnMember;

const WARNING: &str = "Storage pool unavailable";

pub const CHECK: Check = Check {
    id: "storage-pool-unavailable",
    run,
    warnings: &[WARNING],
};

fn run(ctx: &Context) -> Vec<Finding> {
    let st = ctx.state;
    unavailable(&st.pool_status, st, WARNING)
        .into_iter()
        .map(|(pool, member)| {
            let driver = st.pools.iter().find(|p| p.name == pool).map(|p| p.driver.clone()).unwrap_or_default();
            let on = if member.is_empty() { String::new() } else { format!(" on {member}") };
            let mut f = Finding::new(CHECK.id, Severity::Critical, Kind::StoragePool, &pool, format!("Storage pool {pool} is unavailable{on}"))
                .on_member(&member)
                .explain(format!(
                    "Incus could not bring up the {driver} pool {pool}{on} (pool not imported, loop file or \
                     device missing, remote storage unreachable). Instances with disks on it cannot start there \
                     (\"Storage pool \\\"{pool}\\\" unavailable on this server\"). Incus retries every minute; \
                     the warning's message says why it failed."
                ))
                .docs_at("howto/storage_pools.md", "view-storage-pools", "View storage pools").docs_about("manage storage pools storage pool unavailable")
                .fix(format!("incus storage info {pool}{}", if member.is_empty() { String::new() } else { format!(" --target {member}") }))
                .fix(match driver.as_str() {
                    "zfs" => format!("ssh {member} 'zpool import; zpool status'   # import the pool if it is missing"),
                    "lvm" => format!("ssh {member} 'vgscan; vgchange -ay'   # activate the volume group"),
                    "ceph" | "cephfs" | "cephobject" => format!("ssh {member} 'ceph -s'   # is the Ceph cluster reachable?"),
                    _ => format!("ssh {member} 'journalctl -u incus -n 50'   # the mount or device error"),
                })
                .fix(format!("ssh {member} 'systemctl restart incus'   # once the backing storage is back (or wait a minute)"));
            if let Some(s) = st.pool_status.get(&OnMember::new(&pool, &member)) {
                f = f.evidence(Evidence::new(format!("GET /1.0/storage-pools/{pool}?target={member}"), "status", s.clone()));
            }
            for w in warnings_of(st, WARNING).filter(|w| warning_subject(w).1 == pool && w.location == member) {
                f = f.evidence(warning_evidence(w));
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
    fn pools_unavailable_on_a_member() {
        table(
            &CHECK,
            vec![
                ("healthy", B::cluster(3).build(), vec![]),
                (
                    "unavailable in m2's view",
                    B::cluster(3)
                        .pool_status("default", "m2", "Unavailable")
                        .build(),
                    vec![("critical", "storage-pool/default")],
                ),
                (
                    "a warning says so",
                    B::cluster(3)
                        .warning(WARNING, "m3", "/1.0/storage-pools/default", "zpool missing")
                        .build(),
                    vec![("critical", "storage-pool/default")],
                ),
                (
                    "resolved warning",
                    B::cluster(3)
                        .warning(WARNING, "m3", "/1.0/storage-pools/default", "zpool missing")
                        .resolve_warnings()
                        .build(),
                    vec![],
                ),
            ],
        );
    }
}
