//! Reading the cluster: cluster-wide lists in parallel (with `recursion`), then per-member views
//! of the members that are online only (a dead member must not cost its timeout), per-project
//! state of projects with limits, and the logs of instances whose start failed.

use crate::diagnosis::incus::api::{InstanceType, MemberStatus, OperationStatus};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use serde::de::DeserializeOwned;

use super::{ClusterState, EndpointError, InstanceRef, OnMember};
use crate::diagnosis::incus::api::{
    Certificate, Instance, Member, MemberState, Network, Operations, PoolUsage, Profile, Project,
    ProjectState, Server, StoragePool, Warning,
};
use crate::diagnosis::incus::capacity::{Resources, StorageVolume};
use crate::diagnosis::incus::client::with_query;
use crate::diagnosis::incus::{Client, ClientError};

/// Limits of one read.
#[derive(Debug, Clone)]
pub struct GatherOptions {
    /// Per-member and per-project requests in flight at once.
    pub concurrency: usize,
    /// Bytes kept from the end of an instance log.
    pub max_log_bytes: usize,
    /// Also read what `review` needs: each online member's hardware, the instances' current
    /// usage (`recursion=2`, still one request) and each pool's custom volumes. Requests grow
    /// with members and pools, not instances.
    pub review: bool,
}

impl Default for GatherOptions {
    fn default() -> Self {
        GatherOptions {
            concurrency: 16,
            max_log_bytes: 16 * 1024,
            review: false,
        }
    }
}

fn record(errors: &mut Vec<EndpointError>, path: &str, e: &ClientError) {
    let status = match e {
        ClientError::Api { status, .. } => Some(*status),
        _ => None,
    };
    let message = match e {
        ClientError::Api { message, .. } => message.clone(),
        other => other.to_string(),
    };
    errors.push(EndpointError {
        path: path.to_string(),
        status,
        message,
    });
}

fn keep<T: Default>(errors: &mut Vec<EndpointError>, path: &str, r: Result<T, ClientError>) -> T {
    r.unwrap_or_else(|e| {
        record(errors, path, &e);
        T::default()
    })
}

/// Errors that mean the server cannot be read at all (as opposed to one endpoint failing).
fn fatal(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::Unreachable { .. }
            | ClientError::ServerCertificate { .. }
            | ClientError::EncryptedKey { .. }
            | ClientError::Certificate { .. }
            | ClientError::Untrusted { .. }
    )
}

enum Job {
    MemberState(String),
    PoolStatus(String, String),
    PoolResources(String, String),
    NetworkStatus(String, String, String),
    ProjectState(String),
    Log(String, String, String),
    /// A member's hardware (`None`: a standalone server).
    Resources(Option<String>, String),
    Volumes(String),
}

enum Outcome {
    MemberState(String, MemberState),
    PoolStatus(String, String, String),
    PoolResources(String, String, PoolUsage),
    NetworkStatus(String, String, String),
    ProjectState(String, ProjectState),
    Log(String, String, String),
    Resources(String, Resources),
    Volumes(String, Vec<StorageVolume>),
}

impl Job {
    fn path(&self) -> String {
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
                .map(|s| Outcome::PoolStatus(p, m, s.status)),
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
        };
        (path, r)
    }
}

/// `/1.0/instances/c1?project=dev` → (`dev`, `c1`).
pub fn instance_of_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("/1.0/instances/")?;
    let (name, query) = rest.split_once('?').unwrap_or((rest, ""));
    let name = name.split('/').next()?.to_string();
    let project = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("project="))
        .unwrap_or("default")
        .to_string();
    (!name.is_empty()).then_some((project, name))
}

/// How long the cluster database gets to answer the member list before incus-ai concludes it
/// is not answering (with quorum lost, incusd takes 2 to 30 s to fail each request).
pub const DATABASE_PROBE: Duration = Duration::from_secs(5);
/// How long a member gets to answer for its own state before it counts as unresponsive (a
/// stopped daemon accepts connections and never answers; a dead one refuses at once).
pub const MEMBER_PROBE: Duration = Duration::from_secs(2);

/// Messages of a database that has no leader (quorum lost).
pub const NO_LEADER: &[&str] = &[
    "no available cowsql leader",
    "no available dqlite leader",
    "Failed to begin transaction",
    "context deadline exceeded",
];

/// Reads the server behind `client`. Fails only when the server cannot be read at all
/// (unreachable, untrusted, wrong certificate); a failing endpoint is recorded in `errors`.
///
/// The order bounds the cost of a broken cluster: `/1.0` first (local data), then the member
/// list as a probe of the cluster database (when it does not answer within
/// [`DATABASE_PROBE`], nothing else that needs the database is asked), then the other lists
/// in parallel, then one probe per online member (a member that does not answer within
/// [`MEMBER_PROBE`] is not asked anything else).
pub async fn gather(client: &Client, opts: &GatherOptions) -> Result<ClusterState, ClientError> {
    let start = Instant::now();
    let before = client.requests();
    let mut st = ClusterState {
        remote: client.remote().to_string(),
        ..ClusterState::default()
    };
    let finish = |mut st: ClusterState| {
        st.requests = client.requests() - before;
        st.elapsed_ms = start.elapsed().as_millis() as u64;
        Ok(st)
    };
    match client.get::<Server>("/1.0").await {
        Ok(s) if s.auth == "untrusted" => {
            return Err(ClientError::Untrusted {
                remote: client.remote().to_string(),
            });
        }
        Ok(s) => st.server = Some(s),
        Err(e) if fatal(&e) => return Err(e),
        Err(ClientError::Api { status: 403, .. }) => {
            return Err(ClientError::Untrusted {
                remote: client.remote().to_string(),
            });
        }
        Err(e) => {
            // Starting up, shutting down, hanging: nothing else will answer either.
            record(&mut st.errors, "/1.0", &e);
            return finish(st);
        }
    }
    let clustered = st.clustered();

    const MEMBERS: &str = "/1.0/cluster/members?recursion=1";
    if clustered {
        let probe = client.get_within::<Vec<Member>>(MEMBERS, DATABASE_PROBE.min(client.timeout()));
        match probe.await {
            Ok(m) => st.members = m,
            Err(e) => {
                record(&mut st.errors, MEMBERS, &e);
                let no_leader = matches!(&e, ClientError::Timeout { .. })
                    || matches!(&e, ClientError::Api { status: 500 | 503, message, .. }
                        if NO_LEADER.iter().any(|m| message.contains(m)));
                if no_leader {
                    st.database_unavailable = st.errors.last().cloned();
                    return finish(st);
                }
            }
        }
    }
    let online = probe_members(client, &mut st, opts).await;
    read_lists(client, &mut st, opts.review).await;
    let mut jobs = member_jobs(&st, &online);
    if opts.review {
        jobs.extend(review_jobs(&st, &online));
    }
    run_jobs(client, &mut st, jobs, opts).await;
    finish(st)
}

/// The cluster-wide lists, in parallel.
async fn read_lists(client: &Client, st: &mut ClusterState, review: bool) {
    const WARNINGS: &str = "/1.0/warnings?recursion=1";
    const ALL_INSTANCES: &str = "/1.0/instances?recursion=1&all-projects=true";
    const ALL_INSTANCES_STATE: &str = "/1.0/instances?recursion=2&all-projects=true";
    // The instance list asks every member for its instances' state, so a member that does not
    // answer holds it up until the server's own timeout (30 s): it gets as long as a member
    // probe, and when that is not enough it is recorded as unread.
    let instances_timeout = if st.unresponsive_members.is_empty() {
        client.timeout()
    } else {
        MEMBER_PROBE.min(client.timeout())
    };
    let instances_p = if review {
        ALL_INSTANCES_STATE
    } else {
        ALL_INSTANCES
    };
    const OPERATIONS: &str = "/1.0/operations?recursion=1&all-projects=true";
    const POOLS: &str = "/1.0/storage-pools?recursion=1";
    const NETWORKS: &str = "/1.0/networks?recursion=1&all-projects=true";
    const PROJECTS: &str = "/1.0/projects?recursion=1";
    const CERTIFICATES: &str = "/1.0/certificates?recursion=1";
    const PROFILES: &str = "/1.0/profiles?recursion=1&all-projects=true";
    let (warnings, instances, operations, pools, networks, projects, certificates, profiles) = tokio::join!(
        client.get::<Vec<Warning>>(WARNINGS),
        client.get_within::<Vec<Instance>>(instances_p, instances_timeout),
        client.get::<Operations>(OPERATIONS),
        client.get::<Vec<StoragePool>>(POOLS),
        client.get::<Vec<Network>>(NETWORKS),
        client.get::<Vec<Project>>(PROJECTS),
        client.get::<Vec<Certificate>>(CERTIFICATES),
        client.get::<Vec<Profile>>(PROFILES),
    );
    let e = &mut st.errors;
    st.warnings = keep(e, WARNINGS, warnings);
    st.instances = keep(e, instances_p, instances);
    st.operations = keep(e, OPERATIONS, operations)
        .into_values()
        .flatten()
        .collect();
    st.pools = keep(e, POOLS, pools);
    st.networks = keep::<Vec<Network>>(e, NETWORKS, networks)
        .into_iter()
        .filter(|n| n.managed)
        .collect();
    st.projects = keep(e, PROJECTS, projects);
    st.certificates = keep(e, CERTIFICATES, certificates);
    st.profiles = keep(e, PROFILES, profiles);
}

/// Asks each online member for its own state (the probe and the first per-member view);
/// returns the members that answered. A member that does not answer in time is recorded as
/// unresponsive and asked nothing more.
async fn probe_members(
    client: &Client,
    st: &mut ClusterState,
    opts: &GatherOptions,
) -> Vec<String> {
    if !st.clustered() {
        return st
            .server
            .as_ref()
            .map(|s| vec![s.environment.server_name.clone()])
            .unwrap_or_default();
    }
    let online: Vec<String> = st
        .members
        .iter()
        .filter(|m| m.status == MemberStatus::Online)
        .map(|m| m.server_name.clone())
        .collect();
    let timeout = MEMBER_PROBE.min(client.timeout());
    let probes: Vec<(String, String, Result<MemberState, ClientError>)> = stream::iter(online)
        .map(|m| async move {
            let path = Job::MemberState(m.clone()).path();
            let r = client.get_within::<MemberState>(&path, timeout).await;
            (m, path, r)
        })
        .buffer_unordered(opts.concurrency.max(1))
        .collect()
        .await;
    let mut answered = Vec::new();
    for (m, path, r) in probes {
        match r {
            Ok(s) => {
                st.member_states.insert(m.clone(), s);
                answered.push(m);
            }
            Err(e) => {
                let silent = matches!(
                    e,
                    ClientError::Timeout { .. }
                        | ClientError::Unreachable { .. }
                        | ClientError::Api { status: 500.., .. }
                );
                if silent {
                    st.unresponsive_members.insert(m.clone(), e.to_string());
                } else {
                    answered.push(m);
                }
                record(&mut st.errors, &path, &e);
            }
        }
    }
    answered.sort();
    answered
}

/// Per-member views of the members that answered, per-project state of projects with limits,
/// and the logs of instances whose start failed.
fn member_jobs(st: &ClusterState, online: &[String]) -> Vec<Job> {
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

/// What `review` reads on top: each answering member's hardware and each pool's volumes.
fn review_jobs(st: &ClusterState, online: &[String]) -> Vec<Job> {
    let mut jobs: Vec<Job> = if st.clustered() {
        online
            .iter()
            .map(|m| Job::Resources(Some(m.clone()), m.clone()))
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

async fn run_jobs(client: &Client, st: &mut ClusterState, jobs: Vec<Job>, opts: &GatherOptions) {
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
            Ok(Outcome::PoolStatus(p, m, s)) => {
                st.pool_status.insert(OnMember { name: p, member: m }, s);
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
            Err(e) => record(&mut st.errors, &path, &e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_urls_name_project_and_instance() {
        assert_eq!(
            instance_of_url("/1.0/instances/c1"),
            Some(("default".into(), "c1".into()))
        );
        assert_eq!(
            instance_of_url("/1.0/instances/b1?project=team-b"),
            Some(("team-b".into(), "b1".into()))
        );
        assert_eq!(
            instance_of_url("/1.0/instances/c1/snapshots/s"),
            Some(("default".into(), "c1".into()))
        );
        assert_eq!(instance_of_url("/1.0/networks/x"), None);
    }
}
