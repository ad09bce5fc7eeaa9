//! `incus-ai doctor`: read the cluster, run every check, link each finding to the doc sections
//! that explain it (through the index), most severe first.

use serde::Serialize;

use crate::diagnosis::checks::{self, Context, DocLink, Finding, Settings};
use crate::diagnosis::cluster::{ClusterState, EndpointError};
use crate::knowledge::index::{Scope, Searcher};

/// What `doctor` prints with `--json`.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The remote that was checked.
    pub remote: String,
    /// Findings, most severe first.
    pub findings: Vec<Finding>,
    /// Every check that ran.
    pub checks: Vec<&'static str>,
    /// API requests sent.
    pub requests: usize,
    /// Wall time in milliseconds.
    pub elapsed_ms: u64,
    /// Endpoints that could not be read (their findings may be missing).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<EndpointError>,
    /// Whether every endpoint was read: only then does "no findings" mean healthy.
    pub complete: bool,
}

/// Whether a finding concerns `member` (cluster-wide findings always do).
pub fn concerns_member(f: &Finding, member: &str) -> bool {
    f.concerns_member(member)
}

/// Runs every check on `state`.
pub fn diagnose(state: &ClusterState, settings: Settings, member: Option<&str>) -> Vec<Finding> {
    let ctx = Context {
        state,
        now: checks::support::now(),
        settings,
    };
    let mut findings = checks::run_all(&ctx);
    if let Some(m) = member {
        findings.retain(|f| concerns_member(f, m));
    }
    findings
}

/// The docs site findings link to when no index says which: the one of the version the server
/// runs (`6.0.x` → `stable-6.0`, as `mirror` picks), else `main`.
pub const DEFAULT_DOCS_BASE: &str = "https://linuxcontainers.org/incus/docs/main/";

/// The root of the docs site findings link to: the one the index was built from, else the docs
/// of the server's version (see [`DEFAULT_DOCS_BASE`]).
pub fn docs_base(searcher: Option<&Searcher>, state: Option<&ClusterState>) -> String {
    if let Some(base) = searcher.and_then(Searcher::docs_base) {
        return base;
    }
    let version = state
        .and_then(|s| s.server.as_ref())
        .map(|s| s.environment.server_version.as_str())
        .unwrap_or_default();
    url::Url::parse(DEFAULT_DOCS_BASE)
        .ok()
        .and_then(|u| crate::knowledge::mirror::docs_url_for_version(&u, version))
        .map_or_else(|| DEFAULT_DOCS_BASE.to_string(), |u| u.to_string())
}

/// Fills each finding's `docs`: the page its advice comes from (on the docs site at `base`),
/// then, when there is an index, related sections for its topic.
pub fn attach_docs(findings: &mut [Finding], searcher: Option<&Searcher>, base: &str) {
    for f in findings {
        let mut docs: Vec<DocLink> = f
            .doc
            .iter()
            .map(|d| DocLink {
                title: d.title.to_string(),
                url: d.url(base),
            })
            .collect();
        if let Some(s) = searcher.filter(|_| !f.docs_query.is_empty())
            && let Ok(hits) = s.search(&f.docs_query, Scope::Docs, 3)
        {
            for h in hits {
                if docs.len() < 3 && !docs.iter().any(|d| d.url == h.url) {
                    docs.push(DocLink {
                        title: h.section,
                        url: h.url,
                    });
                }
            }
        }
        f.docs = docs;
    }
}

impl Report {
    /// The report of `findings` on what `state` holds.
    pub fn of(state: &ClusterState, findings: Vec<Finding>) -> Report {
        Report {
            remote: state.remote.clone(),
            findings,
            checks: checks::ids(),
            requests: state.requests,
            elapsed_ms: state.elapsed_ms,
            complete: state.errors.is_empty(),
            unreadable: state.errors.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::{Kind, Severity};

    #[test]
    fn member_filter_keeps_the_member_its_instances_and_cluster_wide_findings() {
        let f =
            |kind, name: &str, title: &str| Finding::new("x", Severity::High, kind, name, title);
        assert!(concerns_member(
            &f(Kind::ClusterMember, "m2", "Cluster member m2 is offline"),
            "m2"
        ));
        assert!(concerns_member(
            &f(
                Kind::Instance,
                "c2",
                "Instance c2 is in the Error state on m2"
            )
            .on_member("m2"),
            "m2"
        ));
        assert!(concerns_member(&f(Kind::Cluster, "local", "quorum"), "m2"));
        assert!(!concerns_member(
            &f(Kind::ClusterMember, "m3", "Cluster member m3 is offline"),
            "m2"
        ));
        assert!(!concerns_member(
            &f(
                Kind::Instance,
                "c2",
                "Instance c2 is in the Error state on m22"
            )
            .on_member("m22"),
            "m2"
        ));
    }
}
