//! `make bench`, the watch: a cycle's requests and time (the first one runs the review too),
//! and on the real cluster the time from a member dying to its alert in a real Alertmanager.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{ms, status};

/// `watch --once --json` `runs` times on `socket` in one data dir: each cycle's
/// (requests, milliseconds).
fn cycles(bin: &Path, socket: &Path, runs: usize) -> Vec<(u64, u64)> {
    let data = tempfile::tempdir().unwrap();
    (0..runs)
        .filter_map(|_| {
            let out = Command::new(bin)
                .args(["watch", "--once", "--json"])
                .env("INCUS_AI_DATA_DIR", data.path())
                .env("INCUS_AI_CONFIG", "/dev/null")
                .env("INCUS_SOCKET", socket)
                .output()
                .ok()?;
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
            Some((v["requests"].as_u64()?, v["elapsed_ms"].as_u64()?))
        })
        .collect()
}

/// Prints a cycle's cost on the cluster behind `socket`.
pub fn cycle(bin: &Path, socket: &Path, label: &str) {
    let c = cycles(bin, socket, 4);
    let Some((first, rest)) = c.split_first() else {
        println!("watch cycle, {label}: not measured");
        return;
    };
    let mut next: Vec<u64> = rest.iter().map(|(_, t)| *t).collect();
    next.sort_unstable();
    let p50 = next.get(next.len() / 2).copied().unwrap_or(0);
    println!(
        "watch cycle, {label}: first (with the review) {} requests in {}; then {} requests, p50 {}  [{}]",
        first.0,
        ms(Duration::from_millis(first.1)),
        rest.first().map_or(0, |r| r.0),
        ms(Duration::from_millis(p50)),
        status("watch cycle", p50 < 3000, "< 3 s")
    );
}

fn alertmanager_active(url: &str) -> String {
    Command::new("curl")
        .args(["-fsS", "--max-time", "2"])
        .arg(format!("{url}/api/v2/alerts?active=true"))
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// On the real cluster: m2's daemon killed, how long until Alertmanager lists its alert.
pub fn alert_latency(bin: &Path, socket: &Path, harness: impl Fn(&[&str])) {
    let Ok(_) = std::fs::metadata("/usr/bin/prometheus-alertmanager") else {
        println!("member dying to alert: not measured (prometheus-alertmanager not installed)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("am.yml"),
        "route:\n  receiver: none\nreceivers:\n  - name: none\n",
    )
    .unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let mut am = Command::new("/usr/bin/prometheus-alertmanager")
        .arg(format!(
            "--config.file={}",
            dir.path().join("am.yml").display()
        ))
        .arg(format!("--storage.path={}", dir.path().join("s").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!("[watch]\n[[watch.notify]]\nkind = \"alertmanager\"\nurl = \"{url}\"\n"),
    )
    .unwrap();
    let mut watch = Command::new(bin)
        .args(["watch", "--interval", "5", "--timeout", "3"])
        .env("INCUS_AI_DATA_DIR", dir.path().join("data"))
        .env("INCUS_AI_CONFIG", &config)
        .env("INCUS_SOCKET", socket)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(8));
    harness(&["kill", "m2"]);
    let t = Instant::now();
    let mut seen = None;
    while t.elapsed() < Duration::from_secs(90) {
        if alertmanager_active(&url).contains("cluster-member/m2") {
            seen = Some(t.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    match seen {
        Some(d) => println!(
            "member dying to alert:   {}  (m2's incusd killed to member-offline active in Alertmanager; threshold 11 s, interval 5 s)  [{}]",
            ms(d),
            status(
                "alert latency",
                d < Duration::from_secs(26),
                "< threshold + interval + 10 s"
            )
        ),
        None => println!("member dying to alert: no alert within 90 s"),
    }
    let _ = watch.kill();
    let _ = watch.wait();
    let _ = am.kill();
    let _ = am.wait();
    harness(&["start", "m2"]);
    harness(&["wait", "m2", "Online", "60"]);
}
