//! Cycles at once when Incus's own event stream says something relevant happened: a member's
//! state changed, an instance stopped or failed, an operation failed, a warning appeared, or
//! the daemon logged at warning level or above. The stream is read-only (a GET upgraded to a
//! websocket) and reconnected with backoff when it ends.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Notify;

use super::Remote;

/// Whether an event (`{type, metadata, ...}`) is worth a cycle now.
pub fn relevant(event: &Value) -> bool {
    let meta = &event["metadata"];
    match event["type"].as_str() {
        Some("lifecycle") => {
            let action = meta["action"].as_str().unwrap_or_default();
            action.starts_with("cluster-member-")
                || action.starts_with("warning-")
                || matches!(
                    action,
                    "instance-stopped"
                        | "instance-shutdown"
                        | "instance-restarted"
                        | "operation-cancelled"
                        | "storage-pool-updated"
                        | "network-updated"
                )
        }
        Some("logging") => matches!(
            meta["level"].as_str().unwrap_or_default(),
            "warning" | "warn" | "error" | "crit" | "critical" | "fatal"
        ),
        Some("operation") => meta["status"].as_str() == Some("Failure"),
        _ => false,
    }
}

/// Follows `remote`'s events for as long as the process runs, waking `trigger` on each
/// relevant one; reconnects after 1 s, doubling to 60 s while it cannot.
pub async fn follow(remote: Remote, trigger: Arc<Notify>) {
    let mut wait = Duration::from_secs(1);
    loop {
        match remote.client.events("lifecycle,logging,operation").await {
            Ok(mut stream) => {
                wait = Duration::from_secs(1);
                tracing::debug!("watch: following the events of {}", remote.name);
                loop {
                    match stream.next().await {
                        Ok(Some(e)) if relevant(&e) => {
                            tracing::debug!(
                                "watch: {} event of {}: reading now",
                                e["type"].as_str().unwrap_or_default(),
                                remote.name
                            );
                            trigger.notify_one();
                        }
                        Ok(Some(_)) => {}
                        Ok(None) => break,
                        Err(e) => {
                            tracing::debug!("watch: events of {}: {e}", remote.name);
                            break;
                        }
                    }
                }
                // The stream ended: something may have happened (a restarted daemon).
                trigger.notify_one();
            }
            Err(e) => tracing::debug!("watch: events of {}: {e}", remote.name),
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(60));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn what_is_worth_a_cycle_now() {
        for e in [
            json!({"type": "lifecycle", "metadata": {"action": "cluster-member-updated"}}),
            json!({"type": "lifecycle", "metadata": {"action": "instance-stopped"}}),
            json!({"type": "lifecycle", "metadata": {"action": "warning-created"}}),
            json!({"type": "logging", "metadata": {"level": "error", "message": "x"}}),
            json!({"type": "operation", "metadata": {"status": "Failure"}}),
        ] {
            assert!(relevant(&e), "{e}");
        }
        for e in [
            json!({"type": "lifecycle", "metadata": {"action": "instance-started"}}),
            json!({"type": "logging", "metadata": {"level": "info"}}),
            json!({"type": "logging", "metadata": {"level": "debug"}}),
            json!({"type": "operation", "metadata": {"status": "Running"}}),
        ] {
            assert!(!relevant(&e), "{e}");
        }
    }
}
