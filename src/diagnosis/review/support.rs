//! What several rules need: the subject for the cluster as a whole, an instance's root pool,
//! which storage drivers are local, a config value, sizes for people.

use crate::diagnosis::checks::Kind;
use crate::diagnosis::cluster::ClusterState;
use crate::diagnosis::incus::api::Instance;

/// Drivers whose data lives on one member only: healing and evacuation cannot move an instance
/// on them without copying it, and a dead member's copies are gone.
pub const LOCAL_DRIVERS: &[&str] = &["dir", "zfs", "btrfs", "lvm"];

/// The subject for the whole installation: `cluster/REMOTE`, or `server/NAME` when standalone.
pub fn installation(st: &ClusterState) -> (Kind, String) {
    if st.clustered() {
        (Kind::Cluster, st.remote.clone())
    } else {
        let name = st
            .server
            .as_ref()
            .map(|s| s.environment.server_name.clone())
            .unwrap_or_else(|| st.remote.clone());
        (Kind::Server, name)
    }
}

/// A server configuration value (`GET /1.0`), `""` when unset.
pub fn server_config<'a>(st: &'a ClusterState, key: &str) -> &'a str {
    st.server
        .as_ref()
        .and_then(|s| s.config.get(key))
        .map_or("", String::as_str)
}

/// The pool of an instance's root disk.
pub fn root_pool(i: &Instance) -> Option<&str> {
    i.expanded_devices
        .values()
        .find(|d| {
            d.get("type").map(String::as_str) == Some("disk")
                && d.get("path").map(String::as_str) == Some("/")
        })
        .and_then(|d| d.get("pool"))
        .map(String::as_str)
}

/// The driver of pool `name`.
pub fn pool_driver<'a>(st: &'a ClusterState, name: &str) -> Option<&'a str> {
    st.pools
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.driver.as_str())
}

/// ` --project P` for a command, nothing for `default`.
pub fn project_flag(project: &str) -> String {
    if project.is_empty() || project == "default" {
        String::new()
    } else {
        format!(" --project {project}")
    }
}

/// Bytes for people (`7.5 GiB`).
pub fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

/// Names, at most `n` of them, then how many more.
pub fn some_names(names: &[String], n: usize) -> String {
    let mut s = names.iter().take(n).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > n {
        s.push_str(&format!(" and {} more", names.len() - n));
    }
    s
}
