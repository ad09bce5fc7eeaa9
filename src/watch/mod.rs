//! `incus-ai watch`: the doctor on duty. Each cycle reads every remote once (the doctor's
//! checks; the review's rules when they are due), the [`ledger`] turns findings into
//! transitions (fired, resolved, held, silenced), the [`outbox`] writes each transition down
//! for each [`sinks`] before it is sent, and one worker per sink delivers its queue in order,
//! with retries, without holding up the others or the checks. Cycles run every interval and at
//! once when Incus's own event stream says something relevant happened. No model is involved:
//! every alert carries the doctor's evidence, doc link and fix commands.

pub mod ledger;
pub mod metrics;
pub mod outbox;
pub mod rules;
pub mod silences;
pub mod sinks;

pub mod events;

mod deliver;
mod read;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

use crate::diagnosis::incus::Client;
use ledger::Ledger;
use outbox::Outbox;
use silences::Silences;
use sinks::Sink;

pub use deliver::{Workers, drain_all, heartbeats, resend_firing};

/// How the watch runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Between two cycles.
    pub interval: Duration,
    /// Between two runs of the review's rules.
    pub review_every: Duration,
    /// Complete reads a finding must be absent from before it resolves.
    pub resolve_after: u32,
    /// Between two sends of what still fires to Alertmanager.
    pub resend: Duration,
    /// Where alerts go.
    pub sinks: Vec<Sink>,
    /// The checks' thresholds.
    pub checks: crate::diagnosis::checks::Settings,
}

/// A remote to watch.
#[derive(Debug, Clone)]
pub struct Remote {
    /// Its name.
    pub name: String,
    /// Its read-only client.
    pub client: Client,
}

/// Where the watch keeps its state: `<data dir>/watch/`.
#[derive(Debug, Clone)]
pub struct Files {
    dir: PathBuf,
}

impl Files {
    /// The watch's folder in data dir `root`.
    pub fn new(root: &Path) -> Files {
        Files {
            dir: root.join("watch"),
        }
    }
    /// The ledger.
    pub fn ledger(&self) -> PathBuf {
        self.dir.join("ledger.json")
    }
    /// The silences.
    pub fn silences(&self) -> PathBuf {
        self.dir.join("silences.json")
    }
    /// The outbox folder.
    pub fn outbox(&self) -> PathBuf {
        self.dir.join("outbox")
    }
    /// The lock one running watch holds.
    pub fn lock(&self) -> PathBuf {
        self.dir.join("lock")
    }
}

/// Why the watch stopped.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// Its state could not be written.
    #[error("cannot write {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

fn read_json<T: serde::de::DeserializeOwned + Default>(path: &Path) -> T {
    match crate::util::fsx::read_regular(path, 64 << 20) {
        Ok(b) => serde_json::from_slice(&b).unwrap_or_else(|e| {
            tracing::warn!("{} is damaged ({e}); starting from nothing", path.display());
            T::default()
        }),
        Err(_) => T::default(),
    }
}

fn write_json<T: Serialize>(path: &Path, v: &T) -> Result<(), WatchError> {
    let bytes = serde_json::to_vec_pretty(v).map_err(|e| WatchError::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    })?;
    crate::util::fsx::write_atomic(path, &bytes).map_err(|source| WatchError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// The ledger as it was written down (empty when there is none).
pub fn load_ledger(files: &Files) -> Ledger {
    read_json(&files.ledger())
}

/// The silences as they were written down.
pub fn load_silences(files: &Files) -> Silences {
    read_json(&files.silences())
}

/// Writes the silences down.
pub fn save_silences(files: &Files, s: &Silences) -> Result<(), WatchError> {
    write_json(&files.silences(), s)
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// What one cycle did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CycleReport {
    /// Remotes read, and whether completely.
    pub remotes: Vec<(String, bool)>,
    /// Transitions written to the outbox.
    pub transitions: Vec<ledger::Transition>,
    /// Faults firing after the cycle (the review's advice not counted).
    pub firing: usize,
    /// Requests sent to Incus.
    pub requests: usize,
    /// Wall time in milliseconds.
    pub elapsed_ms: u64,
}

/// The running watch: its state, shared by the cycle, the sink workers and `/metrics`.
pub struct Watch {
    files: Files,
    settings: Settings,
    remotes: Vec<Remote>,
    /// The ledger.
    pub ledger: Arc<Mutex<Ledger>>,
    /// The outbox.
    pub outbox: Arc<Mutex<Outbox>>,
    /// Counters for `/metrics`.
    pub counters: Arc<Mutex<metrics::Counters>>,
}

impl Watch {
    /// The watch of `remotes`, with the state written in `files`.
    pub fn new(files: Files, settings: Settings, remotes: Vec<Remote>) -> Watch {
        Watch {
            ledger: Arc::new(Mutex::new(load_ledger(&files))),
            outbox: Arc::new(Mutex::new(Outbox::open(&files.outbox()))),
            counters: Arc::default(),
            files,
            settings,
            remotes,
        }
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The remotes watched.
    pub fn remotes(&self) -> &[Remote] {
        &self.remotes
    }

    /// One cycle: every remote read (the review when it is due), the ledger updated and
    /// written down, and each transition written to the outbox of each sink that wants it.
    pub async fn cycle(&self) -> Result<CycleReport, WatchError> {
        let start = std::time::Instant::now();
        let mut report = CycleReport::default();
        let silences = load_silences(&self.files);
        for remote in &self.remotes {
            let now = now();
            let last_review = self
                .ledger
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remotes
                .get(&remote.name)
                .and_then(|r| r.last_review);
            let review =
                last_review.is_none_or(|t| now - t >= self.settings.review_every.as_secs() as i64);
            let before = remote.client.requests();
            let read = read::remote(remote, &self.settings.checks, review).await;
            report.requests += remote.client.requests() - before;
            report.remotes.push((remote.name.clone(), read.complete));
            let transitions = {
                let mut l = self.ledger.lock().unwrap_or_else(|e| e.into_inner());
                let t = l.observe(&read, now, self.settings.resolve_after, &silences);
                write_json(&self.files.ledger(), &*l)?;
                t
            };
            let mut outbox = self.outbox.lock().unwrap_or_else(|e| e.into_inner());
            for t in &transitions {
                for s in self.settings.sinks.iter().filter(|s| s.wants(t)) {
                    outbox
                        .push(&s.name, t.clone(), now)
                        .map_err(|source| WatchError::Write {
                            path: self.files.outbox(),
                            source,
                        })?;
                }
            }
            report.transitions.extend(transitions);
        }
        report.firing = self
            .ledger
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entries
            .values()
            .filter(|e| !e.review)
            .count();
        report.elapsed_ms = start.elapsed().as_millis() as u64;
        let mut c = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        c.cycle_seconds = start.elapsed().as_secs_f64();
        c.requests += report.requests as u64;
        Ok(report)
    }

    /// `/metrics`.
    pub fn metrics(&self) -> String {
        let ledger = self.ledger.lock().unwrap_or_else(|e| e.into_inner());
        let outbox = self.outbox.lock().unwrap_or_else(|e| e.into_inner());
        let counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        let names: Vec<String> = self.settings.sinks.iter().map(|s| s.name.clone()).collect();
        metrics::render(&ledger, &outbox, &names, &counters)
    }
}
