//! The per-member and per-project requests of a read, after the cluster-wide lists: what each
//! is, its path, and how its answer lands in the [`ClusterState`].

use std::collections::BTreeSet;

use futures::stream::{self, StreamExt};
use serde::de::DeserializeOwned;

use super::gather::{GatherOptions, instance_of_url, record};
use super::{ClusterState, InstanceRef, OnMember};
use crate::diagnosis::incus::api::{
    InstanceType, MemberState, Network, OperationStatus, PoolUsage, ProjectState, Server,
    StoragePool,
};
use crate::diagnosis::incus::capacity::{DaemonVersion, Resources, StorageVolume};
use crate::diagnosis::incus::client::with_query;
use crate::diagnosis::incus::{Client, ClientError};

pub(super) enum Job {
    MemberState(String),
    PoolStatus(String, String),
    PoolResources(String, String),
    NetworkStatus(String, String, String),
    ProjectState(String),
    Log(String, String, String),
    /// A member's hardware (`None`: a standalone server).
    Resources(Option<String>, String),
    Volumes(String),
    /// What a member's daemon says of itself (`GET /1.0?target=`).
    Daemon(String),
}

enum Outcome {
    MemberState(String, MemberState),
    /// Pool, member, status, the member's `source` (where the pool's data is).
    PoolStatus(String, String, String, Option<String>),
    PoolResources(String, String, PoolUsage),
    NetworkStatus(String, String, String),
    ProjectState(String, ProjectState),
    Log(String, String, String),
    Resources(String, Resources),
    Volumes(String, Vec<StorageVolume>),
    Daemon(String, DaemonVersion),
}

impl Job {
    pub(super) fn path(&self) -> String {
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        match self {
            Job::MemberState(m) => format!("/1.0/cluster/members/{}/state", enc(m)),
            Job::PoolStatus(p, m) => {
                with_query(&format!("/1.0/storage-pools/{}", enc(p)), &[("target", m)])
            }
            Job::PoolResources(p, _) => format!("/1.0/storage-pools/{}/resources", enc(p)),
            Job::NetworkStatus(n, project, m) => with_query(
                &format!("/1.0/networks/{}", enc(n)),
                &[("project", project.as_str()), ("target", m.as_str())],
            ),
            Job::ProjectState(p) => format!("/1.0/projects/{}/state", enc(p)),
            Job::Log(project, name, file) => with_query(
                &format!("/1.0/instances/{}/logs/{}", enc(name), enc(file)),
                &[("project", project)],
            ),
            Job::Resources(Some(m), _) => with_query("/1.0/resources", &[("target", m)]),
            Job::Resources(None, _) => "/1.0/resources".to_string(),
            Job::Volumes(p) => format!(
                "/1.0/storage-pools/{}/volumes?recursion=1&all-projects=true",
                enc(p)
            ),
            Job::Daemon(m) => with_query("/1.0", &[("target", m)]),
        }
    }

    async fn run(self, client: &Client, max_log: usize) -> (String, Result<Outcome, ClientError>) {
        let path = self.path();
        async fn get<T: DeserializeOwned>(c: &Client, p: &str) -> Result<T, ClientError> {
            c.get(p).await
        }
        let r = match self {
            Job::MemberState(m) => get(client, &path).await.map(|s| Outcome::MemberState(m, s)),
            Job::PoolStatus(p, m) => get::<StoragePool>(client, &path)
                .await
                .map(|s| Outcome::PoolStatus(p, m, s.status, s.config.get("source").cloned())),
            Job::PoolResources(p, m) => get::<PoolUsage>(client, &path)
                .await
                .map(|u| Outcome::PoolResources(p, m, u)),
            Job::NetworkStatus(n, _, m) => get::<Network>(client, &path)
                .await
                .map(|s| Outcome::NetworkStatus(n, m, s.status)),
            Job::ProjectState(p) => get(client, &path)
                .await
                .map(|s| Outcome::ProjectState(p, s)),
            Job::Log(project, name, _) => client
                .get_text(&path, max_log)
                .await
                .map(|t| Outcome::Log(project, name, t)),
            Job::Resources(_, m) => get(client, &path).await.map(|r| Outcome::Resources(m, r)),
            Job::Volumes(p) => get::<Vec<StorageVolume>>(client, &path).await.map(|v| {
                Outcome::Volumes(p, v.into_iter().filter(|v| v.kind == "custom").collect())
            }),
            Job::Daemon(m) => get::<Server>(client, &path)
                .await
                .map(|s| Outcome::Daemon(m, DaemonVersion::of(&s))),
        };
        (path, r)
    }
}

/// Per-member views of the members that answered, per-project state of projects with limits,
/// and the logs of instances whose start failed.
pub(super) fn member_jobs(st: &ClusterState, online: &[String]) -> Vec<Job> {
    let mut jobs = Vec::new();
    if st.clustered() {
        for p in &st.pools {
            for m in online
                .iter()
                .filter(|m| p.locations.is_empty() || p.locations.contains(m))
            {
                jobs.push(Job::PoolStatus(p.name.clone(), m.clone()));
            }
        }
        for n in st.networks.iter().filter(|n| !n.locations.is_empty()) {
            for m in online.iter().filter(|m| n.locations.contains(m)) {
                jobs.push(Job::NetworkStatus(
                    n.name.clone(),
                    n.project_or_default(),
                    m.clone(),
                ));
            }
        }
    } else if let Some(server_name) = online.first() {
        for p in &st.pools {
            jobs.push(Job::PoolResources(p.name.clone(), server_name.clone()));
        }
    }
    for p in &st.projects {
        if p.config.keys().any(|k| k.starts_with("limits.")) {
            jobs.push(Job::ProjectState(p.name.clone()));
        }
    }
    let mut logged = BTreeSet::new();
    for op in st
        .operations
        .iter()
        .filter(|o| o.status == OperationStatus::Failure)
    {
        for url in op.resources.get("instances").into_iter().flatten() {
            if let Some((project, name)) = instance_of_url(url)
                && logged.insert((project.clone(), name.clone()))
            {
                let vm = st.instances.iter().any(|i| {
                    i.name == name && i.project == project && i.kind == InstanceType::VirtualMachine
                });
                let file = if vm { "qemu.log" } else { "lxc.log" };
                jobs.push(Job::Log(project, name, file.to_string()));
            }
        }
    }
    jobs
}

/// What `review` reads on top: each answering member's hardware and daemon version, and each
/// pool's volumes.
pub(super) fn review_jobs(st: &ClusterState, online: &[String]) -> Vec<Job> {
    let mut jobs: Vec<Job> = if st.clustered() {
        online
            .iter()
            .flat_map(|m| {
                [
                    Job::Resources(Some(m.clone()), m.clone()),
                    Job::Daemon(m.clone()),
                ]
            })
            .collect()
    } else {
        online
            .first()
            .map(|m| Job::Resources(None, m.clone()))
            .into_iter()
            .collect()
    };
    jobs.extend(st.pools.iter().map(|p| Job::Volumes(p.name.clone())));
    jobs
}

pub(super) async fn run_jobs(
    client: &Client,
    st: &mut ClusterState,
    jobs: Vec<Job>,
    opts: &GatherOptions,
) {
    let outcomes: Vec<(String, Result<Outcome, ClientError>)> = stream::iter(jobs)
        .map(|j| j.run(client, opts.max_log_bytes))
        .buffer_unordered(opts.concurrency.max(1))
        .collect()
        .await;
    for (path, r) in outcomes {
        match r {
            Ok(Outcome::MemberState(m, s)) => {
                st.member_states.insert(m, s);
            }
            Ok(Outcome::PoolStatus(p, m, s, source)) => {
                let on = OnMember { name: p, member: m };
                if let Some(source) = source {
                    st.pool_sources.insert(on.clone(), source);
                }
                st.pool_status.insert(on, s);
            }
            Ok(Outcome::PoolResources(p, m, u)) => {
                st.member_states
                    .entry(m)
                    .or_default()
                    .storage_pools
                    .insert(p, u);
            }
            Ok(Outcome::NetworkStatus(n, m, s)) => {
                st.network_status.insert(OnMember { name: n, member: m }, s);
            }
            Ok(Outcome::ProjectState(p, s)) => {
                st.project_states.insert(p, s);
            }
            Ok(Outcome::Log(project, name, text)) => {
                st.instance_logs.insert(InstanceRef { project, name }, text);
            }
            Ok(Outcome::Resources(m, r)) => {
                st.member_resources.insert(m, r);
            }
            Ok(Outcome::Volumes(p, v)) => {
                st.volumes.insert(p, v);
            }
            Ok(Outcome::Daemon(m, v)) => {
                st.member_versions.insert(m, v);
            }
            Err(e) => record(&mut st.errors, &path, &e),
        }
    }
}
