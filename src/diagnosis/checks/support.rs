//! Small helpers the checks share: timestamps, warning subjects, certificates.

use super::finding::Kind;
use crate::diagnosis::cluster::ClusterState;
use crate::diagnosis::incus::api::Warning;

pub use crate::util::time::{human_duration, now, parse_rfc3339 as parse_time};

/// What a warning is about, from its `entity_url` (the reporting member when empty).
pub fn warning_subject(w: &Warning) -> (Kind, String, Option<String>) {
    let url = w.entity_url.as_str();
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let project = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("project="))
        .map(str::to_string)
        .or_else(|| (!w.project.is_empty()).then(|| w.project.clone()));
    let last = path.rsplit('/').next().unwrap_or("").to_string();
    let kind = if path.starts_with("/1.0/cluster/members/") {
        Kind::ClusterMember
    } else if path.starts_with("/1.0/storage-pools/") {
        Kind::StoragePool
    } else if path.starts_with("/1.0/networks/") {
        Kind::Network
    } else if path.starts_with("/1.0/instances/") {
        Kind::Instance
    } else {
        let name = if w.location.is_empty() {
            "local".to_string()
        } else {
            w.location.clone()
        };
        return (Kind::Server, name, None);
    };
    (kind, last, project)
}

/// Active warnings of one type.
pub fn warnings_of<'a>(
    state: &'a ClusterState,
    kind: &'a str,
) -> impl Iterator<Item = &'a Warning> {
    state.active_warnings().filter(move |w| w.kind == kind)
}

/// The leader's active "Offline cluster member" warnings about `member` (they name its address).
/// Only the database leader sends heartbeats: a warning raised by a member that is no longer
/// the leader is a leftover of an earlier outage, not news about this one.
pub fn heartbeat_failures<'a>(
    state: &'a ClusterState,
    member: &crate::diagnosis::incus::api::Member,
) -> Vec<&'a Warning> {
    let address = url_address(&member.url);
    let leader = state
        .members
        .iter()
        .find(|m| m.roles.iter().any(|r| r == "database-leader"))
        .map(|m| m.server_name.as_str());
    warnings_of(state, "Offline cluster member")
        .filter(|w| !address.is_empty() && w.last_message.contains(address))
        .filter(|w| leader.is_none_or(|l| w.location.is_empty() || w.location == l))
        .collect()
}

/// `(resource, member)` pairs a member cannot use: `Unavailable` in the member's own view
/// (`statuses`) or named by an active warning of type `warning`.
pub fn unavailable(
    statuses: &std::collections::BTreeMap<crate::diagnosis::cluster::OnMember, String>,
    state: &ClusterState,
    warning: &str,
) -> std::collections::BTreeSet<(String, String)> {
    let mut out: std::collections::BTreeSet<(String, String)> = statuses
        .iter()
        .filter(|(_, s)| s.as_str() == "Unavailable")
        .map(|(k, _)| (k.name.clone(), k.member.clone()))
        .collect();
    for w in warnings_of(state, warning) {
        out.insert((warning_subject(w).1, w.location.clone()));
    }
    out
}

/// `GET /1.0/warnings` evidence for a warning.
pub fn warning_evidence(w: &Warning) -> super::Evidence {
    let at = if w.location.is_empty() {
        String::new()
    } else {
        format!(" on {}", w.location)
    };
    super::Evidence::new(
        "GET /1.0/warnings",
        format!("{}{at}", w.kind),
        format!(
            "{} (seen {} times, last {})",
            w.last_message, w.count, w.last_seen_at
        ),
    )
}

/// The `NotAfter` of a PEM certificate, in Unix seconds, and its subject's common name.
pub fn certificate_expiry(pem: &str) -> Option<(i64, String)> {
    let (_, parsed) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).ok()?;
    let cert = parsed.parse_x509().ok()?;
    let not_after = cert.validity().not_after.timestamp();
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok())
        .unwrap_or("")
        .to_string();
    Some((not_after, cn))
}

/// `Some(host:port)` of a member URL (`https://127.0.0.12:8443` → `127.0.0.12:8443`).
pub fn url_address(url: &str) -> &str {
    url.trim_start_matches("https://").trim_end_matches('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warning_subjects_come_from_entity_urls() {
        let w = |url: &str| Warning {
            entity_url: url.into(),
            location: "m1".into(),
            ..Warning::default()
        };
        assert_eq!(
            warning_subject(&w("/1.0/storage-pools/p1")),
            (Kind::StoragePool, "p1".into(), None)
        );
        assert_eq!(
            warning_subject(&w("/1.0/instances/c1?project=dev")),
            (Kind::Instance, "c1".into(), Some("dev".into()))
        );
        assert_eq!(warning_subject(&w("")), (Kind::Server, "m1".into(), None));
    }
}
