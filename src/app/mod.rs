//! The application layer, below the CLI (which parses arguments and renders) and shared by
//! the commands and the watch: one read of a cluster judged by the doctor's checks and, when
//! asked, the review's rules, each finding with its doc links, with the checks' settings made
//! once from the configuration; and the running server's configuration reference for the docs.

mod reference;

pub use reference::server_reference;

use crate::diagnosis::checks::{Finding, Settings};
use crate::diagnosis::cluster::{self, ClusterState, GatherOptions};
use crate::diagnosis::incus::{Client, ClientError};
use crate::diagnosis::{doctor, review};
use crate::knowledge::index::Searcher;

/// One read of a cluster and what it shows.
#[derive(Debug)]
pub struct Judged {
    /// What was read.
    pub state: ClusterState,
    /// The doctor's findings (faults), most severe first.
    pub faults: Vec<Finding>,
    /// The review's findings (advice), when it ran.
    pub advice: Vec<Finding>,
}

impl Judged {
    /// Whether every endpoint was read (only then does "no findings" mean healthy).
    pub fn complete(&self) -> bool {
        self.state.errors.is_empty() && self.state.database_unavailable.is_none()
    }
}

/// Reads the cluster behind `client` once (with what the review needs on top when
/// `with_review`), runs the doctor's checks with `settings` (and the review's rules), and links
/// each finding to its doc page (and, with `searcher`, related sections).
pub async fn judge(
    client: &Client,
    settings: &Settings,
    with_review: bool,
    searcher: Option<&Searcher>,
) -> Result<Judged, ClientError> {
    let opts = GatherOptions {
        review: with_review,
        ..GatherOptions::default()
    };
    let state = cluster::gather(client, &opts).await?;
    let base = doctor::docs_base(searcher, Some(&state));
    let mut faults = doctor::diagnose(&state, settings.clone(), None);
    doctor::attach_docs(&mut faults, searcher, &base);
    let mut advice = if with_review {
        review::review(&state, None, settings)
    } else {
        Vec::new()
    };
    doctor::attach_docs(&mut advice, searcher, &base);
    Ok(Judged {
        state,
        faults,
        advice,
    })
}
