//! Deterministic checks of a cluster's state, one per file, like k8sgpt's analyzers. Each
//! reads the [`ClusterState`] and returns findings with evidence and the commands that fix
//! them; none talks to the server. A healthy cluster gives no finding: a check that fires on
//! a warning that does not matter here (VMs unsupported on a cluster without VMs) is a bug.

pub mod finding;
pub mod support;
#[cfg(test)]
pub mod testkit;

mod bridge_config;
mod certificate_expiring;
mod certificate_update_failed;
mod cgroup_controller_missing;
mod daemon_starting;
mod database_quorum;
mod incus_warning;
mod instance_autostart_failed;
mod instance_error;
mod instance_start_failed;
mod instance_type_unsupported;
mod member_blocked;
mod member_evacuated;
mod member_offline;
mod network_unavailable;
mod operation_failed;
mod operation_stuck;
mod project_limit;
mod resource_pending_or_errored;
mod security_module_disabled;
mod storage_pool_full;
mod storage_pool_unavailable;
mod time_skew;
mod virtiofsd_missing;

use crate::diagnosis::cluster::ClusterState;
pub use finding::{DocLink, DocRef, Evidence, Finding, Kind, Severity};

/// Thresholds, all with the defaults an admin would expect.
#[derive(Debug, Clone)]
pub struct Settings {
    /// A pool at or above this share of space or inodes used is full (percent).
    pub pool_full_percent: f64,
    /// Certificates expiring within this many days.
    pub certificate_days: i64,
    /// Project usage at or above this share of a limit (percent).
    pub project_percent: f64,
    /// A task running longer than this is stuck (seconds).
    pub operation_stuck_secs: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            pool_full_percent: 90.0,
            certificate_days: 30,
            project_percent: 90.0,
            operation_stuck_secs: 600,
        }
    }
}

/// What every check reads.
pub struct Context<'a> {
    /// The cluster.
    pub state: &'a ClusterState,
    /// Now, in Unix seconds.
    pub now: i64,
    /// Thresholds.
    pub settings: Settings,
}

/// One check.
pub struct Check {
    /// Its name, used as the finding id.
    pub id: &'static str,
    /// The check.
    pub run: fn(&Context) -> Vec<Finding>,
    /// Incus warning types this check accounts for (reported by it or judged harmless here),
    /// so that `incus-warning` does not report them again.
    pub warnings: &'static [&'static str],
}

/// Every check, in the order they run.
pub const ALL: &[Check] = &[
    daemon_starting::CHECK,
    database_quorum::CHECK,
    member_offline::CHECK,
    member_blocked::CHECK,
    member_evacuated::CHECK,
    time_skew::CHECK,
    storage_pool_unavailable::CHECK,
    storage_pool_full::CHECK,
    resource_pending_or_errored::CHECK,
    network_unavailable::CHECK,
    instance_error::CHECK,
    instance_start_failed::CHECK,
    instance_autostart_failed::CHECK,
    instance_type_unsupported::CHECK,
    certificate_expiring::CHECK,
    certificate_update_failed::CHECK,
    security_module_disabled::CHECK,
    cgroup_controller_missing::CHECK,
    virtiofsd_missing::CHECK,
    bridge_config::CHECK,
    project_limit::CHECK,
    operation_stuck::CHECK,
    operation_failed::CHECK,
    incus_warning::CHECK,
];

/// Warning types some check accounts for.
pub fn claimed_warning(kind: &str) -> bool {
    ALL.iter().any(|c| c.warnings.contains(&kind))
}

/// Runs every check; findings most severe first.
pub fn run_all(ctx: &Context) -> Vec<Finding> {
    run(ALL, ctx)
}

/// Runs `checks` (doctor's, or review's rules); findings most severe first, then by subject.
pub fn run(checks: &[Check], ctx: &Context) -> Vec<Finding> {
    let mut out: Vec<Finding> = checks.iter().flat_map(|c| (c.run)(ctx)).collect();
    out.sort_by(|a, b| {
        a.severity
            .cmp(&b.severity)
            .then_with(|| a.subject.cmp(&b.subject))
    });
    out
}

/// The ids of every check.
pub fn ids() -> Vec<&'static str> {
    ALL.iter().map(|c| c.id).collect()
}
