//! `/metrics` of `watch --listen`, in Prometheus's text format: one series per firing finding,
//! the last complete read per remote, the last cycle's duration, requests sent, and each sink's
//! failures and queue.

use std::fmt::Write;

use super::ledger::Ledger;
use super::outbox::Outbox;

/// What the watch counts besides the ledger and the outbox.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    /// Seconds the last cycle took.
    pub cycle_seconds: f64,
    /// API requests sent to Incus so far.
    pub requests: u64,
}

/// A label value, escaped (`\`, `"` and newlines).
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The text of `/metrics`.
pub fn render(ledger: &Ledger, outbox: &Outbox, sinks: &[String], c: &Counters) -> String {
    let mut out = String::new();
    out.push_str("# HELP incus_ai_finding A finding that fires (1), by remote, check, severity, subject and project.\n# TYPE incus_ai_finding gauge\n");
    for e in ledger.firing() {
        let _ = writeln!(
            out,
            "incus_ai_finding{{remote=\"{}\",check=\"{}\",severity=\"{}\",subject=\"{}\",project=\"{}\"}} 1",
            esc(&e.key.remote),
            esc(&e.key.check),
            esc(e.finding["severity"].as_str().unwrap_or_default()),
            esc(&e.key.subject),
            esc(&e.key.project)
        );
    }
    out.push_str("# HELP incus_ai_watch_last_complete_read_timestamp_seconds When each remote was last read completely.\n# TYPE incus_ai_watch_last_complete_read_timestamp_seconds gauge\n");
    for (remote, s) in &ledger.remotes {
        if let Some(t) = s.last_complete {
            let _ = writeln!(
                out,
                "incus_ai_watch_last_complete_read_timestamp_seconds{{remote=\"{}\"}} {t}",
                esc(remote)
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP incus_ai_watch_cycle_seconds How long the last cycle took.\n# TYPE incus_ai_watch_cycle_seconds gauge\nincus_ai_watch_cycle_seconds {:.3}",
        c.cycle_seconds
    );
    let _ = writeln!(
        out,
        "# HELP incus_ai_watch_requests_total API requests sent to Incus.\n# TYPE incus_ai_watch_requests_total counter\nincus_ai_watch_requests_total {}",
        c.requests
    );
    out.push_str("# HELP incus_ai_notify_failures_total Failed deliveries, by sink.\n# TYPE incus_ai_notify_failures_total counter\n");
    for s in sinks {
        let failures = outbox.queues.get(s).map_or(0, |q| q.failures);
        let _ = writeln!(
            out,
            "incus_ai_notify_failures_total{{sink=\"{}\"}} {failures}",
            esc(s)
        );
    }
    out.push_str("# HELP incus_ai_notify_queued Transitions waiting for a sink.\n# TYPE incus_ai_notify_queued gauge\n");
    for s in sinks {
        let _ = writeln!(
            out,
            "incus_ai_notify_queued{{sink=\"{}\"}} {}",
            esc(s),
            outbox.queued(s)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watch::ledger::{Entry, Key};

    #[test]
    fn series_name_what_fires_and_what_waits() {
        let mut l = Ledger::default();
        let key = Key {
            remote: "prod".into(),
            check: "member-offline".into(),
            subject: "cluster-member/m\"2".into(),
            project: String::new(),
        };
        l.entries.insert(
            "k".into(),
            Entry {
                key,
                id: "a".into(),
                finding: serde_json::json!({"severity": "high"}),
                review: false,
                started_at: 0,
                last_seen: 0,
                absent: 0,
                flapping: false,
                notified: true,
            },
        );
        l.remotes.entry("prod".into()).or_default().last_complete = Some(1700000000);
        let text = render(
            &l,
            &Outbox::default(),
            &["webhook-1".into()],
            &Counters {
                cycle_seconds: 0.25,
                requests: 42,
            },
        );
        assert!(text.contains("incus_ai_finding{remote=\"prod\",check=\"member-offline\",severity=\"high\",subject=\"cluster-member/m\\\"2\",project=\"\"} 1"), "{text}");
        assert!(text.contains(
            "incus_ai_watch_last_complete_read_timestamp_seconds{remote=\"prod\"} 1700000000"
        ));
        assert!(text.contains("incus_ai_watch_requests_total 42"));
        assert!(text.contains("incus_ai_notify_queued{sink=\"webhook-1\"} 0"));
    }
}
