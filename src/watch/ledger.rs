//! The finding ledger: what fires, since when, and what has been said about it. A finding is
//! keyed by (remote, check, subject, project), never by its title (titles carry live values).
//! It fires when first seen and resolves only after it was absent from `resolve_after`
//! consecutive complete reads; an incomplete read resolves nothing, and after as many in a row
//! fires its own `watch-incomplete` alert. A finding with more than [`FLAP_LIMIT`] transitions
//! in an hour is held as firing, with a note, instead of paging each time. Silenced findings
//! are kept but not notified; one that still fires when its silence ends is notified then.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::silences::Silences;

/// Transitions of one finding in an hour above which it is held as firing.
pub const FLAP_LIMIT: usize = 4;
/// The check id of the ledger's own alert about a remote that could not be read.
pub const INCOMPLETE: &str = "watch-incomplete";

/// What identifies a finding across reads.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Key {
    /// The remote it was read from.
    pub remote: String,
    /// The check or rule.
    pub check: String,
    /// `KIND/NAME`.
    pub subject: String,
    /// The project, or "".
    pub project: String,
}

impl Key {
    /// The key of a finding's JSON (doctor's shape) read from `remote`.
    pub fn of(remote: &str, finding: &Value) -> Key {
        let text = |f: &str| finding[f].as_str().unwrap_or_default().to_string();
        Key {
            remote: remote.to_string(),
            check: text("id"),
            subject: text("subject"),
            project: text("project"),
        }
    }

    fn text(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.remote, self.check, self.subject, self.project
        )
    }
}

/// One finding as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Its key.
    pub key: Key,
    /// The alert's id: the same for its firing and its resolve (a new one when it fires again
    /// later).
    pub id: String,
    /// The finding as last read (doctor's JSON, redacted).
    pub finding: Value,
    /// Review advice rather than a fault.
    pub review: bool,
    /// When it was first seen (seconds since the epoch).
    pub started_at: i64,
    /// When it was last seen.
    pub last_seen: i64,
    /// Complete reads in a row it was absent from.
    pub absent: u32,
    /// Held as firing because it flaps.
    pub flapping: bool,
    /// Its firing was delivered (not while silenced).
    pub notified: bool,
}

/// A change of an alert's status, as the sinks deliver it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// The alert's id (shared by its firing and its resolve).
    pub id: String,
    /// This transition's id: repeated unchanged by every retry, so a receiver drops duplicates.
    pub transition: String,
    /// `firing` or `resolved`.
    pub status: Status,
    /// The remote.
    pub remote: String,
    /// Doctor's finding JSON (redacted).
    pub finding: Value,
    /// Review advice rather than a fault.
    #[serde(default)]
    pub review: bool,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// When it ended (RFC 3339), for a resolve.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    /// Why this alert will not page again soon ([`FLAPPING_NOTE`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The note of a firing held because its finding flaps.
pub const FLAPPING_NOTE: &str = "flapping: more than 4 transitions in an hour; held as firing (not resolved, not paged again) until it has been quiet for an hour";

/// An alert's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// It fires.
    Firing,
    /// It no longer does.
    Resolved,
}

impl Status {
    /// `firing` or `resolved`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Firing => "firing",
            Status::Resolved => "resolved",
        }
    }
}

/// What the ledger knows of a remote's reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RemoteState {
    /// The last read (seconds since the epoch).
    pub last_read: Option<i64>,
    /// The last complete read.
    pub last_complete: Option<i64>,
    /// Incomplete reads in a row.
    pub incomplete: u32,
    /// The endpoints the last read could not read.
    #[serde(default)]
    pub unreadable: Vec<String>,
    /// When the review's rules last ran.
    #[serde(default)]
    pub last_review: Option<i64>,
}

/// One read of a remote, as the ledger takes it.
#[derive(Debug, Clone)]
pub struct Read {
    /// The remote.
    pub remote: String,
    /// Doctor's findings (JSON, redacted), and the review's when it ran.
    pub findings: Vec<Value>,
    /// The ids of the review's rules (their findings are judged absent only when it ran).
    pub review_checks: Vec<String>,
    /// Whether the review ran in this read.
    pub reviewed: bool,
    /// Every endpoint was read.
    pub complete: bool,
    /// The endpoints that could not be read.
    pub unreadable: Vec<String>,
}

/// Everything the ledger holds (written to `<data dir>/watch/ledger.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ledger {
    /// Findings that fire (or are held), by key.
    pub entries: BTreeMap<String, Entry>,
    /// Per remote.
    pub remotes: BTreeMap<String, RemoteState>,
    /// When each key fired or resolved, within the last hour (kept across its alerts: a
    /// finding that comes and goes is one story).
    #[serde(default)]
    pub history: BTreeMap<String, Vec<i64>>,
}

/// RFC 3339 of a unix time.
pub fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn alert_id(key: &Key, started: i64) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(key.text().as_bytes());
    format!("{}-{started}", hex::encode(&h[..8]))
}

/// The transition of entry `e` to `status` at `now`.
pub fn transition(e: &Entry, status: Status, now: i64) -> Transition {
    Transition {
        id: e.id.clone(),
        transition: format!("{}:{}", e.id, status.as_str()),
        status,
        remote: e.key.remote.clone(),
        finding: e.finding.clone(),
        review: e.review,
        started_at: rfc3339(e.started_at),
        ended_at: (status == Status::Resolved).then(|| rfc3339(now)),
        note: (e.flapping && status == Status::Firing).then(|| FLAPPING_NOTE.to_string()),
    }
}

/// The ledger's own finding about a remote it could not read `n` times in a row.
fn incomplete_finding(remote: &str, n: u32, unreadable: &[String]) -> Value {
    serde_json::json!({
        "id": INCOMPLETE,
        "severity": "high",
        "subject": format!("remote/{remote}"),
        "title": format!("incus-ai could not read all of {remote} {n} times in a row"),
        "evidence": unreadable.iter().map(|p| serde_json::json!({"endpoint": format!("GET {p}"), "field": "error", "value": "could not be read"})).collect::<Vec<_>>(),
        "explanation": "Endpoints that cannot be read hide faults: nothing that fires is resolved while reads are incomplete. An unreadable endpoint is often a member whose daemon hangs, or a cluster database without quorum.",
        "docs": [],
        "fix": ["incus-ai doctor --remote ".to_string() + remote + "   # what could not be read, and why"],
    })
}

impl Ledger {
    /// Takes one read at time `now`; returns the transitions to deliver, in order.
    pub fn observe(
        &mut self,
        read: &Read,
        now: i64,
        resolve_after: u32,
        silences: &Silences,
    ) -> Vec<Transition> {
        let resolve_after = resolve_after.max(1);
        let state = self.remotes.entry(read.remote.clone()).or_default();
        state.last_read = Some(now);
        state.unreadable = read.unreadable.clone();
        if read.reviewed {
            state.last_review = Some(now);
        }
        if read.complete {
            state.last_complete = Some(now);
            state.incomplete = 0;
        } else {
            state.incomplete = state.incomplete.saturating_add(1);
        }
        let mut findings = read.findings.clone();
        if state.incomplete >= resolve_after {
            findings.push(incomplete_finding(
                &read.remote,
                state.incomplete,
                &read.unreadable,
            ));
        }
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for f in findings {
            let key = Key::of(&read.remote, &f);
            let k = key.text();
            seen.insert(k.clone());
            let review = read.review_checks.contains(&key.check);
            match self.entries.get_mut(&k) {
                Some(e) => {
                    e.finding = f;
                    e.last_seen = now;
                    e.absent = 0;
                }
                None => {
                    let e = Entry {
                        id: alert_id(&key, now),
                        key,
                        finding: f,
                        review,
                        started_at: now,
                        last_seen: now,
                        absent: 0,
                        flapping: false,
                        notified: false,
                    };
                    self.entries.insert(k, e);
                }
            }
        }
        for times in self.history.values_mut() {
            times.retain(|t| now - t < 3600);
        }
        self.history.retain(|_, times| !times.is_empty());
        let flaps = |history: &BTreeMap<String, Vec<i64>>, k: &str| {
            history.get(k).map_or(0, Vec::len) >= FLAP_LIMIT
        };
        let mut resolved = Vec::new();
        for (k, e) in self.entries.iter_mut() {
            if e.key.remote != read.remote || seen.contains(k) {
                continue;
            }
            // Absence counts only where the read was complete, and for the review's findings
            // only when the review ran.
            if !read.complete || (e.review && !read.reviewed) {
                continue;
            }
            e.absent += 1;
            if e.absent < resolve_after {
                continue;
            }
            if flaps(&self.history, k) {
                // Held as firing until it has been quiet for an hour.
                e.flapping = true;
                continue;
            }
            resolved.push(k.clone());
        }
        for k in resolved {
            let e = self.entries.remove(&k).expect("listed");
            if e.notified {
                self.history.entry(k).or_default().push(now);
                out.push(transition(&e, Status::Resolved, now));
            }
        }
        // Firings not yet said: new ones, and those whose silence ended.
        for (k, e) in self.entries.iter_mut() {
            if e.notified || e.key.remote != read.remote || silences.covers(&e.key, now) {
                continue;
            }
            e.flapping = flaps(&self.history, k);
            e.notified = true;
            self.history.entry(k.clone()).or_default().push(now);
            out.push(transition(e, Status::Firing, now));
        }
        out
    }

    /// The alerts that fire now (said or not), in key order.
    pub fn firing(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(id: &str, subject: &str, title: &str) -> Value {
        json!({"id": id, "severity": "high", "subject": subject, "title": title})
    }

    fn read(findings: Vec<Value>, complete: bool) -> Read {
        Read {
            remote: "r".into(),
            findings,
            review_checks: vec!["snapshots-without-expiry".into()],
            reviewed: false,
            complete,
            unreadable: if complete {
                vec![]
            } else {
                vec!["/1.0/instances".into()]
            },
        }
    }

    fn statuses(t: &[Transition]) -> Vec<(String, Status)> {
        t.iter()
            .map(|t| (t.finding["subject"].as_str().unwrap().to_string(), t.status))
            .collect()
    }

    #[test]
    fn fires_once_and_resolves_after_complete_absences() {
        let mut l = Ledger::default();
        let none = Silences::default();
        let off = f("member-offline", "cluster-member/m2", "m2 offline for 21s");
        let t = l.observe(&read(vec![off.clone()], true), 100, 2, &none);
        assert_eq!(
            statuses(&t),
            vec![("cluster-member/m2".into(), Status::Firing)]
        );
        // The title changes with live values: the same alert.
        let again = f("member-offline", "cluster-member/m2", "m2 offline for 81s");
        assert!(
            l.observe(&read(vec![again], true), 160, 2, &none)
                .is_empty()
        );
        // One complete absence is not enough; an incomplete read counts nothing.
        assert!(l.observe(&read(vec![], true), 220, 2, &none).is_empty());
        assert!(l.observe(&read(vec![], false), 280, 2, &none).is_empty());
        let t = l.observe(&read(vec![], true), 340, 2, &none);
        assert_eq!(
            statuses(&t),
            vec![("cluster-member/m2".into(), Status::Resolved)]
        );
        assert_eq!(t[0].id, l_id(&off, 100));
        assert_eq!(t[0].transition, format!("{}:resolved", t[0].id));
        assert!(l.entries.is_empty());
    }

    fn l_id(f: &Value, at: i64) -> String {
        alert_id(&Key::of("r", f), at)
    }

    #[test]
    fn incomplete_reads_resolve_nothing_and_then_fire_their_own_alert() {
        let mut l = Ledger::default();
        let none = Silences::default();
        let off = f("member-offline", "cluster-member/m2", "x");
        l.observe(&read(vec![off], true), 0, 2, &none);
        assert!(l.observe(&read(vec![], false), 60, 2, &none).is_empty());
        let t = l.observe(&read(vec![], false), 120, 2, &none);
        assert_eq!(statuses(&t), vec![("remote/r".into(), Status::Firing)]);
        assert_eq!(t[0].finding["id"], INCOMPLETE);
        assert!(l.entries.values().any(|e| e.key.check == "member-offline"));
        // Complete again: the incomplete alert resolves like any other.
        l.observe(&read(vec![], true), 180, 2, &none);
        let t = l.observe(&read(vec![], true), 240, 2, &none);
        let mut s = statuses(&t);
        s.sort();
        assert_eq!(
            s,
            vec![
                ("cluster-member/m2".into(), Status::Resolved),
                ("remote/r".into(), Status::Resolved)
            ]
        );
    }

    #[test]
    fn a_flapping_finding_is_held_instead_of_paging() {
        let mut l = Ledger::default();
        let none = Silences::default();
        let x = f("instance-error", "instance/c1", "x");
        let mut said = Vec::new();
        let mut now = 0;
        for _ in 0..10 {
            for (findings, step) in [(vec![x.clone()], 60), (vec![], 60)] {
                for t in l.observe(&read(findings, true), now, 1, &none) {
                    said.push((t.status, t.note.is_some()));
                }
                now += step;
            }
        }
        use Status::{Firing, Resolved};
        assert_eq!(
            said,
            vec![
                (Firing, false),
                (Resolved, false),
                (Firing, false),
                (Resolved, false),
                (Firing, true)
            ],
            "the fifth transition says it is held, then nothing for 20 minutes"
        );
        assert!(l.entries.values().any(|e| e.flapping));
        // Quiet for an hour: resolved at last.
        now += 3600;
        let last = l.observe(&read(vec![], true), now, 1, &none);
        assert_eq!(last.len(), 1);
        assert_eq!(last[0].status, Resolved);
    }

    #[test]
    fn silenced_findings_are_notified_when_the_silence_ends() {
        let mut l = Ledger::default();
        let mut s = Silences::default();
        s.add("member-offline", None, None, 600, "maintenance", 0);
        let off = f("member-offline", "cluster-member/m2", "x");
        assert!(
            l.observe(&read(vec![off.clone()], true), 0, 2, &s)
                .is_empty()
        );
        assert!(
            l.observe(&read(vec![off.clone()], true), 300, 2, &s)
                .is_empty()
        );
        let t = l.observe(&read(vec![off], true), 660, 2, &s);
        assert_eq!(
            statuses(&t),
            vec![("cluster-member/m2".into(), Status::Firing)]
        );
        // A silenced finding that ends in silence says nothing at all.
        let mut l = Ledger::default();
        let short = f("member-offline", "cluster-member/m3", "x");
        l.observe(&read(vec![short], true), 0, 1, &s);
        assert!(l.observe(&read(vec![], true), 60, 1, &s).is_empty());
        assert!(l.entries.is_empty());
    }

    #[test]
    fn review_findings_are_judged_absent_only_when_the_review_ran() {
        let mut l = Ledger::default();
        let none = Silences::default();
        let adv = f("snapshots-without-expiry", "instance/c1", "x");
        let mut r = read(vec![adv], true);
        r.reviewed = true;
        let t = l.observe(&r, 0, 1, &none);
        assert!(t[0].review);
        // Doctor-only cycles: the advice stays.
        assert!(l.observe(&read(vec![], true), 60, 1, &none).is_empty());
        assert_eq!(l.entries.len(), 1);
        let mut r = read(vec![], true);
        r.reviewed = true;
        assert_eq!(l.observe(&r, 120, 1, &none).len(), 1);
    }
}
