//! Reading the cluster: cluster-wide lists in parallel (with `recursion`), then per-member views
//! of the members that are online only (a dead member must not cost its timeout), per-project
//! state of projects with limits, and the logs of instances whose start failed.

use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};

use super::jobs::{Job, member_jobs, review_jobs, run_jobs};
use super::{ClusterState, EndpointError};
use crate::diagnosis::incus::api::MemberStatus;
use crate::diagnosis::incus::api::{
    Certificate, Instance, Member, MemberState, Network, Operations, Profile, Project, Server,
    StoragePool, Warning,
};
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

pub(super) fn record(errors: &mut Vec<EndpointError>, path: &str, e: &ClientError) {
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
/// [`MEMBER_PROBE`] is not asked anything else). While those run, the database is probed
/// again every [`DATABASE_RECHECK`]: quorum lost in the meantime ends the read in seconds.
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

    if clustered {
        match probe_database(client).await {
            Probe::Answered(m) => st.members = m,
            Probe::Failed(e) => record(&mut st.errors, MEMBERS, &e),
            Probe::Unavailable(e) => {
                record(&mut st.errors, MEMBERS, &e);
                st.database_unavailable = st.errors.last().cloned();
                return finish(st);
            }
        }
    }
    // Quorum can be lost after the probe answered (a leader keeps answering for a few seconds
    // after its peers died): then every request below hangs until the server's timeout. While
    // they run, the database is probed again; when it stops answering, the read ends there.
    let lost = {
        let work = async {
            let online = probe_members(client, &mut st, opts).await;
            read_lists(client, &mut st, opts.review).await;
            let mut jobs = member_jobs(&st, &online);
            if opts.review {
                jobs.extend(review_jobs(&st, &online));
            }
            run_jobs(client, &mut st, jobs, opts).await;
        };
        tokio::select! {
            () = work => None,
            e = database_lost(client), if clustered => Some(e),
        }
    };
    if let Some(e) = lost {
        record(&mut st.errors, MEMBERS, &e);
        st.database_unavailable = st.errors.last().cloned();
    }
    finish(st)
}

const MEMBERS: &str = "/1.0/cluster/members?recursion=1";
/// How long the reads after the first probe run before the database is probed again (and
/// then again as long as they run).
pub const DATABASE_RECHECK: Duration = Duration::from_secs(3);

/// What the database probe found.
enum Probe {
    /// The member list.
    Answered(Vec<Member>),
    /// An error that says nothing about the database (a decode error, a 403 on the list).
    Failed(ClientError),
    /// No leader, or no answer within [`DATABASE_PROBE`].
    Unavailable(ClientError),
}

/// Asks for the member list, which needs the cluster database, within [`DATABASE_PROBE`].
async fn probe_database(client: &Client) -> Probe {
    match client
        .get_within::<Vec<Member>>(MEMBERS, DATABASE_PROBE.min(client.timeout()))
        .await
    {
        Ok(m) => Probe::Answered(m),
        Err(e) => {
            let no_leader = matches!(&e, ClientError::Timeout { .. })
                || matches!(&e, ClientError::Api { status: 500 | 503, message, .. }
                    if NO_LEADER.iter().any(|m| message.contains(m)));
            if no_leader {
                Probe::Unavailable(e)
            } else {
                Probe::Failed(e)
            }
        }
    }
}

/// Returns (with why) once the database stops answering; probes every [`DATABASE_RECHECK`]
/// and never returns while it answers.
async fn database_lost(client: &Client) -> ClientError {
    loop {
        tokio::time::sleep(DATABASE_RECHECK).await;
        if let Probe::Unavailable(e) = probe_database(client).await {
            return e;
        }
    }
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
