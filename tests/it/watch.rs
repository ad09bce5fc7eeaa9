//! `incus-ai watch --once` against a replayed cluster whose state changes between runs (a
//! member goes offline and comes back, an endpoint fails), with real HTTP receivers on loopback
//! standing in for a webhook, ntfy and Alertmanager: each transition fires once, resolves with
//! the same id, survives a receiver that is down, respects silences, never resolves on an
//! incomplete read, and the notes record it.

use crate::support;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use support::http::{Request, Response, Server};
use support::replay::Recording;
use support::{Env, Run};

/// A receiver answering with a status the test sets (200 by default), which keeps what it
/// took (answered 2xx).
struct Receiver {
    server: Server,
    status: Arc<AtomicU16>,
    took: Arc<Mutex<Vec<Request>>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let status = Arc::new(AtomicU16::new(200));
        let took: Arc<Mutex<Vec<Request>>> = Arc::default();
        let (s, t) = (Arc::clone(&status), Arc::clone(&took));
        let server = Server::start(Arc::new(move |r: &Request| {
            let code = s.load(Ordering::SeqCst);
            if code < 300 {
                t.lock().unwrap().push(r.clone());
            }
            Response::new(code, "{}")
        }))
        .await;
        Receiver {
            server,
            status,
            took,
        }
    }

    fn set(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    /// What it took at `path`, with the body as JSON (or text).
    fn taken(&self, path: &str) -> Vec<(Request, Value)> {
        self.took
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .map(|r| {
                let v = serde_json::from_slice(&r.body)
                    .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&r.body).into()));
                (r.clone(), v)
            })
            .collect()
    }
}

struct World {
    env: Env,
    socket: PathBuf,
    hooks: Receiver,
    incus: Option<Server>,
}

impl World {
    async fn new() -> World {
        let env = Env::new();
        let hooks = Receiver::start().await;
        let socket = env.dir.path().join("incus.socket");
        env.config(&format!(
            "[watch]\nresolve_after = 2\n\n[[watch.notify]]\nkind = \"webhook\"\nurl = \"{}\"\nsecret_env = \"HOOK_SECRET\"\n\n[[watch.notify]]\nkind = \"ntfy\"\nurl = \"{}\"\nmin_severity = \"high\"\n\n[[watch.notify]]\nkind = \"alertmanager\"\nurl = \"{}\"\n\n[[watch.notify]]\nkind = \"notes\"\n\n[[watch.notify]]\nkind = \"heartbeat\"\nurl = \"{}\"\n",
            hooks.server.url("/hook"),
            hooks.server.url("/ntfy/alerts"),
            hooks.server.url("/am"),
            hooks.server.url("/ping")
        ));
        World {
            env,
            socket,
            hooks,
            incus: None,
        }
    }

    /// Serves `rec` as the cluster from now on.
    async fn cluster(&mut self, rec: Recording) {
        self.incus = None;
        let _ = std::fs::remove_file(&self.socket);
        self.incus = Some(rec.serve(&self.socket).await);
    }

    async fn run(&self, args: &[&str]) -> Run {
        let mut c = tokio::process::Command::from(self.env.cmd(args));
        c.env("INCUS_SOCKET", &self.socket)
            .env("HOOK_SECRET", "s3cret");
        c.output().await.unwrap().into()
    }

    /// Webhook transitions taken about `check`: (status, id, transition).
    fn hooks_of(&self, check: &str) -> Vec<(String, String, String)> {
        self.hooks
            .taken("/hook")
            .into_iter()
            .filter(|(_, v)| v["finding"]["id"] == check)
            .map(|(_, v)| {
                (
                    v["status"].as_str().unwrap().to_string(),
                    v["id"].as_str().unwrap().to_string(),
                    v["transition"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

/// The recorded healthy cluster, with what the review reads (a cycle runs it when it is due).
fn healthy() -> Recording {
    Recording::load("healthy").with_review_answers()
}

fn m2_offline() -> Recording {
    let mut rec = healthy();
    let m = rec.member("m2");
    m["status"] = json!("Offline");
    m["message"] = json!("No heartbeat for 31.2s (2026-11-26 07:18:02.12 +0000 UTC)");
    rec
}

#[tokio::test]
async fn alerts_fire_once_resolve_with_their_id_and_are_never_lost() {
    let mut w = World::new().await;
    w.cluster(healthy()).await;
    let once = ["watch", "--once"];

    // Healthy: nothing anywhere; the heartbeat is pinged.
    let r = w.run(&once).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(w.hooks.taken("/hook").is_empty());
    assert_eq!(w.hooks.taken("/ping").len(), 1);

    // m2 goes offline: one firing, signed, to each sink that takes its severity.
    w.cluster(m2_offline()).await;
    let r = w.run(&once).await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("FIRING member-offline cluster-member/m2"),
        "{}",
        r.stdout
    );
    let hooks = w.hooks_of("member-offline");
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    let (status, id, transition) = hooks[0].clone();
    assert_eq!(status, "firing");
    assert_eq!(transition, format!("{id}:firing"));
    let (req, body) = &w
        .hooks
        .taken("/hook")
        .into_iter()
        .find(|(_, v)| v["finding"]["id"] == "member-offline")
        .unwrap();
    let signature = req.headers.get("x-incus-ai-signature").expect("signed");
    let expected = format!(
        "sha256={}",
        hex::encode(incus_ai::util::hmac::sha256(b"s3cret", &req.body))
    );
    assert_eq!(signature, &expected);
    assert_eq!(body["finding"]["id"], "member-offline");
    assert!(
        body["finding"]["fix"]
            .as_array()
            .is_some_and(|f| !f.is_empty())
    );
    assert!(
        body["finding"]["docs"][0]["url"]
            .as_str()
            .unwrap()
            .starts_with("https://linuxcontainers.org/incus/docs/")
    );
    let ntfy = w.hooks.taken("/ntfy/alerts");
    assert_eq!(
        ntfy.iter()
            .filter(|(r, _)| r.headers["title"].contains("member-offline"))
            .count(),
        1
    );
    let am = w.hooks.taken("/am/api/v2/alerts");
    let alerts = |am: &[(Request, Value)]| -> Vec<Value> {
        am.iter()
            .flat_map(|(_, v)| v.as_array().cloned().unwrap_or_default())
            .filter(|a| a["labels"]["alertname"] == "member-offline")
            .collect()
    };
    assert!(
        alerts(&am)
            .iter()
            .any(|a| a["labels"]["subject"] == "cluster-member/m2"
                && a["labels"]["member"] == "m2"
                && a.get("endsAt").is_none())
    );
    let notes = std::fs::read_to_string(w.env.data().join("notes/incidents-local.md")).unwrap();
    assert!(
        notes.contains("firing member-offline cluster-member/m2"),
        "{notes}"
    );

    // Still offline: nothing new. Back, once: not yet resolved (2 complete reads needed).
    w.run(&once).await;
    w.cluster(healthy()).await;
    let r = w.run(&once).await;
    assert_eq!(r.code, 1);
    assert_eq!(w.hooks_of("member-offline").len(), 1);
    // An incomplete read resolves nothing.
    let mut broken = healthy();
    broken.fail("/1.0/instances?recursion=1&all-projects=true", 500, "boom");
    w.cluster(broken).await;
    let r = w.run(&once).await;
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("could not be read completely"),
        "{}",
        r.stderr
    );
    assert_eq!(w.hooks_of("member-offline").len(), 1);
    // The receiver is down when it resolves: kept, and delivered once it is back.
    w.cluster(healthy()).await;
    w.hooks.set(503);
    let r = w.run(&once).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let st = w.run(&["watch", "status", "--json"]).await.json();
    assert!(
        st["sinks"]["webhook-1"]["queued"].as_u64().unwrap() >= 1,
        "{st}"
    );
    assert!(
        st["sinks"]["webhook-1"]["last_error"]["error"]
            .as_str()
            .unwrap()
            .contains("503")
    );
    w.hooks.set(200);
    w.run(&once).await;
    // Each transition taken once: the firing, then the resolve with the same alert id.
    let hooks = w.hooks_of("member-offline");
    assert_eq!(
        hooks,
        vec![
            ("firing".to_string(), id.clone(), format!("{id}:firing")),
            ("resolved".to_string(), id.clone(), format!("{id}:resolved")),
        ]
    );
    let am = w.hooks.taken("/am/api/v2/alerts");
    assert!(alerts(&am).iter().any(|a| a.get("endsAt").is_some()));
    let notes = std::fs::read_to_string(w.env.data().join("notes/incidents-local.md")).unwrap();
    assert!(
        notes.contains("resolved member-offline cluster-member/m2"),
        "{notes}"
    );
    let st = w.run(&["watch", "status", "--json"]).await.json();
    // Only the review's advice stays (it is advice: it went to the notes, not to the sinks).
    assert!(
        st["firing"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["review"] == true),
        "{st}"
    );
    assert!(
        !w.hooks
            .taken("/hook")
            .iter()
            .any(|(_, v)| v["review"] == true)
    );
    assert!(
        !w.hooks
            .taken("/ntfy/alerts")
            .iter()
            .any(|(r, _)| r.headers["title"].contains("dir-storage-pool"))
    );
    assert_eq!(st["sinks"]["webhook-1"]["queued"], 0);
}

#[tokio::test]
async fn silences_hold_until_they_end_and_incomplete_reads_fire_their_own_alert() {
    let mut w = World::new().await;
    w.cluster(m2_offline()).await;
    let r = w
        .run(&[
            "watch",
            "silence",
            "--check",
            "member-offline",
            "--subject",
            "cluster-member/m2",
            "--for",
            "1h",
            "--reason",
            "replacing its power supply",
        ])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = w
        .run(&[
            "watch",
            "silence",
            "--check",
            "member-offline",
            "--for",
            "forever",
            "--reason",
            "x",
        ])
        .await;
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("not a duration"), "{}", r.stderr);
    let r = w.run(&["watch", "--once"]).await;
    assert_eq!(r.code, 1);
    assert!(w.hooks_of("member-offline").is_empty(), "silenced");
    let st = w.run(&["watch", "status"]).await;
    assert!(
        st.stdout.contains("(silenced)") && st.stdout.contains("replacing its power supply"),
        "{}",
        st.stdout
    );
    // The silence ends while it still fires: notified then.
    let list = w.run(&["watch", "silences", "--json"]).await.json();
    let sid = list[0]["id"].as_str().unwrap().to_string();
    assert_eq!(w.run(&["watch", "unsilence", &sid]).await.code, 0);
    w.run(&["watch", "--once"]).await;
    let m2 = w.hooks_of("member-offline");
    assert_eq!(m2.len(), 1);
    assert_eq!(m2[0].0, "firing");

    // incusd answering nothing useful twice in a row: watch-incomplete, and m2 stays firing.
    let mut broken = m2_offline();
    broken.fail("/1.0/warnings?recursion=1", 500, "database is locked");
    w.cluster(broken).await;
    w.run(&["watch", "--once"]).await;
    let mut broken_no_m2 = healthy();
    broken_no_m2.fail("/1.0/warnings?recursion=1", 500, "database is locked");
    w.cluster(broken_no_m2).await;
    let r = w.run(&["watch", "--once", "--json"]).await;
    assert_eq!(r.code, 1, "{}", r.stderr);
    let incomplete = w.hooks_of("watch-incomplete");
    assert_eq!(incomplete.len(), 1, "{incomplete:?}");
    assert_eq!(incomplete[0].0, "firing");
    assert!(
        !w.hooks
            .taken("/hook")
            .iter()
            .any(|(_, v)| v["status"] == "resolved"),
        "nothing resolves on incomplete reads"
    );
}

#[tokio::test]
async fn metrics_and_prometheus_rules() {
    let mut w = World::new().await;
    w.cluster(m2_offline()).await;
    let port = support::free_port();
    let mut c = tokio::process::Command::from(w.env.cmd(&[
        "watch",
        "--interval",
        "1",
        "--listen",
        &format!("127.0.0.1:{port}"),
    ]));
    c.env("INCUS_SOCKET", &w.socket)
        .env("HOOK_SECRET", "s3cret")
        .kill_on_drop(true)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let _watch = c.spawn().unwrap();
    let url = format!("http://127.0.0.1:{port}/metrics");
    let http = incus_ai::util::http::builder().build().unwrap();
    let mut text = String::new();
    for _ in 0..100 {
        if let Ok(r) = http.get(&url).send().await {
            text = r.text().await.unwrap_or_default();
            if text.contains("incus_ai_finding{") {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(text.contains("incus_ai_finding{remote=\"local\",check=\"member-offline\",severity=\"high\",subject=\"cluster-member/m2\""), "{text}");
    assert!(text.contains("incus_ai_watch_last_complete_read_timestamp_seconds{remote=\"local\"}"));
    assert!(text.contains("incus_ai_notify_queued{sink=\"webhook-1\"}"));
    // A second watch on the same data dir is refused.
    let r = w.run(&["watch", "--once"]).await;
    assert_eq!(r.code, 75, "{}", r.stderr);

    let out = w.env.dir.path().join("incus.rules.yml");
    let r = w
        .run(&["export", "prometheus-rules", "--out", out.to_str().unwrap()])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let check = std::process::Command::new("promtool")
        .args(["check", "rules"])
        .arg(&out)
        .output()
        .expect("promtool (scripts/setup.sh installs prometheus)");
    assert!(
        check.status.success(),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}
