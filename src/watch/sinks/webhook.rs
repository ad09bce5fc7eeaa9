//! A webhook: one JSON POST per transition, `{"id", "transition", "status", "remote",
//! "finding", "started_at", "ended_at", "sent_at"}`. `id` is shared by an alert and its
//! resolve; `transition` is repeated unchanged by every retry, so a receiver drops duplicates.
//! With a secret, `X-Incus-AI-Signature: sha256=<hex HMAC-SHA256 of the body>`.

use serde_json::json;

use crate::watch::ledger::{Transition, rfc3339};
use crate::watch::outbox::Delivery;

/// The header that carries the signature.
pub const SIGNATURE: &str = "X-Incus-AI-Signature";

/// The body of `t`, sent at `now`.
pub fn body(t: &Transition, now: i64) -> Vec<u8> {
    json!({
        "id": t.id,
        "transition": t.transition,
        "status": t.status,
        "remote": t.remote,
        "finding": t.finding,
        "review": t.review,
        "started_at": t.started_at,
        "ended_at": t.ended_at,
        "sent_at": rfc3339(now),
        "note": t.note,
    })
    .to_string()
    .into_bytes()
}

/// The signature header's value for `body` under `secret`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(crate::util::hmac::sha256(secret.as_bytes(), body))
    )
}

/// Sends `t` to `url`.
pub async fn post(
    http: &reqwest::Client,
    url: &str,
    secret: Option<&str>,
    t: &Transition,
) -> Delivery {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let body = body(t, now);
    let mut req = http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-Incus-AI-Transition", &t.transition)
        .timeout(super::TIMEOUT);
    if let Some(s) = secret {
        req = req.header(SIGNATURE, sign(s, &body));
    }
    super::judge(req.body(body).send().await)
}
