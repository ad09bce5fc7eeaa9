//! The outbox: each transition is written down for each sink before it is sent, and taken
//! off only once the sink took it, so that nothing is lost to a receiver that is down, slow or
//! failing, nor to a watch that is killed. One queue per sink (`<data dir>/watch/outbox/<sink>.json`,
//! written atomically), delivered in order; bounded: past [`MAX_PENDING`] the oldest are
//! dropped and counted.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ledger::Transition;

/// Transitions a sink's queue holds at most.
pub const MAX_PENDING: usize = 1000;

/// One transition waiting for a sink.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    /// What to send.
    pub transition: Transition,
    /// Attempts so far.
    pub attempts: u32,
    /// Not before (seconds since the epoch).
    pub next_try: i64,
}

/// One sink's queue and its record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Queue {
    /// Waiting, oldest first.
    pub pending: VecDeque<Pending>,
    /// Transitions delivered.
    pub delivered: u64,
    /// Failed attempts.
    pub failures: u64,
    /// Transitions dropped: the queue was full, or the receiver refused them (4xx).
    pub dropped: u64,
    /// The last error, and when.
    pub last_error: Option<(i64, String)>,
    /// When the last delivery succeeded.
    pub last_delivery: Option<i64>,
}

/// Every sink's queue.
#[derive(Debug, Clone, Default)]
pub struct Outbox {
    dir: PathBuf,
    /// By sink name.
    pub queues: BTreeMap<String, Queue>,
}

/// How an attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Taken.
    Done,
    /// Down, slow or failing (5xx): tried again later, in order.
    Retry(String),
    /// Refused (4xx): reported and dropped.
    Refused(String),
}

/// Seconds before attempt `n + 1` after `n` failures: 2, 4, 8... up to 5 minutes.
pub fn backoff(attempts: u32) -> i64 {
    (1i64 << attempts.clamp(1, 9)).min(300)
}

impl Outbox {
    /// The outbox in `dir`, with what earlier runs left in it.
    pub fn open(dir: &Path) -> Outbox {
        let mut queues = BTreeMap::new();
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = e.path();
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".json"))
            else {
                continue;
            };
            let queue = crate::util::fsx::read_regular(&path, 64 << 20)
                .ok()
                .and_then(|b| serde_json::from_slice::<Queue>(&b).ok());
            match queue {
                Some(q) => {
                    queues.insert(name.to_string(), q);
                }
                None => tracing::warn!(
                    "watch: the outbox {} is damaged; its transitions are lost",
                    path.display()
                ),
            }
        }
        Outbox {
            dir: dir.to_path_buf(),
            queues,
        }
    }

    fn save(&self, sink: &str) -> std::io::Result<()> {
        let q = self.queues.get(sink).cloned().unwrap_or_default();
        let bytes = serde_json::to_vec(&q).map_err(std::io::Error::other)?;
        crate::util::fsx::write_atomic(&self.dir.join(format!("{sink}.json")), &bytes)
    }

    /// Writes `t` down for `sink` (before anything is sent).
    pub fn push(&mut self, sink: &str, t: Transition, now: i64) -> std::io::Result<()> {
        let q = self.queues.entry(sink.to_string()).or_default();
        q.pending.push_back(Pending {
            transition: t,
            attempts: 0,
            next_try: now,
        });
        while q.pending.len() > MAX_PENDING {
            q.pending.pop_front();
            q.dropped += 1;
        }
        self.save(sink)
    }

    /// The next transition `sink` should try at `now`, if any.
    pub fn next(&self, sink: &str, now: i64) -> Option<Pending> {
        self.queues
            .get(sink)?
            .pending
            .front()
            .filter(|p| p.next_try <= now)
            .cloned()
    }

    /// Records how the attempt to deliver the front transition of `sink` went.
    pub fn settle(&mut self, sink: &str, how: Delivery, now: i64) -> std::io::Result<()> {
        let Some(q) = self.queues.get_mut(sink) else {
            return Ok(());
        };
        match how {
            Delivery::Done => {
                q.pending.pop_front();
                q.delivered += 1;
                q.last_delivery = Some(now);
            }
            Delivery::Retry(why) => {
                q.failures += 1;
                q.last_error = Some((now, why));
                if let Some(p) = q.pending.front_mut() {
                    p.attempts += 1;
                    p.next_try = now + backoff(p.attempts);
                }
            }
            Delivery::Refused(why) => {
                q.pending.pop_front();
                q.failures += 1;
                q.dropped += 1;
                q.last_error = Some((now, why));
            }
        }
        self.save(sink)
    }

    /// Records an attempt that is not a queued transition (a heartbeat, a re-send of what
    /// fires): counted, its error kept.
    pub fn record(&mut self, sink: &str, how: &Delivery, now: i64) -> std::io::Result<()> {
        let q = self.queues.entry(sink.to_string()).or_default();
        match how {
            Delivery::Done => {
                q.delivered += 1;
                q.last_delivery = Some(now);
            }
            Delivery::Retry(why) | Delivery::Refused(why) => {
                q.failures += 1;
                q.last_error = Some((now, why.clone()));
            }
        }
        self.save(sink)
    }

    /// Transitions waiting for `sink`.
    pub fn queued(&self, sink: &str) -> usize {
        self.queues.get(sink).map_or(0, |q| q.pending.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watch::ledger::Status;

    fn t(n: u32) -> Transition {
        Transition {
            id: format!("a{n}"),
            transition: format!("a{n}:firing"),
            status: Status::Firing,
            remote: "r".into(),
            finding: serde_json::json!({}),
            review: false,
            started_at: String::new(),
            ended_at: None,
            note: None,
        }
    }

    #[test]
    fn written_before_sent_kept_in_order_retried_and_bounded() {
        let d = tempfile::tempdir().unwrap();
        let mut o = Outbox::open(d.path());
        o.push("webhook-1", t(1), 0).unwrap();
        o.push("webhook-1", t(2), 0).unwrap();
        // A new process finds them.
        let mut o = Outbox::open(d.path());
        assert_eq!(o.queued("webhook-1"), 2);
        let first = o.next("webhook-1", 0).unwrap();
        assert_eq!(first.transition.id, "a1");
        o.settle("webhook-1", Delivery::Retry("503".into()), 0)
            .unwrap();
        assert!(o.next("webhook-1", 1).is_none(), "backing off");
        let again = o.next("webhook-1", 10).unwrap();
        assert_eq!((again.transition.id.as_str(), again.attempts), ("a1", 1));
        o.settle("webhook-1", Delivery::Done, 10).unwrap();
        o.settle("webhook-1", Delivery::Refused("400".into()), 10)
            .unwrap();
        let q = &o.queues["webhook-1"];
        assert_eq!((q.pending.len(), q.delivered, q.dropped), (0, 1, 1));
        for n in 0..(MAX_PENDING as u32 + 5) {
            o.push("ntfy-2", t(n), 0).unwrap();
        }
        assert_eq!(o.queued("ntfy-2"), MAX_PENDING);
        assert_eq!(o.queues["ntfy-2"].dropped, 5);
        assert_eq!(o.next("ntfy-2", 0).unwrap().transition.id, "a5");
        assert_eq!(backoff(1), 2);
        assert_eq!(backoff(30), 300);
    }
}
