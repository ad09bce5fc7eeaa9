//! The state of a live Incus cluster (or standalone server), read once through the REST API,
//! for `status`, `doctor`, `snapshot` and the agent.

mod gather;
mod jobs;

use crate::diagnosis::incus::api::MemberStatus;
use std::collections::BTreeMap;

use serde::Serialize;

use crate::diagnosis::incus::api::{
    Certificate, Instance, Member, MemberState, Network, Operation, Profile, Project, ProjectState,
    Server, StoragePool, Warning,
};
use crate::diagnosis::incus::capacity::{DaemonVersion, Resources, StorageVolume};

pub use gather::{
    DATABASE_PROBE, DATABASE_RECHECK, GatherOptions, MEMBER_PROBE, NO_LEADER, gather,
    instance_of_url,
};

/// An endpoint that could not be read, kept as evidence.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointError {
    /// The path requested.
    pub path: String,
    /// HTTP/Incus status, when the server answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The error.
    pub message: String,
}

impl EndpointError {
    /// One line for humans about endpoints that could not be read, naming the first; `None`
    /// when there are none.
    pub fn summary(errors: &[EndpointError]) -> Option<String> {
        let first = errors.first()?;
        Some(format!(
            "{} endpoint(s) could not be read, e.g. {}: {}",
            errors.len(),
            first.path,
            first.message
        ))
    }
}

/// A pool or network (`name`) in one member's own view.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OnMember {
    /// The pool or network.
    pub name: String,
    /// The member.
    pub member: String,
}

impl OnMember {
    /// `name` on `member`.
    pub fn new(name: &str, member: &str) -> OnMember {
        OnMember {
            name: name.into(),
            member: member.into(),
        }
    }
}

/// An instance, by project and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstanceRef {
    /// Its project.
    pub project: String,
    /// Its name.
    pub name: String,
}

/// Everything read from the server.
#[derive(Debug, Clone, Default)]
pub struct ClusterState {
    /// The remote it was read from.
    pub remote: String,
    /// `GET /1.0`, when it answered.
    pub server: Option<Server>,
    /// Cluster members (empty for a standalone server).
    pub members: Vec<Member>,
    /// Per-member state (load, memory, pool usage) of the members that were online.
    pub member_states: BTreeMap<String, MemberState>,
    /// Warnings of all members and projects.
    pub warnings: Vec<Warning>,
    /// Instances of all projects.
    pub instances: Vec<Instance>,
    /// Operations of all projects (completed ones stay listed a few seconds only).
    pub operations: Vec<Operation>,
    /// Storage pools, cluster-wide view.
    pub pools: Vec<StoragePool>,
    /// Pool on member → status in the member's own view (`Unavailable` shows only there).
    pub pool_status: BTreeMap<OnMember, String>,
    /// Pool on member → its `source` in the member's own view (a file under
    /// `/var/lib/incus/disks/` is a loop file).
    pub pool_sources: BTreeMap<OnMember, String>,
    /// Managed networks of all projects, cluster-wide view.
    pub networks: Vec<Network>,
    /// Network on member → status in the member's own view.
    pub network_status: BTreeMap<OnMember, String>,
    /// Projects.
    pub projects: Vec<Project>,
    /// Usage against limits of the projects that have limits.
    pub project_states: BTreeMap<String, ProjectState>,
    /// Trusted certificates.
    pub certificates: Vec<Certificate>,
    /// Profiles of all projects.
    pub profiles: Vec<Profile>,
    /// Member → its hardware (`/1.0/resources`), read for `review` only.
    pub member_resources: BTreeMap<String, Resources>,
    /// Member → the Incus version its daemon runs (`/1.0?target=`), read for `review` only.
    pub member_versions: BTreeMap<String, DaemonVersion>,
    /// Pool → its custom volumes, read for `review` only.
    pub volumes: BTreeMap<String, Vec<StorageVolume>>,
    /// Instance → tail of `lxc.log`/`qemu.log`, for instances whose start failed.
    pub instance_logs: BTreeMap<InstanceRef, String>,
    /// Endpoints that could not be read.
    pub errors: Vec<EndpointError>,
    /// The cluster database did not answer (no leader, or no answer within the probe time):
    /// nothing that needs it was asked.
    pub database_unavailable: Option<EndpointError>,
    /// Online members that did not answer for their own state (a hung daemon), with why.
    pub unresponsive_members: BTreeMap<String, String>,
    /// API requests sent.
    pub requests: usize,
    /// Wall time of the read, in milliseconds.
    pub elapsed_ms: u64,
}

impl ClusterState {
    /// Whether the server is a cluster member.
    pub fn clustered(&self) -> bool {
        self.server
            .as_ref()
            .is_some_and(|s| s.environment.server_clustered)
            || !self.members.is_empty()
    }

    /// A member by name.
    pub fn member(&self, name: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.server_name == name)
    }

    /// The error recorded for a path, if reading it failed.
    pub fn error_for(&self, path_prefix: &str) -> Option<&EndpointError> {
        self.errors.iter().find(|e| e.path.starts_with(path_prefix))
    }

    /// Members with a database role (voters, the leader among them).
    pub fn voters(&self) -> impl Iterator<Item = &Member> {
        self.members.iter().filter(|m| {
            m.roles
                .iter()
                .any(|r| r == "database" || r == "database-leader")
        })
    }

    /// Active (unresolved) warnings.
    pub fn active_warnings(&self) -> impl Iterator<Item = &Warning> {
        self.warnings.iter().filter(|w| w.is_active())
    }

    /// Members that are not `Online` (per-member queries to them are skipped).
    pub fn unavailable_members(&self) -> impl Iterator<Item = &Member> {
        self.members
            .iter()
            .filter(|m| m.status != MemberStatus::Online)
    }
}
