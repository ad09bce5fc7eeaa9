//! Delivery: one worker per sink takes its queue in order (the oldest first, each retried with
//! backoff until it is taken or refused), so a slow or dead receiver holds up only itself;
//! Alertmanager also gets what still fires again every `resend` (it forgets alerts that are
//! not sent again); the heartbeat is pinged after every complete cycle.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::outbox::Delivery;
use super::sinks::{Kind, Sink, alertmanager, heartbeat};
use super::{Watch, now};

/// The sink workers of a running watch.
pub struct Workers {
    wake: Arc<Notify>,
    http: reqwest::Client,
}

impl Workers {
    /// Starts one worker per sink that takes transitions.
    pub fn start(watch: &Arc<Watch>) -> Workers {
        let http = crate::util::http::client_builder(super::sinks::TIMEOUT)
            .build()
            .unwrap_or_default();
        let wake = Arc::new(Notify::new());
        for sink in watch
            .settings
            .sinks
            .iter()
            .filter(|s| s.takes_transitions())
        {
            let (watch, sink, http, wake) = (
                Arc::clone(watch),
                sink.clone(),
                http.clone(),
                Arc::clone(&wake),
            );
            tokio::spawn(async move {
                loop {
                    let waited = drain(&watch, &sink, &http, false).await;
                    // Until the next retry is due, or a cycle brings something new.
                    let nap = waited.unwrap_or(Duration::from_secs(3600));
                    tokio::select! {
                        _ = wake.notified() => {}
                        _ = tokio::time::sleep(nap) => {}
                    }
                }
            });
        }
        Workers { wake, http }
    }

    /// Tells the workers that the outbox has new transitions.
    pub fn wake(&self) {
        self.wake.notify_waiters();
    }

    /// The HTTP client the sinks use.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }
}

/// Delivers `sink`'s queue until it is empty or its front waits for a retry; how long until
/// that retry. `once` (a `watch --once` run): the front is tried whatever its backoff, and the
/// first failure ends the run's attempts.
pub async fn drain(
    watch: &Watch,
    sink: &Sink,
    http: &reqwest::Client,
    once: bool,
) -> Option<Duration> {
    loop {
        let (next, front) = {
            let o = watch.outbox.lock().unwrap_or_else(|e| e.into_inner());
            (
                o.next(&sink.name, if once { i64::MAX } else { now() }),
                o.queues
                    .get(&sink.name)
                    .and_then(|q| q.pending.front())
                    .map(|p| p.next_try),
            )
        };
        let Some(p) = next else {
            return front.map(|t| Duration::from_secs((t - now()).max(1) as u64));
        };
        let how = sink.deliver(http, &p.transition).await;
        if let Delivery::Retry(why) | Delivery::Refused(why) = &how {
            tracing::warn!(
                "watch: {} did not take {}: {why}",
                sink.name,
                p.transition.transition
            );
        }
        let failed = matches!(how, Delivery::Retry(_));
        let mut o = watch.outbox.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = o.settle(&sink.name, how, now()) {
            tracing::warn!("watch: the outbox of {} cannot be written: {e}", sink.name);
            return Some(Duration::from_secs(5));
        }
        if once && failed {
            return None;
        }
    }
}

/// Delivers every sink's queue at once, for at most `within` (`watch --once`), one attempt
/// each: what is not taken stays in the outbox for the next run.
pub async fn drain_all(watch: &Arc<Watch>, http: &reqwest::Client, within: Duration) {
    let tasks: Vec<_> = watch
        .settings
        .sinks
        .iter()
        .filter(|s| s.takes_transitions())
        .map(|s| {
            let (watch, sink, http) = (Arc::clone(watch), s.clone(), http.clone());
            tokio::spawn(async move {
                let _ = tokio::time::timeout(within, drain(&watch, &sink, &http, true)).await;
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
}

/// Sends Alertmanager every alert that fires and was notified (its faults, not advice, at its
/// severity or above), so that it keeps them active.
pub async fn resend_firing(watch: &Watch, http: &reqwest::Client) {
    for sink in &watch.settings.sinks {
        let Kind::Alertmanager(url) = &sink.kind else {
            continue;
        };
        let alerts: Vec<serde_json::Value> = {
            let l = watch.ledger.lock().unwrap_or_else(|e| e.into_inner());
            l.entries
                .values()
                .filter(|e| e.notified && !e.review)
                .filter(|e| super::sinks::Level::of(&e.finding) >= sink.min)
                .map(|e| {
                    alertmanager::alert(&super::ledger::transition(
                        e,
                        super::ledger::Status::Firing,
                        now(),
                    ))
                })
                .collect()
        };
        if alerts.is_empty() {
            continue;
        }
        let how = alertmanager::post(http, url, &alerts).await;
        if let Delivery::Retry(why) | Delivery::Refused(why) = &how {
            tracing::warn!("watch: {} did not take the firing alerts: {why}", sink.name);
        }
        record(watch, &sink.name, &how);
    }
}

/// Pings every heartbeat (after a complete cycle).
pub async fn heartbeats(watch: &Watch, http: &reqwest::Client) {
    for sink in &watch.settings.sinks {
        let Kind::Heartbeat(url) = &sink.kind else {
            continue;
        };
        let how = heartbeat::ping(http, url).await;
        record(watch, &sink.name, &how);
    }
}

fn record(watch: &Watch, sink: &str, how: &Delivery) {
    let mut o = watch.outbox.lock().unwrap_or_else(|e| e.into_inner());
    if let Err(e) = o.record(sink, how, now()) {
        tracing::warn!("watch: the outbox of {sink} cannot be written: {e}");
    }
}
