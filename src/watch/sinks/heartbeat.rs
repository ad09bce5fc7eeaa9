//! A heartbeat (a dead man's switch, healthchecks-style): a GET after every complete cycle;
//! the service alerts when the pings stop, so a watch that died or cannot read is noticed.

use crate::watch::outbox::Delivery;

/// Pings `url`.
pub async fn ping(http: &reqwest::Client, url: &str) -> Delivery {
    super::judge(http.get(url).timeout(super::TIMEOUT).send().await)
}
