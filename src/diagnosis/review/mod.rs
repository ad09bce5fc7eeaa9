//! `review`: what works today but will hurt tomorrow, rule by rule, each backed by the doc page
//! it links (`../shared/research/best-practices.md` lists them). Rules have the shape of
//! `doctor`'s checks (a [`Check`] over the [`ClusterState`], findings with evidence, docs and
//! fix commands), one per file with its table tests; none talks to the server. Rules that
//! would fire on almost every small cluster give one finding for the cluster.

pub mod support;

mod bridged_nic_without_filtering;
mod cluster_too_small;
mod container_privileged;
mod database_voters;
mod dir_storage_pool;
mod failover_capacity;
mod healing_without_shared_storage;
mod https_address_wildcard;
mod images_auto_update_disabled;
mod loop_backed_pool;
mod max_voters_even;
mod mixed_cpus_without_groups;
mod mixed_versions;
mod no_external_logging;
mod no_scheduled_snapshots;
mod remote_token_without_expiry;
mod snapshots_only_backup;
mod snapshots_without_expiry;
mod unrestricted_client_certificates;
mod weak_client_key;

use crate::diagnosis::checks::{Check, Context, Finding, Settings};
use crate::diagnosis::cluster::{ClusterState, EndpointError};

/// Every rule, in the order they run.
pub const ALL: &[Check] = &[
    failover_capacity::RULE,
    cluster_too_small::RULE,
    database_voters::RULE,
    max_voters_even::RULE,
    healing_without_shared_storage::RULE,
    container_privileged::RULE,
    snapshots_without_expiry::RULE,
    no_scheduled_snapshots::RULE,
    snapshots_only_backup::RULE,
    images_auto_update_disabled::RULE,
    dir_storage_pool::RULE,
    loop_backed_pool::RULE,
    https_address_wildcard::RULE,
    remote_token_without_expiry::RULE,
    unrestricted_client_certificates::RULE,
    bridged_nic_without_filtering::RULE,
    weak_client_key::RULE,
    no_external_logging::RULE,
    mixed_versions::RULE,
    mixed_cpus_without_groups::RULE,
];

/// Runs every rule; findings most important first.
pub fn run_all(ctx: &Context) -> Vec<Finding> {
    crate::diagnosis::checks::run(ALL, ctx)
}

/// The ids of every rule.
pub fn ids() -> Vec<&'static str> {
    ALL.iter().map(|r| r.id).collect()
}

/// What `review` prints with `--json`.
#[derive(Debug, serde::Serialize)]
pub struct Report {
    /// The remote that was reviewed.
    pub remote: String,
    /// Findings, most important first.
    pub findings: Vec<Finding>,
    /// Every rule that ran.
    pub rules: Vec<&'static str>,
    /// API requests sent.
    pub requests: usize,
    /// Wall time in milliseconds.
    pub elapsed_ms: u64,
    /// Endpoints that could not be read (their findings may be missing).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<EndpointError>,
    /// Whether every endpoint was read.
    pub complete: bool,
}

/// Runs every rule on `state`; with `project`, only findings about it and the cluster as a
/// whole.
pub fn review(state: &ClusterState, project: Option<&str>, settings: &Settings) -> Vec<Finding> {
    let ctx = Context {
        state,
        now: crate::diagnosis::checks::support::now(),
        settings: settings.clone(),
    };
    let mut findings = run_all(&ctx);
    if let Some(p) = project {
        findings.retain(|f| f.project.as_deref().is_none_or(|fp| fp == p));
    }
    findings
}

impl Report {
    /// The report of `findings` on what `state` holds.
    pub fn of(state: &ClusterState, findings: Vec<Finding>) -> Report {
        Report {
            remote: state.remote.clone(),
            findings,
            rules: ids(),
            requests: state.requests,
            elapsed_ms: state.elapsed_ms,
            complete: state.errors.is_empty(),
            unreadable: state.errors.clone(),
        }
    }
}
