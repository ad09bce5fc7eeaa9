//! `loop-backed-pool`: ZFS, Btrfs or LVM pools on a loop file (`/var/lib/incus/disks/*.img`),
//! which "isn't recommended for production use" (reference/storage_drivers.md): slower, and a
//! loop file cannot be shrunk.

use super::support::some_names;
use crate::diagnosis::checks::{Check, Context, Evidence, Finding, Kind, Severity};

pub const RULE: Check = Check {
    id: "loop-backed-pool",
    run,
    warnings: &[],
};

/// Whether a pool `source` is a loop file Incus created.
fn loop_file(source: &str) -> bool {
    source.ends_with(".img") || source.contains("/incus/disks/")
}

fn run(ctx: &Context) -> Vec<Finding> {
    let st = ctx.state;
    let mut out = Vec::new();
    for p in st
        .pools
        .iter()
        .filter(|p| ["zfs", "btrfs", "lvm"].contains(&p.driver.as_str()))
    {
        // Per member in a cluster (the key is member-specific), else the pool's own config.
        let mut on: Vec<(String, String)> = st
            .pool_sources
            .iter()
            .filter(|(k, v)| k.name == p.name && loop_file(v))
            .map(|(k, v)| (k.member.clone(), v.clone()))
            .collect();
        if let Some(source) = p.config.get("source").filter(|s| loop_file(s)) {
            on.push((String::new(), source.clone()));
        }
        if on.is_empty() {
            continue;
        }
        let members: Vec<String> = on
            .iter()
            .map(|(m, _)| m.clone())
            .filter(|m| !m.is_empty())
            .collect();
        let mut f = Finding::new(
            RULE.id,
            Severity::Moderate,
            Kind::StoragePool,
            &p.name,
            format!("Storage pool {} ({}) lives in a loop file", p.name, p.driver),
        )
        .evidence(Evidence::new(
            format!("GET /1.0/storage-pools/{}?target=…", p.name),
            "config[\"source\"]",
            some_names(&on.iter().map(|(m, s)| if m.is_empty() { s.clone() } else { format!("{m}: {s}") }).collect::<Vec<_>>(), 6),
        ))
        .explain("A loop file is a disk image on the host's filesystem: every write goes through two filesystems, it is slower than a partition or disk, and it can be grown but never shrunk. It is fine for trying Incus, not for production data. Give the pool a real disk or partition.")
        .docs_at("explanation/storage.md", "loop-disk", "Loop disk").docs_about("loop file storage pool not recommended production")
        .fix(format!("incus storage create <new-pool> {} source=/dev/<disk>   # then: incus move <instance> --storage <new-pool>", p.driver));
        for m in &members {
            f = f.on_member(m);
        }
        out.push(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};
    use crate::diagnosis::cluster::OnMember;

    fn zfs(source: &str) -> B {
        let source = source.to_string();
        B::cluster(3).with(move |st| {
            st.pools[0].driver = "zfs".into();
            st.pool_sources
                .insert(OnMember::new("default", "m2"), source);
        })
    }

    #[test]
    fn loop_files_only() {
        table(
            &RULE,
            vec![
                ("a disk", zfs("/dev/sdb").build(), vec![]),
                (
                    "a loop file",
                    zfs("/var/lib/incus/disks/default.img").build(),
                    vec![("moderate", "storage-pool/default")],
                ),
                (
                    "dir pools have directories",
                    B::cluster(3)
                        .with(|st| {
                            st.pool_sources.insert(
                                OnMember::new("default", "m1"),
                                "/var/lib/incus/storage-pools/default".into(),
                            );
                        })
                        .build(),
                    vec![],
                ),
                (
                    "standalone, in the pool's config",
                    B::standalone()
                        .with(|st| {
                            st.pools[0].driver = "btrfs".into();
                            st.pools[0]
                                .config
                                .insert("source".into(), "/var/lib/incus/disks/default.img".into());
                        })
                        .build(),
                    vec![("moderate", "storage-pool/default")],
                ),
            ],
        );
    }
}
