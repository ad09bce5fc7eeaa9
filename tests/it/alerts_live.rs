//! `incus-ai watch` on a real three-member cluster of its own (empty, on 127.0.0.31-33, so it
//! runs beside the doctor and administration tests' cluster), delivering to a real Alertmanager
//! (Debian's `prometheus-alertmanager`, started here on loopback) and to a webhook receiver:
//! quiet while healthy; a member killed fires within Incus's offline threshold, one interval
//! and 10 s; the member it reads through frozen (SIGSTOP) fires `watch-incomplete` and resolves
//! nothing; the receiver down at the resolve and the watch killed with -9 lose nothing and
//! deliver nothing twice; the member back resolves the alert in Alertmanager and at the
//! receiver with the same id; a member flapping pages five times, the last saying it is held,
//! and is then held as firing; a silenced member down says nothing until its silence ends.
//! Needs root (incusd runs as root).

use crate::support;

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::cluster::Cluster;
use support::http::{Request, Response, Server};
use support::{Env, free_port};

/// Offline threshold of the test cluster (tests/cluster/incus-cluster.sh), and the interval.
const THRESHOLD: u64 = 11;
const INTERVAL: u64 = 3;

struct Alertmanager {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Alertmanager {
    fn start() -> Alertmanager {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("alertmanager.yml");
        std::fs::write(
            &config,
            "route:\n  receiver: none\n  group_wait: 1s\nreceivers:\n  - name: none\n",
        )
        .unwrap();
        let port = free_port();
        let child = Command::new("/usr/bin/prometheus-alertmanager")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus-alertmanager (scripts/setup.sh installs it)");
        let am = Alertmanager {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        let t = Instant::now();
        while am.active().is_none() {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "alertmanager did not start"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        am
    }

    /// The active alerts from incus-ai, as (alertname, subject); `None` while it does not answer.
    fn active(&self) -> Option<Vec<(String, String)>> {
        let out = Command::new("curl")
            .args(["-fsS", "--max-time", "2"])
            .arg(format!(
                "{}/api/v2/alerts?active=true&silenced=false&inhibited=false",
                self.url
            ))
            .output()
            .ok()?;
        let v: Value = serde_json::from_slice(&out.stdout).ok()?;
        Some(
            v.as_array()?
                .iter()
                .filter(|a| a["labels"]["source"] == "incus-ai")
                .map(|a| {
                    (
                        a["labels"]["alertname"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                        a["labels"]["subject"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                    )
                })
                .collect(),
        )
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits up to `secs` for `cond`; how long it took.
fn until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) -> Duration {
    let t = Instant::now();
    while !cond() {
        assert!(
            t.elapsed() < Duration::from_secs(secs),
            "{what}: not within {secs} s"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    t.elapsed()
}

struct Watcher {
    child: Child,
}

impl Watcher {
    fn start(env: &Env, socket: &str, metrics: u16) -> Watcher {
        let child = env
            .cmd(&[
                "watch",
                "--interval",
                &INTERVAL.to_string(),
                "--timeout",
                "3",
                "--listen",
                &format!("127.0.0.1:{metrics}"),
            ])
            .env("INCUS_SOCKET", socket)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Watcher { child }
    }

    fn kill_9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Thaws a member frozen with SIGSTOP, whatever happens to the test.
struct Thaw<'a>(&'a Cluster, &'static str);

impl Drop for Thaw<'_> {
    fn drop(&mut self) {
        let _ = self.0.sh(&["kill", self.1, "CONT"]);
    }
}

/// Starts a member the test stopped, whatever happens to the test.
struct Revive<'a>(&'a Cluster, &'static str);

impl Drop for Revive<'_> {
    fn drop(&mut self) {
        let _ = self.0.sh(&["start", self.1]);
        let _ = self.0.sh(&["wait", self.1, "Online", "60"]);
    }
}

#[test]
#[ignore = "needs root and starts a real 3-member Incus cluster; `make test` runs it (cargo test -- --include-ignored)"]
fn watch_on_a_real_cluster_alerts_alertmanager_and_loses_nothing() {
    let cluster = Cluster::apart();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let status = Arc::new(AtomicU16::new(200));
    let took: Arc<Mutex<Vec<Value>>> = Arc::default();
    let (s, t) = (Arc::clone(&status), Arc::clone(&took));
    let hook = rt.block_on(Server::start(Arc::new(move |r: &Request| {
        let code = s.load(Ordering::SeqCst);
        if code < 300
            && let Ok(v) = serde_json::from_slice::<Value>(&r.body)
        {
            t.lock().unwrap().push(v);
        }
        Response::new(code, "{}")
    })));
    let am = Alertmanager::start();
    let env = Env::new();
    env.config(&format!(
        "[watch]\nresolve_after = 2\nresend_secs = 5\n\n[[watch.notify]]\nkind = \"alertmanager\"\nurl = \"{}\"\n\n[[watch.notify]]\nkind = \"webhook\"\nurl = \"{}\"\n",
        am.url,
        hook.url("/hook")
    ));
    let socket = cluster.var("ICL_M1_SOCKET");
    let port = free_port();
    let metrics = || -> String {
        Command::new("curl")
            .args(["-fsS", "--max-time", "2"])
            .arg(format!("http://127.0.0.1:{port}/metrics"))
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let hooks_of = |check: &str, subject: &str| -> Vec<Value> {
        took.lock()
            .unwrap()
            .iter()
            .filter(|v| v["finding"]["id"] == check && v["finding"]["subject"] == subject)
            .cloned()
            .collect()
    };
    let watcher = Watcher::start(&env, &socket, port);

    // Healthy for three cycles: no alert anywhere.
    until(30, "the first complete read", || {
        metrics().contains("incus_ai_watch_last_complete_read_timestamp_seconds{")
    });
    std::thread::sleep(Duration::from_secs(3 * INTERVAL));
    assert_eq!(am.active(), Some(vec![]), "alerts while healthy");
    assert!(
        took.lock().unwrap().is_empty(),
        "{:?}",
        took.lock().unwrap()
    );

    // m2's incusd killed: in Alertmanager within the threshold + one interval + 10 s.
    assert!(cluster.sh(&["kill", "m2"]).status.success());
    let m2 = (
        "member-offline".to_string(),
        "cluster-member/m2".to_string(),
    );
    let took_for = until(
        THRESHOLD + INTERVAL + 10,
        "member-offline in Alertmanager",
        || am.active().is_some_and(|a| a.contains(&m2)),
    );
    eprintln!(
        "member killed to alert in Alertmanager: {:.1} s",
        took_for.as_secs_f64()
    );
    let firing = hooks_of("member-offline", "cluster-member/m2");
    assert_eq!(firing.len(), 1, "{firing:?}");
    assert_eq!(firing[0]["status"], "firing");
    let id = firing[0]["id"].as_str().unwrap().to_string();
    assert!(metrics().contains("incus_ai_finding{remote=\"local\",check=\"member-offline\",severity=\"high\",subject=\"cluster-member/m2\""));

    // The member the watch reads through frozen: watch-incomplete, and nothing resolves.
    assert!(cluster.sh(&["kill", "m1", "STOP"]).status.success());
    let thaw = Thaw(&cluster, "m1");
    until(60, "watch-incomplete", || {
        !hooks_of("watch-incomplete", "remote/local").is_empty()
    });
    drop(thaw);
    assert!(
        hooks_of("member-offline", "cluster-member/m2")
            .iter()
            .all(|h| h["status"] == "firing")
    );

    // The receiver down when m2 comes back, the watch killed -9 meanwhile, started again:
    // the resolve is delivered once, with the alert's id; Alertmanager no longer has it.
    status.store(503, Ordering::SeqCst);
    let out = cluster.sh(&["start", "m2"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    until(60, "the resolve is queued", || {
        env.run(&["watch", "status", "--json"]).json()["sinks"]["webhook-2"]["queued"]
            .as_u64()
            .unwrap_or(0)
            > 0
    });
    watcher.kill_9();
    status.store(200, Ordering::SeqCst);
    let _watcher = Watcher::start(&env, &socket, port);
    until(60, "the resolve at the receiver", || {
        hooks_of("member-offline", "cluster-member/m2")
            .iter()
            .any(|h| h["status"] == "resolved")
    });
    until(60, "resolved in Alertmanager", || {
        am.active().is_some_and(|a| !a.contains(&m2))
    });
    std::thread::sleep(Duration::from_secs(2 * INTERVAL));
    let m2_hooks = hooks_of("member-offline", "cluster-member/m2");
    let transitions: Vec<&str> = m2_hooks
        .iter()
        .map(|h| h["transition"].as_str().unwrap())
        .collect();
    assert_eq!(
        transitions,
        vec![format!("{id}:firing"), format!("{id}:resolved")],
        "each once"
    );

    // m2 flapping: down, up, down again within the hour. The fifth transition is the last
    // page, and says so; m2 back once more resolves nothing (held as firing).
    let said = |n: usize, what: &str| {
        until(THRESHOLD + 3 * INTERVAL + 30, what, || {
            hooks_of("member-offline", "cluster-member/m2").len() >= n
        });
    };
    assert!(cluster.sh(&["kill", "m2"]).status.success());
    let revive_m2 = Revive(&cluster, "m2");
    said(3, "m2 down again");
    assert!(cluster.sh(&["start", "m2"]).status.success());
    said(4, "m2 back again");
    assert!(cluster.sh(&["kill", "m2"]).status.success());
    said(5, "m2 down a third time");
    drop(revive_m2);
    std::thread::sleep(Duration::from_secs(4 * INTERVAL));
    let m2_hooks = hooks_of("member-offline", "cluster-member/m2");
    let statuses: Vec<&str> = m2_hooks
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        vec!["firing", "resolved", "firing", "resolved", "firing"],
        "{m2_hooks:?}"
    );
    assert!(
        m2_hooks[4]["note"]
            .as_str()
            .is_some_and(|n| n.starts_with("flapping")),
        "{:?}",
        m2_hooks[4]
    );
    assert!(m2_hooks[..4].iter().all(|h| h["note"].is_null()));
    assert!(
        am.active().is_some_and(|a| a.contains(&m2)),
        "held as firing in Alertmanager"
    );
    let held = env.run(&["watch", "status", "--json"]).json();
    assert!(held.to_string().contains("\"flapping\":true"), "{held}");

    // A silence: m3 down while it holds says nothing; when it ends, m3 still down is said.
    // m3 may have flickered offline before (heartbeats late on a loaded machine while m1 was
    // stopped or m2 flapped): the silence starts once nothing fires for it.
    until(
        THRESHOLD + 3 * INTERVAL + 10,
        "nothing firing for m3",
        || {
            env.run(&["watch", "status", "--json"]).json()["firing"]
                .as_array()
                .is_some_and(|f| f.iter().all(|a| a["subject"] != "cluster-member/m3"))
        },
    );
    // Taken before the command, whose clock starts the silence, however long it takes on a
    // loaded machine; silences are kept to the second, so it may end up to a second before
    // 30 s after this.
    let silenced_at = Instant::now();
    let r = env.run(&[
        "watch",
        "silence",
        "--check",
        "member-offline",
        "--subject",
        "cluster-member/m3",
        "--for",
        "30s",
        "--reason",
        "replacing m3's disk",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let firings_of_m3 = || -> Vec<Value> {
        hooks_of("member-offline", "cluster-member/m3")
            .into_iter()
            .filter(|h| h["status"] == "firing")
            .collect()
    };
    let before = firings_of_m3();
    if !before.is_empty() {
        eprintln!("m3 was said before the silence: {before:?}");
    }
    assert!(cluster.sh(&["kill", "m3"]).status.success());
    let revive = Revive(&cluster, "m3");
    let m3 = (
        "member-offline".to_string(),
        "cluster-member/m3".to_string(),
    );
    until(THRESHOLD + INTERVAL + 10, "m3 seen offline", || {
        metrics().contains("subject=\"cluster-member/m3\"")
    });
    assert!(
        silenced_at.elapsed() < Duration::from_secs(30),
        "the silence ended too early to tell"
    );
    let during = firings_of_m3();
    assert_eq!(
        during.len(),
        before.len(),
        "said while silenced: {during:?}"
    );
    assert!(
        am.active().is_some_and(|a| !a.contains(&m3)),
        "sent while silenced"
    );
    until(
        30 + 2 * INTERVAL + 10,
        "m3 said when the silence ended",
        || firings_of_m3().len() > before.len(),
    );
    assert!(
        silenced_at.elapsed() >= Duration::from_secs(29),
        "said {:.1} s after the 30 s silence began",
        silenced_at.elapsed().as_secs_f64()
    );
    drop(revive);
    drop(cluster);
}
