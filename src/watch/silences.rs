//! Silences: a check (on a subject, a remote) kept quiet for a while, for a reason. Every
//! silence ends ([`MAX_SECS`] at most); a finding that still fires then is notified then.

use serde::{Deserialize, Serialize};

use super::ledger::Key;

/// The longest silence: 30 days.
pub const MAX_SECS: i64 = 30 * 86_400;

/// One silence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    /// Its id (`s1`, `s2`...).
    pub id: String,
    /// The check it silences.
    pub check: String,
    /// Only this subject (`KIND/NAME`), when given.
    pub subject: Option<String>,
    /// Only this remote, when given.
    pub remote: Option<String>,
    /// When it was made and when it ends (seconds since the epoch).
    pub created: i64,
    /// When it ends.
    pub until: i64,
    /// Why.
    pub reason: String,
}

/// The silences (written to `<data dir>/watch/silences.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silences {
    /// Every silence, ended ones until they are pruned.
    pub list: Vec<Silence>,
    /// The number of the last one made.
    pub last: u64,
}

/// A duration as admins write it: `90s`, `30m`, `2h`, `1d`, `1w` (and sums: `1h30m`).
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let bad = || format!("{text:?} is not a duration; write it as 30m, 2h, 1d or 1h30m");
    let mut total: i64 = 0;
    let mut number = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: i64 = number.parse().map_err(|_| bad())?;
        number.clear();
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return Err(bad()),
        };
        total = total.saturating_add(n.saturating_mul(unit));
    }
    if !number.is_empty() || total <= 0 {
        return Err(bad());
    }
    Ok(total)
}

impl Silences {
    /// Adds a silence of `check` for `secs` (at most [`MAX_SECS`]) from `now`.
    pub fn add(
        &mut self,
        check: &str,
        subject: Option<&str>,
        remote: Option<&str>,
        secs: i64,
        reason: &str,
        now: i64,
    ) -> Silence {
        self.last += 1;
        let s = Silence {
            id: format!("s{}", self.last),
            check: check.to_string(),
            subject: subject.map(str::to_string),
            remote: remote.map(str::to_string),
            created: now,
            until: now + secs.clamp(1, MAX_SECS),
            reason: reason.to_string(),
        };
        self.list.push(s.clone());
        s
    }

    /// Removes silence `id`; whether there was one.
    pub fn remove(&mut self, id: &str) -> bool {
        let before = self.list.len();
        self.list.retain(|s| s.id != id);
        self.list.len() != before
    }

    /// Drops the silences that ended before `now`.
    pub fn prune(&mut self, now: i64) {
        self.list.retain(|s| s.until > now);
    }

    /// Whether a silence holds `key` at `now`.
    pub fn covers(&self, key: &Key, now: i64) -> bool {
        self.list.iter().any(|s| {
            s.until > now
                && s.check == key.check
                && s.subject.as_deref().is_none_or(|x| x == key.subject)
                && s.remote.as_deref().is_none_or(|x| x == key.remote)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_admins_write_them() {
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("2h"), Ok(7200));
        assert_eq!(parse_duration("1h30m"), Ok(5400));
        assert_eq!(parse_duration("1d"), Ok(86_400));
        for bad in ["", "2", "forever", "-1h", "0m", "2x"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_silence_covers_its_check_subject_and_remote_until_it_ends() {
        let mut s = Silences::default();
        let a = s.add(
            "member-offline",
            Some("cluster-member/m2"),
            None,
            3600,
            "power work",
            0,
        );
        let key = |check: &str, subject: &str| Key {
            remote: "r".into(),
            check: check.into(),
            subject: subject.into(),
            project: String::new(),
        };
        assert!(s.covers(&key("member-offline", "cluster-member/m2"), 10));
        assert!(!s.covers(&key("member-offline", "cluster-member/m3"), 10));
        assert!(!s.covers(&key("instance-error", "cluster-member/m2"), 10));
        assert!(!s.covers(&key("member-offline", "cluster-member/m2"), 3600));
        // No silence forever: capped at 30 days.
        let b = s.add("x", None, None, i64::MAX, "why", 0);
        assert_eq!(b.until, MAX_SECS);
        assert!(s.remove(&a.id) && !s.remove(&a.id));
        s.prune(MAX_SECS + 1);
        assert!(s.list.is_empty());
    }
}
