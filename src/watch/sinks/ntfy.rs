//! ntfy: `POST {url}` (a topic on ntfy.sh or a server of one's own) with a short text and the
//! `Title`, `Priority` (critical 5, high 4, moderate 3, low 2), `Tags` and, for a protected
//! topic, `Authorization: Bearer` headers.

use crate::watch::ledger::{Status, Transition};
use crate::watch::outbox::Delivery;

/// The title, priority, tags and text of `t`.
pub fn message(t: &Transition) -> (String, &'static str, String, String) {
    let f = &t.finding;
    let title = f["title"].as_str().unwrap_or_default();
    let priority = match (t.status, f["severity"].as_str()) {
        (Status::Resolved, _) => "2",
        (_, Some("critical")) => "5",
        (_, Some("high")) => "4",
        (_, Some("moderate")) => "3",
        _ => "2",
    };
    let tags = match t.status {
        Status::Firing => "rotating_light",
        Status::Resolved => "white_check_mark",
    };
    let mut text = match t.status {
        Status::Firing => f["explanation"].as_str().unwrap_or_default().to_string(),
        Status::Resolved => format!("Resolved (since {}).", t.started_at),
    };
    if let Some(n) = &t.note {
        text.push_str(&format!("\n({n})"));
    }
    if t.status == Status::Firing {
        for c in f["fix"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str())
        {
            text.push_str(&format!("\n$ {c}"));
        }
    }
    (
        format!(
            "[{}] {} {}: {title}",
            t.remote,
            t.status.as_str().to_uppercase(),
            f["id"].as_str().unwrap_or_default()
        ),
        priority,
        format!("{tags},{}", f["id"].as_str().unwrap_or_default()),
        text,
    )
}

/// Sends `t` to the topic at `url`.
pub async fn post(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    t: &Transition,
) -> Delivery {
    let (title, priority, tags, text) = message(t);
    // Header values must be visible ASCII: anything else becomes a space.
    let ascii = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_graphic() || c == ' ' {
                    c
                } else {
                    ' '
                }
            })
            .collect()
    };
    let mut req = http
        .post(url)
        .header("Title", ascii(&title))
        .header("Priority", priority)
        .header("Tags", ascii(&tags))
        .timeout(super::TIMEOUT);
    if let Some(tok) = token {
        req = req.bearer_auth(tok);
    }
    super::judge(req.body(text).send().await)
}
