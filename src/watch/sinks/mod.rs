//! Where alerts go, one file each: Alertmanager (re-sent while firing, `endsAt` when
//! resolved), a webhook (one JSON POST per transition, HMAC-signed), ntfy, a heartbeat (a GET
//! after every complete cycle) and the notes (`incidents-<remote>.md`, which the `incus-local`
//! RAG reads). Review findings are advice: they go to the notes and to webhooks that ask for
//! them, never to Alertmanager or ntfy.

pub mod alertmanager;
pub mod heartbeat;
pub mod notes;
pub mod ntfy;
pub mod webhook;

use std::path::PathBuf;
use std::time::Duration;

use super::ledger::Transition;
use super::outbox::Delivery;

/// Time a sink has to answer one request.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A finding's severity, ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// low
    Low,
    /// moderate
    Moderate,
    /// high
    High,
    /// critical
    Critical,
}

impl Level {
    /// The level of a severity word; `None` for an unknown one.
    pub fn parse(word: &str) -> Option<Level> {
        Some(match word {
            "low" => Level::Low,
            "moderate" => Level::Moderate,
            "high" => Level::High,
            "critical" => Level::Critical,
            _ => return None,
        })
    }

    /// The level of a finding's JSON (low when unknown).
    pub fn of(finding: &serde_json::Value) -> Level {
        Level::parse(finding["severity"].as_str().unwrap_or_default()).unwrap_or(Level::Low)
    }
}

/// What a sink is.
#[derive(Debug, Clone)]
pub enum Kind {
    /// Alertmanager's API v2 at this base URL.
    Alertmanager(String),
    /// A webhook, with its HMAC secret.
    Webhook {
        /// Where.
        url: String,
        /// The HMAC-SHA256 key, when one is configured.
        secret: Option<String>,
    },
    /// An ntfy topic URL, with its access token.
    Ntfy {
        /// Where.
        url: String,
        /// `Authorization: Bearer`, when one is configured.
        token: Option<String>,
    },
    /// A URL pinged after every complete cycle.
    Heartbeat(String),
    /// `incidents-<remote>.md` in this folder.
    Notes(PathBuf),
}

/// One configured place alerts go.
#[derive(Debug, Clone)]
pub struct Sink {
    /// Its name in the outbox and in reports (`webhook-2`).
    pub name: String,
    /// What it is.
    pub kind: Kind,
    /// Alerts below this are not sent.
    pub min: Level,
    /// Whether review advice goes here.
    pub review: bool,
}

/// Why a sink's configuration cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("[[watch.notify]] #{index} ({kind}): {detail}")]
pub struct SinkError {
    /// Its place in the config file (1-based).
    pub index: usize,
    /// Its kind.
    pub kind: String,
    /// What is wrong, and the fix.
    pub detail: String,
}

/// A sink as the configuration file writes it (`[[watch.notify]]`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Spec<'a> {
    /// `alertmanager`, `webhook`, `ntfy`, `heartbeat` or `notes`.
    pub kind: &'a str,
    /// Where.
    pub url: Option<&'a str>,
    /// Alerts below this are not sent [default: moderate].
    pub min_severity: Option<&'a str>,
    /// The environment variable holding a webhook's HMAC secret.
    pub secret_env: Option<&'a str>,
    /// The environment variable holding ntfy's token.
    pub token_env: Option<&'a str>,
    /// Whether review advice goes here (webhooks; the notes always).
    pub review: bool,
}

impl Sink {
    /// The `index`-th (1-based) sink of the configuration; `notes` is the notes folder.
    /// Secrets are read from the environment variables the configuration names.
    pub fn new(index: usize, spec: &Spec<'_>, notes: PathBuf) -> Result<Sink, SinkError> {
        let Spec {
            kind,
            url,
            min_severity,
            secret_env,
            token_env,
            review,
        } = *spec;
        let err = |detail: String| SinkError {
            index,
            kind: kind.to_string(),
            detail,
        };
        let need_url = || -> Result<String, SinkError> {
            let u = url.ok_or_else(|| err("needs `url = \"http://...\"`".into()))?;
            let parsed = url::Url::parse(u).map_err(|e| err(format!("url {u:?}: {e}")))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(err(format!("url {u:?} is not http(s)")));
            }
            Ok(u.trim_end_matches('/').to_string())
        };
        let env = |name: Option<&str>| -> Result<Option<String>, SinkError> {
            match name {
                None => Ok(None),
                Some(n) => std::env::var(n)
                    .ok()
                    .filter(|v| !v.is_empty())
                    .map(Some)
                    .ok_or_else(|| err(format!("the environment variable {n} is not set"))),
            }
        };
        let kind_of = match kind {
            "alertmanager" => Kind::Alertmanager(need_url()?),
            "webhook" => Kind::Webhook {
                url: need_url()?,
                secret: env(secret_env)?,
            },
            "ntfy" => Kind::Ntfy {
                url: need_url()?,
                token: env(token_env)?,
            },
            "heartbeat" => Kind::Heartbeat(need_url()?),
            "notes" => Kind::Notes(notes),
            other => {
                return Err(err(format!(
                    "unknown kind {other:?}; use alertmanager, webhook, ntfy, heartbeat or notes"
                )));
            }
        };
        let min = match min_severity {
            None => Level::Moderate,
            Some(w) => Level::parse(w).ok_or_else(|| {
                err(format!(
                    "min_severity {w:?}: use low, moderate, high or critical"
                ))
            })?,
        };
        Ok(Sink {
            name: format!("{kind}-{index}"),
            review: review || matches!(kind_of, Kind::Notes(_)),
            kind: kind_of,
            min,
        })
    }

    /// Whether this sink takes transitions (the heartbeat only pings).
    pub fn takes_transitions(&self) -> bool {
        !matches!(self.kind, Kind::Heartbeat(_))
    }

    /// Whether `t` goes to this sink: its severity, and advice only where it is asked for
    /// (never to Alertmanager or ntfy).
    pub fn wants(&self, t: &Transition) -> bool {
        if t.review
            && (!self.review || matches!(self.kind, Kind::Alertmanager(_) | Kind::Ntfy { .. }))
        {
            return false;
        }
        self.takes_transitions() && Level::of(&t.finding) >= self.min
    }

    /// Delivers one transition.
    pub async fn deliver(&self, http: &reqwest::Client, t: &Transition) -> Delivery {
        match &self.kind {
            Kind::Alertmanager(url) => {
                alertmanager::post(http, url, &[alertmanager::alert(t)]).await
            }
            Kind::Webhook { url, secret } => webhook::post(http, url, secret.as_deref(), t).await,
            Kind::Ntfy { url, token } => ntfy::post(http, url, token.as_deref(), t).await,
            Kind::Notes(dir) => notes::append(dir, t),
            Kind::Heartbeat(_) => Delivery::Done,
        }
    }
}

/// How an HTTP answer counts: 2xx taken, 4xx refused (but 408 and 429: later), the rest later.
pub fn judge(result: Result<reqwest::Response, reqwest::Error>) -> Delivery {
    match result {
        Ok(r) if r.status().is_success() => Delivery::Done,
        Ok(r) if r.status().as_u16() == 408 || r.status().as_u16() == 429 => {
            Delivery::Retry(format!("answered {}", r.status()))
        }
        Ok(r) if r.status().is_client_error() => {
            Delivery::Refused(format!("answered {}", r.status()))
        }
        Ok(r) => Delivery::Retry(format!("answered {}", r.status())),
        Err(e) => Delivery::Retry(crate::util::text::error_chain(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watch::ledger::Status;

    fn t(severity: &str, review: bool) -> Transition {
        Transition {
            id: "a".into(),
            transition: "a:firing".into(),
            status: Status::Firing,
            remote: "r".into(),
            finding: serde_json::json!({"severity": severity}),
            review,
            started_at: String::new(),
            ended_at: None,
            note: None,
        }
    }

    fn spec<'a>(kind: &'a str, url: Option<&'a str>) -> Spec<'a> {
        Spec {
            kind,
            url,
            ..Spec::default()
        }
    }

    fn sink(kind: &str, min: Option<&str>, review: bool) -> Sink {
        let s = Spec {
            min_severity: min,
            review,
            ..spec(kind, Some("http://127.0.0.1:9"))
        };
        Sink::new(1, &s, "/n".into()).unwrap()
    }

    #[test]
    fn severity_and_advice_decide_where_an_alert_goes() {
        let am = sink("alertmanager", None, true);
        assert!(am.wants(&t("high", false)) && am.wants(&t("moderate", false)));
        assert!(!am.wants(&t("low", false)), "below the default moderate");
        assert!(
            !am.wants(&t("high", true)),
            "advice never goes to Alertmanager"
        );
        assert!(!sink("ntfy", Some("low"), true).wants(&t("high", true)));
        assert!(sink("webhook", None, true).wants(&t("moderate", true)));
        assert!(!sink("webhook", None, false).wants(&t("moderate", true)));
        assert!(sink("notes", Some("low"), false).wants(&t("low", true)));
        assert!(!sink("heartbeat", None, false).wants(&t("critical", false)));
        assert!(!sink("webhook", Some("critical"), false).wants(&t("high", false)));
    }

    #[test]
    fn bad_configurations_say_what_to_fix() {
        let e = Sink::new(2, &spec("pager", None), "/n".into()).unwrap_err();
        assert!(e.to_string().contains("#2 (pager)") && e.to_string().contains("use alertmanager"));
        let e = Sink::new(1, &spec("webhook", None), "/n".into()).unwrap_err();
        assert!(e.to_string().contains("needs `url"), "{e}");
        let e = Sink::new(1, &spec("ntfy", Some("ftp://x")), "/n".into()).unwrap_err();
        assert!(e.to_string().contains("not http"), "{e}");
        let urgent = Spec {
            min_severity: Some("urgent"),
            ..spec("webhook", Some("http://h"))
        };
        let e = Sink::new(1, &urgent, "/n".into()).unwrap_err();
        assert!(e.to_string().contains("min_severity"), "{e}");
        let unset = Spec {
            secret_env: Some("INCUS_AI_NO_SUCH_VAR"),
            ..spec("webhook", Some("http://h"))
        };
        let e = Sink::new(1, &unset, "/n".into()).unwrap_err();
        assert!(
            e.to_string().contains("INCUS_AI_NO_SUCH_VAR is not set"),
            "{e}"
        );
    }
}
