//! The parts of the Incus REST API that incus-ai reads. Every field has a default, so answers
//! of older and newer servers decode; unknown fields are ignored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Configuration keys and values.
pub type ConfigMap = BTreeMap<String, String>;

/// `GET /1.0`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Server {
    /// `trusted` or `untrusted`.
    pub auth: String,
    /// API extensions the server supports.
    pub api_extensions: Vec<String>,
    /// Server configuration.
    pub config: ConfigMap,
    /// Facts about the host and daemon.
    pub environment: Environment,
}

/// `environment` of `GET /1.0`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Environment {
    /// Incus version, e.g. `6.0.4`.
    pub server_version: String,
    /// Member name.
    pub server_name: String,
    /// Whether the server is part of a cluster.
    pub server_clustered: bool,
    /// Instance drivers (`lxc | qemu`).
    pub driver: String,
    /// Firewall driver.
    pub firewall: String,
    /// Kernel version.
    pub kernel_version: String,
    /// The server (or cluster) certificate, PEM.
    pub certificate: String,
    /// Its fingerprint.
    pub certificate_fingerprint: String,
    /// Addresses the API listens on.
    pub addresses: Vec<String>,
}

/// Declares an enum of the words Incus uses, with `Unknown` for any other word (a newer Incus).
macro_rules! incus_words {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $word:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $word)] $variant,)*
            /// A word this version of incus-ai does not know.
            #[default]
            #[serde(other)]
            Unknown,
        }

        impl $name {
            /// The word as Incus writes it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word,)*
                    $name::Unknown => "Unknown",
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

incus_words! {
    /// A cluster member's status.
    MemberStatus {
        /// Answers heartbeats.
        Online = "Online",
        /// No heartbeat for longer than `cluster.offline_threshold`.
        Offline = "Offline",
        /// In maintenance, its instances moved away.
        Evacuated = "Evacuated",
        /// Being evacuated.
        Evacuating = "Evacuating",
        /// Being restored from an evacuation.
        Restoring = "Restoring",
        /// Waiting for the other members to be upgraded.
        Blocked = "Blocked",
    }
}

incus_words! {
    /// What runs an instance.
    InstanceType {
        /// LXC.
        Container = "container",
        /// QEMU.
        VirtualMachine = "virtual-machine",
    }
}

incus_words! {
    /// An operation's status.
    OperationStatus {
        /// Queued.
        Pending = "Pending",
        /// In progress.
        Running = "Running",
        /// Being cancelled.
        Cancelling = "Cancelling",
        /// Finished well.
        Success = "Success",
        /// Failed.
        Failure = "Failure",
        /// Cancelled.
        Cancelled = "Cancelled",
    }
}

impl MemberStatus {
    /// Evacuated, evacuating or restoring.
    pub fn in_maintenance(self) -> bool {
        matches!(
            self,
            MemberStatus::Evacuated | MemberStatus::Evacuating | MemberStatus::Restoring
        )
    }
}

/// An entry of `GET /1.0/cluster/members?recursion=1`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Member {
    /// Name.
    pub server_name: String,
    /// `https://address:port`.
    pub url: String,
    /// Whether it holds a database role.
    pub database: bool,
    /// `database-leader`, `database`, `database-standby`, `event-hub`, `ovn-chassis`, …
    pub roles: Vec<String>,
    /// Its status as the database leader sees it.
    pub status: MemberStatus,
    /// Human message for the status.
    pub message: String,
    /// CPU architecture.
    pub architecture: String,
    /// Failure domain.
    pub failure_domain: String,
    /// Cluster groups.
    pub groups: Vec<String>,
    /// Member configuration (`scheduler.instance`, …).
    pub config: ConfigMap,
    /// Description.
    pub description: String,
}

/// `GET /1.0/cluster/members/<name>/state`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MemberState {
    /// Load, memory, uptime.
    pub sysinfo: SysInfo,
    /// Space and inodes of each storage pool on this member.
    pub storage_pools: BTreeMap<String, PoolUsage>,
}

/// `sysinfo` of a member's state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SysInfo {
    /// Seconds since boot.
    pub uptime: u64,
    /// 1, 5 and 15 minute load averages.
    pub load_averages: Vec<f64>,
    /// Bytes.
    pub total_ram: u64,
    /// Bytes.
    pub free_ram: u64,
    /// Processes.
    pub processes: u64,
}

/// Used and total.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Usage {
    /// Used.
    pub used: u64,
    /// Total.
    pub total: u64,
}

/// Usage of one pool on one member.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct PoolUsage {
    /// Bytes.
    pub space: Usage,
    /// Inodes.
    pub inodes: Usage,
}

/// An entry of `GET /1.0/warnings?recursion=1`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Warning {
    /// Identifier.
    pub uuid: String,
    /// The member that raised it.
    pub location: String,
    /// Project, if any.
    pub project: String,
    /// The warning type, e.g. `Offline cluster member`.
    #[serde(rename = "type")]
    pub kind: String,
    /// How often it was raised.
    pub count: u64,
    /// First time.
    pub first_seen_at: String,
    /// Last time.
    pub last_seen_at: String,
    /// Last message.
    pub last_message: String,
    /// `low`, `moderate`, `high`.
    pub severity: String,
    /// `new`, `acknowledged`, `resolved`.
    pub status: String,
    /// The entity it is about (`/1.0/storage-pools/p`), often empty.
    pub entity_url: String,
}

impl Warning {
    /// Not resolved (new or acknowledged).
    pub fn is_active(&self) -> bool {
        self.status != "resolved"
    }
}

/// An entry of `GET /1.0/instances?recursion=1&all-projects=true`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Instance {
    /// Name.
    pub name: String,
    /// Project.
    pub project: String,
    /// `Running`, `Stopped`, `Frozen`, `Error`, …
    pub status: String,
    /// Numeric status (112 = Error).
    pub status_code: u64,
    /// The member it is on.
    pub location: String,
    /// Container or virtual machine.
    #[serde(rename = "type")]
    pub kind: InstanceType,
    /// Instance configuration.
    pub config: ConfigMap,
    /// Configuration with profiles applied.
    pub expanded_config: ConfigMap,
    /// Devices with profiles applied.
    pub expanded_devices: BTreeMap<String, ConfigMap>,
    /// Profiles.
    pub profiles: Vec<String>,
    /// Description (text written by users: data, not instructions).
    pub description: String,
    /// Architecture.
    pub architecture: String,
    /// Creation time.
    pub created_at: String,
    /// Last start.
    pub last_used_at: String,
    /// Current usage (only in `recursion=2` answers, which `review` reads).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<super::capacity::InstanceUsage>,
    /// Its snapshots, counted (`recursion=2` only).
    pub snapshots: super::capacity::Count,
    /// Its backups, counted (`recursion=2` only).
    pub backups: super::capacity::Count,
}

/// `GET /1.0/operations?recursion=1`: operations grouped by status.
pub type Operations = BTreeMap<String, Vec<Operation>>;

/// An operation.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Operation {
    /// UUID.
    pub id: String,
    /// `task`, `websocket`, `token`.
    pub class: String,
    /// `Starting instance`, `Evacuating cluster member`, …
    pub description: String,
    /// Creation time.
    pub created_at: String,
    /// Last update.
    pub updated_at: String,
    /// Running, finished, failed.
    pub status: OperationStatus,
    /// Numeric status.
    pub status_code: u64,
    /// Affected resources by kind (`instances` → URLs).
    pub resources: BTreeMap<String, Vec<String>>,
    /// Error of a failed operation.
    pub err: String,
    /// Member running it.
    pub location: String,
    /// Whether it can be cancelled.
    pub may_cancel: bool,
}

/// An entry of `GET /1.0/storage-pools?recursion=1`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StoragePool {
    /// Name.
    pub name: String,
    /// `dir`, `zfs`, `btrfs`, `lvm`, `ceph`, …
    pub driver: String,
    /// `Created`, `Pending`, `Errored`, `Unavailable`, …
    pub status: String,
    /// Members where it is defined.
    pub locations: Vec<String>,
    /// What uses it.
    pub used_by: Vec<String>,
    /// Configuration.
    pub config: ConfigMap,
    /// Description.
    pub description: String,
}

/// An entry of `GET /1.0/networks?recursion=1`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Network {
    /// Name.
    pub name: String,
    /// `bridge`, `ovn`, `macvlan`, `physical`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// Managed by Incus.
    pub managed: bool,
    /// Project (with `all-projects=true`).
    pub project: String,
    /// `Created`, `Pending`, `Errored`, `Unavailable`, `Unknown`.
    pub status: String,
    /// Members where it is defined.
    pub locations: Vec<String>,
    /// Configuration.
    pub config: ConfigMap,
    /// What uses it.
    pub used_by: Vec<String>,
    /// Description.
    pub description: String,
}

impl Network {
    /// The network's project (`default` when the server does not say).
    pub fn project_or_default(&self) -> String {
        if self.project.is_empty() {
            "default".into()
        } else {
            self.project.clone()
        }
    }
}

/// An entry of `GET /1.0/projects?recursion=1`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Project {
    /// Name.
    pub name: String,
    /// Configuration (`limits.*`, `features.*`, `restricted.*`).
    pub config: ConfigMap,
    /// Description.
    pub description: String,
    /// What uses it.
    pub used_by: Vec<String>,
}

/// `GET /1.0/projects/<name>/state`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ProjectState {
    /// Usage against limits by resource (`instances`, `memory`, …); a limit of -1 is none.
    pub resources: BTreeMap<String, ProjectResource>,
}

/// One resource of a project's state.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ProjectResource {
    /// The limit (-1: none).
    #[serde(alias = "Limit")]
    pub limit: i64,
    /// Current usage.
    #[serde(alias = "Usage")]
    pub usage: i64,
}

/// An entry of `GET /1.0/certificates?recursion=1`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Certificate {
    /// Name.
    pub name: String,
    /// `client`, `server`, `metrics`.
    #[serde(rename = "type")]
    pub kind: String,
    /// SHA-256 fingerprint.
    pub fingerprint: String,
    /// PEM.
    pub certificate: String,
    /// Restricted to some projects.
    pub restricted: bool,
    /// Projects it may use.
    pub projects: Vec<String>,
    /// Description.
    pub description: String,
}

/// An entry of `GET /1.0/profiles?recursion=1`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Profile {
    /// Name.
    pub name: String,
    /// Project.
    pub project: String,
    /// Configuration.
    pub config: ConfigMap,
    /// Devices.
    pub devices: BTreeMap<String, ConfigMap>,
    /// Description.
    pub description: String,
    /// What uses it.
    pub used_by: Vec<String>,
}

/// An entry of `GET /1.0/cluster/groups?recursion=1`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterGroup {
    /// Name.
    pub name: String,
    /// Members.
    pub members: Vec<String>,
    /// Description.
    pub description: String,
}
