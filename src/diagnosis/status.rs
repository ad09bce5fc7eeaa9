//! `incus-ai status`: the cluster at a glance.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::diagnosis::cluster::{ClusterState, EndpointError};

/// One member's line.
#[derive(Debug, Serialize)]
pub struct MemberLine {
    /// Name.
    pub name: String,
    /// Status.
    pub status: String,
    /// Roles.
    pub roles: Vec<String>,
    /// Status message.
    pub message: String,
    /// Instances located on it.
    pub instances: usize,
}

/// One pool or network.
#[derive(Debug, Serialize)]
pub struct ResourceLine {
    /// Name.
    pub name: String,
    /// Driver or network type.
    pub kind: String,
    /// Cluster-wide status.
    pub status: String,
    /// Members where the member's own view is not `Created`/`Online`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub per_member: BTreeMap<String, String>,
}

/// What `status --json` prints.
#[derive(Debug, Serialize)]
pub struct Status {
    /// Remote.
    pub remote: String,
    /// Incus version.
    pub version: String,
    /// Part of a cluster.
    pub clustered: bool,
    /// Members.
    pub members: Vec<MemberLine>,
    /// Active warnings by severity.
    pub warnings: BTreeMap<String, usize>,
    /// Instances by status.
    pub instances: BTreeMap<String, usize>,
    /// Instances by member, then status.
    pub instances_by_member: BTreeMap<String, BTreeMap<String, usize>>,
    /// Storage pools.
    pub storage_pools: Vec<ResourceLine>,
    /// Managed networks.
    pub networks: Vec<ResourceLine>,
    /// API requests sent.
    pub requests: usize,
    /// Wall time in milliseconds.
    pub elapsed_ms: u64,
    /// Endpoints that could not be read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<EndpointError>,
}

/// Summarizes a cluster's state.
pub fn summarize(st: &ClusterState) -> Status {
    let mut instances = BTreeMap::new();
    let mut by_member: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for i in &st.instances {
        *instances.entry(i.status.clone()).or_insert(0) += 1;
        let m = if i.location.is_empty() {
            "none".to_string()
        } else {
            i.location.clone()
        };
        *by_member
            .entry(m)
            .or_default()
            .entry(i.status.clone())
            .or_insert(0) += 1;
    }
    let mut warnings = BTreeMap::new();
    for w in st.active_warnings() {
        *warnings.entry(w.severity.clone()).or_insert(0) += 1;
    }
    let per_member = |statuses: &BTreeMap<crate::diagnosis::cluster::OnMember, String>,
                      name: &str| {
        statuses
            .iter()
            .filter(|(k, s)| k.name == name && s.as_str() != "Created")
            .map(|(k, s)| (k.member.clone(), s.clone()))
            .collect()
    };
    Status {
        remote: st.remote.clone(),
        version: st
            .server
            .as_ref()
            .map(|s| s.environment.server_version.clone())
            .unwrap_or_default(),
        clustered: st.clustered(),
        members: st
            .members
            .iter()
            .map(|m| MemberLine {
                name: m.server_name.clone(),
                status: m.status.to_string(),
                roles: m.roles.clone(),
                message: m.message.clone(),
                instances: st
                    .instances
                    .iter()
                    .filter(|i| i.location == m.server_name)
                    .count(),
            })
            .collect(),
        warnings,
        instances,
        instances_by_member: by_member,
        storage_pools: st
            .pools
            .iter()
            .map(|p| ResourceLine {
                name: p.name.clone(),
                kind: p.driver.clone(),
                status: p.status.clone(),
                per_member: per_member(&st.pool_status, &p.name),
            })
            .collect(),
        networks: st
            .networks
            .iter()
            .map(|n| ResourceLine {
                name: n.name.clone(),
                kind: n.kind.clone(),
                status: n.status.clone(),
                per_member: per_member(&st.network_status, &n.name),
            })
            .collect(),
        requests: st.requests,
        elapsed_ms: st.elapsed_ms,
        unreadable: st.errors.clone(),
    }
}

fn counts(m: &BTreeMap<String, usize>) -> String {
    if m.is_empty() {
        return "none".into();
    }
    m.iter()
        .map(|(k, v)| format!("{v} {}", k.to_lowercase()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The human rendering.
pub fn render(s: &Status) -> String {
    let mut out = format!(
        "{} (Incus {}{})\n",
        s.remote,
        s.version,
        if s.clustered {
            format!(", cluster of {} members", s.members.len())
        } else {
            ", standalone".into()
        }
    );
    if !s.members.is_empty() {
        out.push_str("\nMEMBERS\n");
        for m in &s.members {
            out.push_str(&format!(
                "  {:<14} {:<10} {:<28} {:>3} instances  {}\n",
                m.name,
                m.status.to_uppercase(),
                m.roles.join(","),
                m.instances,
                m.message
            ));
        }
    }
    out.push_str(&format!("\nWARNINGS   {}\n", counts(&s.warnings)));
    out.push_str(&format!("INSTANCES  {}\n", counts(&s.instances)));
    for (m, c) in &s.instances_by_member {
        out.push_str(&format!("  {:<14} {}\n", m, counts(c)));
    }
    let resources = |title: &str, rs: &[ResourceLine], out: &mut String| {
        out.push_str(&format!("{title}\n"));
        for r in rs {
            let extra: Vec<String> = r
                .per_member
                .iter()
                .map(|(m, s)| format!("{s} on {m}"))
                .collect();
            out.push_str(&format!(
                "  {:<14} {:<8} {}{}\n",
                r.name,
                r.kind,
                r.status.to_uppercase(),
                if extra.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", extra.join(", "))
                }
            ));
        }
    };
    resources("STORAGE POOLS", &s.storage_pools, &mut out);
    resources("NETWORKS", &s.networks, &mut out);
    if let Some(line) = EndpointError::summary(&s.unreadable) {
        out.push_str(&format!("\n{line}\n"));
    }
    out
}
