//! The administration's request path on the live cluster: how long a change's preview takes
//! (the reads behind what a person is shown) and a whole change once approved (the request,
//! the wait on its operation, the read-back check). The person's answer is not timed: the
//! bench stands in for it with a fixed decision (this file is not part of incus-ai).

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::{Duration, Instant};

use incus_ai::admin::Changes;
use incus_ai::admin::audit::Audit;
use incus_ai::admin::change::{Change, ConfigTarget};
use incus_ai::admin::confirm::{Confirm, Decision};
use incus_ai::admin::writer::Writer;
use incus_ai::diagnosis::incus::{Endpoint, Target};

/// The bench's stand-in for a person: always the same decision.
struct Fixed(Decision);

impl Confirm for Fixed {
    fn confirm<'a>(&'a self, _: &'a str) -> Pin<Box<dyn Future<Output = Decision> + Send + 'a>> {
        Box::pin(async move { self.0.clone() })
    }
}

fn set(value: &str) -> Change {
    Change::SetConfig {
        target: ConfigTarget::Instance,
        name: "c1".into(),
        key: "user.incus-ai-bench".into(),
        value: value.into(),
        member: None,
        project: "default".into(),
    }
}

fn p50(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Prints the preview and the approved change's times.
pub async fn admin_live(socket: &Path) {
    let target = Target {
        remote: "local".into(),
        endpoint: Endpoint::Unix(socket.to_path_buf()),
        project: None,
    };
    let audit_dir = tempfile::tempdir().expect("tempdir");
    // One connection pool for the process, as `ask --allow-changes` has: a second pool of its
    // own next to the first stalls incusd's unix socket (the first GET of about one run in
    // two hung until its timeout).
    let writer = Writer::connect(&target, Duration::from_secs(10)).expect("writer");
    let changes = |d: Decision| {
        Changes::new(
            writer.clone(),
            Box::new(Fixed(d)),
            Audit::in_data_dir(audit_dir.path()),
        )
    };
    let mut declined = changes(Decision::Declined("bench".into()));
    let mut previews = Vec::new();
    for i in 0..10 {
        declined.begin_question();
        let t = Instant::now();
        let r = declined
            .propose(
                "bench",
                "set_config",
                &serde_json::json!({}),
                set(&i.to_string()),
            )
            .await;
        previews.push(t.elapsed());
        assert!(r.is_ok_and(|v| v["status"] == "declined"));
    }
    let mut approved = changes(Decision::Approved);
    let mut runs = Vec::new();
    for i in 0..5 {
        approved.begin_question();
        let t = Instant::now();
        let r = approved
            .propose(
                "bench",
                "set_config",
                &serde_json::json!({}),
                set(&format!("v{i}")),
            )
            .await;
        runs.push(t.elapsed());
        match r {
            Ok(v) if v["status"] == "done" => {}
            // Said, not hidden: a change the cluster refused is a number that cannot be taken.
            other => {
                println!(
                    "change approved: not measured (change {} of 5 did not complete: {})",
                    i + 1,
                    match other {
                        Ok(v) => v.to_string(),
                        Err(e) => e.to_string(),
                    }
                );
                return;
            }
        }
    }
    approved.begin_question();
    let _ = approved
        .propose("bench", "set_config", &serde_json::json!({}), set(""))
        .await;
    println!(
        "change preview (set_config on c1, read with ETag): p50 {:.1} ms over 10",
        p50(previews).as_secs_f64() * 1000.0
    );
    println!(
        "change approved (PUT with If-Match, operation wait, read back): p50 {:.1} ms over 5",
        p50(runs).as_secs_f64() * 1000.0
    );
}
