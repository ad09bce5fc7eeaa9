//! Builds cluster states for the checks' table tests: a healthy three-member cluster to start
//! from, and one method per thing a test changes.

use super::{Check, Context, Finding, Settings};
use crate::diagnosis::cluster::{ClusterState, EndpointError, OnMember};
use crate::diagnosis::incus::api::{
    Certificate, Environment, Instance, InstanceType, Member, MemberState, MemberStatus, Network,
    Operation, OperationStatus, PoolUsage, Project, ProjectResource, Server, StoragePool, Usage,
    Warning,
};

/// "Now" in every table test: 2026-11-26T07:00:00Z.
pub const NOW: i64 = 1_795_676_400;

/// A cluster state under construction.
pub struct StateBuilder {
    st: ClusterState,
}

impl StateBuilder {
    /// A healthy cluster: members `m1`..`mN` online at 127.0.0.1N:8443, the first three
    /// database voters with `m1` the leader, a `default` dir pool on every member at 10%.
    pub fn cluster(members: usize) -> StateBuilder {
        let mut st = ClusterState {
            remote: "local".into(),
            server: Some(Server {
                auth: "trusted".into(),
                environment: Environment {
                    server_name: "m1".into(),
                    server_clustered: true,
                    server_version: "6.0.4".into(),
                    ..Environment::default()
                },
                ..Server::default()
            }),
            ..ClusterState::default()
        };
        for n in 1..=members {
            let name = format!("m{n}");
            let mut roles = Vec::new();
            if n == 1 {
                roles.push("database-leader".to_string());
            }
            if n <= 3 {
                roles.push("database".to_string());
            }
            st.members.push(Member {
                server_name: name.clone(),
                url: format!("https://127.0.0.{}:8443", 10 + n),
                database: n <= 3,
                roles,
                status: MemberStatus::Online,
                message: "Fully operational".into(),
                ..Member::default()
            });
            let mut state = MemberState::default();
            state.storage_pools.insert(
                "default".into(),
                PoolUsage {
                    space: Usage {
                        used: 10,
                        total: 100,
                    },
                    inodes: Usage {
                        used: 1,
                        total: 100,
                    },
                },
            );
            st.member_states.insert(name.clone(), state);
            st.pool_status
                .insert(OnMember::new("default", &name), "Created".into());
        }
        st.pools.push(StoragePool {
            name: "default".into(),
            driver: "dir".into(),
            status: "Created".into(),
            ..StoragePool::default()
        });
        StateBuilder { st }
    }

    /// A standalone server named `local`.
    pub fn standalone() -> StateBuilder {
        let mut b = StateBuilder::cluster(0);
        if let Some(s) = &mut b.st.server {
            s.environment.server_clustered = false;
            s.environment.server_name = "local".into();
        }
        b
    }

    /// Changes member `name`.
    pub fn member(mut self, name: &str, f: impl FnOnce(&mut Member)) -> Self {
        let m = self
            .st
            .members
            .iter_mut()
            .find(|m| m.server_name == name)
            .expect("a member of the built cluster");
        f(m);
        self
    }

    /// Sets a member's status (and message).
    pub fn status(self, name: &str, status: MemberStatus, message: &str) -> Self {
        self.member(name, |m| {
            m.status = status;
            m.message = message.into();
        })
    }

    /// Adds an active warning of `kind` raised by member `location` about `entity_url`.
    pub fn warning(mut self, kind: &str, location: &str, entity_url: &str, message: &str) -> Self {
        self.st.warnings.push(Warning {
            uuid: format!("w{}", self.st.warnings.len()),
            kind: kind.into(),
            location: location.into(),
            entity_url: entity_url.into(),
            last_message: message.into(),
            severity: "moderate".into(),
            status: "new".into(),
            count: 1,
            ..Warning::default()
        });
        self
    }

    /// Marks every warning resolved.
    pub fn resolve_warnings(mut self) -> Self {
        for w in &mut self.st.warnings {
            w.status = "resolved".into();
        }
        self
    }

    /// Adds a running container `name` on `location` in project `default`.
    pub fn instance(self, name: &str, location: &str) -> Self {
        self.instance_with(name, location, |_| {})
    }

    /// Adds an instance and changes it.
    pub fn instance_with(
        mut self,
        name: &str,
        location: &str,
        f: impl FnOnce(&mut Instance),
    ) -> Self {
        let mut i = Instance {
            name: name.into(),
            project: "default".into(),
            status: "Running".into(),
            status_code: 103,
            location: location.into(),
            kind: InstanceType::Container,
            ..Instance::default()
        };
        f(&mut i);
        self.st.instances.push(i);
        self
    }

    /// Adds an operation.
    pub fn operation(
        mut self,
        status: OperationStatus,
        description: &str,
        f: impl FnOnce(&mut Operation),
    ) -> Self {
        let mut o = Operation {
            id: format!("op{}", self.st.operations.len()),
            class: "task".into(),
            description: description.into(),
            status,
            created_at: "2026-11-26T06:59:00Z".into(),
            location: "m1".into(),
            ..Operation::default()
        };
        f(&mut o);
        self.st.operations.push(o);
        self
    }

    /// Sets the usage of pool `pool` on `member` (used of total, space and inodes alike).
    pub fn pool_usage(mut self, pool: &str, member: &str, used: u64, total: u64) -> Self {
        let u = Usage { used, total };
        self.st
            .member_states
            .entry(member.into())
            .or_default()
            .storage_pools
            .insert(
                pool.into(),
                PoolUsage {
                    space: u,
                    inodes: u,
                },
            );
        self
    }

    /// Sets a pool's status in one member's view.
    pub fn pool_status(mut self, pool: &str, member: &str, status: &str) -> Self {
        self.st
            .pool_status
            .insert(OnMember::new(pool, member), status.into());
        self
    }

    /// Sets the cluster-wide status of pool `pool`.
    pub fn pool_state(mut self, pool: &str, status: &str) -> Self {
        if let Some(p) = self.st.pools.iter_mut().find(|p| p.name == pool) {
            p.status = status.into();
        }
        self
    }

    /// Adds a managed network of `kind` with a status.
    pub fn network(mut self, name: &str, kind: &str, status: &str) -> Self {
        self.st.networks.push(Network {
            name: name.into(),
            kind: kind.into(),
            managed: true,
            status: status.into(),
            ..Network::default()
        });
        self
    }

    /// Sets a network's status in one member's view.
    pub fn network_status(mut self, net: &str, member: &str, status: &str) -> Self {
        self.st
            .network_status
            .insert(OnMember::new(net, member), status.into());
        self
    }

    /// Adds project `name` with `resource` used `usage` of `limit`.
    pub fn project_usage(mut self, name: &str, resource: &str, usage: i64, limit: i64) -> Self {
        if !self.st.projects.iter().any(|p| p.name == name) {
            self.st.projects.push(Project {
                name: name.into(),
                ..Project::default()
            });
        }
        self.st
            .project_states
            .entry(name.into())
            .or_default()
            .resources
            .insert(resource.into(), ProjectResource { limit, usage });
        self
    }

    /// Adds a trusted certificate.
    pub fn certificate(mut self, name: &str, kind: &str, pem: &str) -> Self {
        self.st.certificates.push(Certificate {
            name: name.into(),
            kind: kind.into(),
            certificate: pem.into(),
            ..Certificate::default()
        });
        self
    }

    /// Sets a server configuration key.
    pub fn config(mut self, key: &str, value: &str) -> Self {
        if let Some(s) = &mut self.st.server {
            s.config.insert(key.into(), value.into());
        }
        self
    }

    /// Records an endpoint that could not be read.
    pub fn unreadable(mut self, path: &str, status: Option<u16>, message: &str) -> Self {
        self.st.errors.push(EndpointError {
            path: path.into(),
            status,
            message: message.into(),
        });
        self
    }

    /// Changes the state directly.
    pub fn with(mut self, f: impl FnOnce(&mut ClusterState)) -> Self {
        f(&mut self.st);
        self
    }

    /// The state.
    pub fn build(self) -> ClusterState {
        self.st
    }
}

/// Runs `check` on `st` at [`NOW`] with the default thresholds.
pub fn run(check: &Check, st: &ClusterState) -> Vec<Finding> {
    let ctx = Context {
        state: st,
        now: NOW,
        settings: Settings::default(),
    };
    (check.run)(&ctx)
}

/// `(severity, subject)` of each finding.
pub fn summary(findings: &[Finding]) -> Vec<(String, String)> {
    findings
        .iter()
        .map(|f| (f.severity.as_str().to_string(), f.subject.to_string()))
        .collect()
}

/// One case of a table: its name, the state, the `(severity, subject)` pairs expected.
pub type Case<'a> = (&'a str, ClusterState, Vec<(&'a str, &'a str)>);

/// A table of cases.
pub fn table(check: &Check, cases: Vec<Case>) {
    for (name, st, want) in cases {
        let got = summary(&run(check, &st));
        let want: Vec<(String, String)> = want
            .into_iter()
            .map(|(s, subj)| (s.to_string(), subj.to_string()))
            .collect();
        assert_eq!(got, want, "{}: case {name:?}", check.id);
    }
}
