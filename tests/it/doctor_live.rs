//! The doctor on a real three-member Incus cluster on loopback (tests/cluster/incus-cluster.sh):
//! healthy first, then broken for real, one fault at a time, each repaired before the next.
//! Needs root (incusd runs as root); the harness installs Incus if it is missing.

use crate::support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::cluster::Cluster;
use support::{Env, Run};

fn finding(r: &Run, id: &str, subject: &str) -> Value {
    r.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id && f["subject"] == subject)
        .unwrap_or_else(|| panic!("no {id} {subject} in {}", r.stdout))
        .clone()
}

fn p(id: &str, subject: &str) -> (String, String) {
    (id.into(), subject.into())
}

fn remote_doctor(env: &Env, conf: &Path, name: &str) -> Run {
    let mut c = env.cmd(&["doctor", "--json", "--remote", name, "--timeout", "5"]);
    c.env("INCUS_CONF", conf);
    c.output().unwrap().into()
}

fn fingerprint(pem: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    hex::encode(sha2::Sha256::digest(der))
}

#[test]
#[ignore = "needs root and starts a real 3-member Incus cluster; `make test` runs it (cargo test -- --include-ignored)"]
fn doctor_on_a_real_cluster() {
    let cluster = Cluster::up();
    let env = Env::new();
    // An index from the project's own docs fixture, so findings carry doc links.
    let src = support::fixtures().join("incus-src");
    assert_eq!(
        env.run(&["mirror", "-q", "--source", src.to_str().unwrap()])
            .code,
        0
    );
    assert_eq!(env.run(&["index", "-q"]).code, 0);

    // Healthy: nothing wrong, although the hosts' own warnings (no AppArmor, no blkio.weight,
    // no KVM) are there: none of them matters to this cluster.
    let r = cluster.doctor(&env, &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.finding_ids(), vec![]);
    let mut c = env.cmd(&["status", "--json"]);
    c.env("INCUS_SOCKET", cluster.var("ICL_M1_SOCKET"));
    let s: Run = c.output().unwrap().into();
    assert_eq!(s.json()["members"].as_array().unwrap().len(), 3);
    assert!(
        s.json()["members"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["status"] == "Online")
    );

    // Over HTTPS like the incus CLI: client certificate, pinned cluster certificate, TLS 1.3.
    let conf = env.dir.path().join("incus-conf");
    let cert = std::fs::read_to_string(cluster.var("ICL_CLIENT_CERT")).unwrap();
    let key = std::fs::read_to_string(cluster.var("ICL_CLIENT_KEY")).unwrap();
    let server = std::fs::read_to_string(cluster.var("ICL_CLUSTER_CERT")).unwrap();
    let m2 = cluster.var("ICL_M2_URL");
    support::write_remote(&conf, "tcl", &m2, &cert, &key, &server);
    let r = remote_doctor(&env, &conf, "tcl");
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["remote"], "tcl");
    let (other, _) = support::certificate("not-the-cluster", -1, 300);
    support::write_remote(&conf, "tcl", &m2, &cert, &key, &other);
    let r = remote_doctor(&env, &conf, "tcl");
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("does not match the one pinned"),
        "{}",
        r.stderr
    );
    let (stranger, stranger_key) = support::certificate("stranger", -1, 300);
    support::write_remote(&conf, "tcl", &m2, &stranger, &stranger_key, &server);
    let r = remote_doctor(&env, &conf, "tcl");
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("does not trust this client certificate"),
        "{}",
        r.stderr
    );
    let encrypted = Command::new("openssl")
        .args(["pkey", "-aes256", "-passout", "pass:secret", "-in"])
        .arg(cluster.var("ICL_CLIENT_KEY"))
        .output()
        .unwrap();
    support::write_remote(
        &conf,
        "tcl",
        &m2,
        &cert,
        &String::from_utf8_lossy(&encrypted.stdout),
        &server,
    );
    let r = remote_doctor(&env, &conf, "tcl");
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("is encrypted"), "{}", r.stderr);
    support::write_remote(
        &conf,
        "tcl",
        "https://127.0.0.29:8443",
        &cert,
        &key,
        &server,
    );
    let r = remote_doctor(&env, &conf, "tcl");
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("cannot reach Incus remote tcl"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);

    // A project at its limit.
    let _ = cluster.incus(&["project", "unset", "dev", "limits.instances"]);
    cluster.ok(&["project", "set", "dev", "limits.instances=1"]);
    let r = cluster.doctor(&env, &[]);
    assert_eq!(r.finding_ids(), vec![p("project-limit", "project/dev")]);
    assert_eq!(
        finding(&r, "project-limit", "project/dev")["severity"],
        "high"
    );
    cluster.ok(&["project", "unset", "dev", "limits.instances"]);

    // A trusted client certificate that expires in days (a failed earlier run may have left one).
    let _ = cluster.incus(&["config", "trust", "remove", "contractor-laptop"]);
    let (short, _) = support::certificate("contractor-laptop", -1, 5);
    let file = env.dir.path().join("contractor.crt");
    std::fs::write(&file, &short).unwrap();
    cluster.ok(&[
        "config",
        "trust",
        "add-certificate",
        file.to_str().unwrap(),
        "--name",
        "contractor-laptop",
    ]);
    let r = cluster.doctor(&env, &[]);
    assert_eq!(
        r.finding_ids(),
        vec![p("certificate-expiring", "certificate/contractor-laptop")]
    );
    let f = finding(&r, "certificate-expiring", "certificate/contractor-laptop");
    assert_eq!(f["severity"], "moderate");
    assert!(
        f["title"].as_str().unwrap().contains("expires in 4d")
            || f["title"].as_str().unwrap().contains("expires in 5d"),
        "{f}"
    );
    cluster.ok(&["config", "trust", "remove", &fingerprint(&short)]);

    // An instance that fails to start, seen right after the failure with its log lines.
    let _ = cluster.incus(&["delete", "broken1", "--force"]);
    cluster.ok(&[
        "init",
        "busybox",
        "broken1",
        "--target",
        "m2",
        "-c",
        "raw.lxc=lxc.init.cmd = /nonexistent/init",
    ]);
    let start = cluster.incus(&["start", "broken1"]);
    assert!(!start.status.success());
    let r = cluster.doctor(&env, &[]);
    assert_eq!(
        r.finding_ids(),
        vec![p("instance-start-failed", "instance/broken1")],
        "{}",
        r.stdout
    );
    let f = finding(&r, "instance-start-failed", "instance/broken1");
    assert!(f["evidence"].to_string().contains("Failed to exec"), "{f}");
    assert!(
        f["fix"][0]
            .as_str()
            .unwrap()
            .contains("incus info broken1 --show-log")
    );
    cluster.delete_instance("broken1");

    // A member in maintenance.
    cluster.ok(&["cluster", "evacuate", "m3", "--force"]);
    let r = cluster.doctor(&env, &[]);
    assert_eq!(
        r.finding_ids(),
        vec![p("member-evacuated", "cluster-member/m3")],
        "{}",
        r.stdout
    );
    assert!(
        finding(&r, "member-evacuated", "cluster-member/m3")["fix"][0]
            .as_str()
            .unwrap()
            .contains("incus cluster restore m3")
    );
    let mut restored = false;
    for _ in 0..10 {
        if cluster
            .incus(&["cluster", "restore", "m3", "--force"])
            .status
            .success()
        {
            restored = true;
            break;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    assert!(restored, "restore m3");

    // Secrets the agent must never send to a model.
    cluster.ok(&[
        "config",
        "set",
        "c1",
        "environment.DB_PASSWORD=hunter2-live",
    ]);
    cluster.ok(&[
        "config",
        "set",
        "c1",
        "cloud-init.user-data=#cloud-config\npassword: cloudpass-live",
    ]);
    cluster.ok(&["project", "set", "dev", "user.api_token=projtoken-live"]);

    // "Why is node2 offline?": kill m2's daemon for real.
    let k = cluster.sh(&["kill", "m2"]);
    assert!(k.status.success());
    let w = cluster.sh(&["wait", "m2", "Offline", "60"]);
    assert!(w.status.success(), "{}", String::from_utf8_lossy(&w.stdout));
    let r = cluster.doctor(&env, &[]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.finding_ids(),
        vec![
            p("database-quorum", "cluster/local"),
            p("instance-error", "instance/c2"),
            p("instance-error", "instance/dev1"),
            p("member-offline", "cluster-member/m2"),
        ],
        "{}",
        r.stdout
    );
    let f = finding(&r, "member-offline", "cluster-member/m2");
    assert_eq!(f["severity"], "high");
    assert!(
        f["title"].as_str().unwrap().contains("No heartbeat for"),
        "{f}"
    );
    assert!(
        f["evidence"].to_string().contains("127.0.0.22:8443"),
        "the heartbeat failure names the address: {f}"
    );
    assert!(
        f["fix"]
            .to_string()
            .contains("incus cluster remove --force m2")
    );
    assert!(
        f["docs"].as_array().unwrap().iter().any(|d| d["url"]
            .as_str()
            .unwrap()
            .ends_with("#deal-with-offline-cluster-members")),
        "{f}"
    );
    let dev1 = finding(&r, "instance-error", "instance/dev1");
    assert_eq!(dev1["project"], "dev");
    assert!(dev1["explanation"].as_str().unwrap().contains("m2"));
    let only_m3 = cluster.doctor(&env, &["--member", "m3"]);
    assert_eq!(
        only_m3.finding_ids(),
        vec![p("database-quorum", "cluster/local")]
    );
    let human: Run = {
        let mut c = env.cmd(&["doctor"]);
        c.env("INCUS_SOCKET", cluster.var("ICL_M1_SOCKET"));
        c.output().unwrap().into()
    };
    assert_eq!(human.code, 1);
    assert!(
        human.stdout.contains("Cluster member m2 is offline"),
        "{}",
        human.stdout
    );
    assert!(
        human
            .stdout
            .contains("fix: incus cluster remove --force m2"),
        "{}",
        human.stdout
    );
    assert!(cluster.sh(&["start", "m2"]).status.success());
    assert!(cluster.wait_up("m2"), "m2 back");

    // The installation as notes, with a planted secret that must not be written down.
    let mut c = env.cmd(&["snapshot"]);
    c.env("INCUS_SOCKET", cluster.var("ICL_M1_SOCKET"));
    let r: Run = c.output().unwrap().into();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let md = std::fs::read_to_string(env.data().join("notes/installation-local.md")).unwrap();
    assert!(!md.contains("hunter2-live"));
    assert!(md.contains("| m1 |") && md.contains("### Instances on m3"));
    cluster.ok(&["config", "unset", "c1", "environment.DB_PASSWORD"]);

    // A hung member (stopped, not dead): it costs one short probe, and it is named.
    let pid = std::fs::read_to_string(cluster.root.join("m3.pid")).unwrap();
    let pid = pid.split_whitespace().next().unwrap().to_string();
    assert!(
        Command::new("kill")
            .args(["-STOP", &pid])
            .status()
            .unwrap()
            .success()
    );
    let start = std::time::Instant::now();
    let r = cluster.doctor(&env, &[]);
    let took = start.elapsed();
    assert!(
        Command::new("kill")
            .args(["-CONT", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        took < std::time::Duration::from_secs(8),
        "a hung member cost {took:?}"
    );
    assert!(
        r.finding_ids()
            .contains(&p("member-offline", "cluster-member/m3")),
        "{}",
        r.stdout
    );
    assert!(cluster.wait_up("m3"), "m3 back");

    // Quorum lost for real: two of three voters killed. Said within seconds, nothing else asked.
    assert!(cluster.sh(&["kill", "m2"]).status.success());
    assert!(cluster.sh(&["kill", "m3"]).status.success());
    std::thread::sleep(std::time::Duration::from_secs(2));
    let start = std::time::Instant::now();
    let r = cluster.doctor(&env, &[]);
    let took = start.elapsed();
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        took < std::time::Duration::from_secs(12),
        "quorum loss took {took:?}"
    );
    let f = &r.json()["findings"][0];
    assert_eq!(f["id"], "database-quorum", "{}", r.stdout);
    assert_eq!(f["severity"], "critical");
    assert!(cluster.sh(&["start", "m2"]).status.success());
    assert!(cluster.sh(&["start", "m3"]).status.success());
    assert!(cluster.wait_up("m2"), "m2 back");
    assert!(cluster.wait_up("m3"), "m3 back");

    // Healthy again; instances that stopped with their members may take a moment.
    let mut r = cluster.doctor(&env, &[]);
    for _ in 0..20 {
        if r.code == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_secs(2));
        r = cluster.doctor(&env, &[]);
    }
    assert_eq!(r.code, 0, "healthy again: {}", r.stdout);

    review_on_the_real_cluster(&cluster, &env);
}

/// The rules `review` must find once they are planted (and not before).
const PLANTED: &[(&str, &str)] = &[
    ("container-privileged", "instance/c2"),
    ("snapshots-without-expiry", "instance/c3"),
    ("images-auto-update-disabled", "cluster/local"),
    ("healing-without-shared-storage", "cluster/local"),
    ("failover-capacity", "cluster-member/m1"),
    ("failover-capacity", "cluster-member/m2"),
    ("failover-capacity", "cluster-member/m3"),
];

/// Takes the planted weaknesses out again (also what a failed earlier run may have left).
fn unplant(cluster: &Cluster) {
    for args in [
        &["config", "unset", "c2", "security.privileged"][..],
        &["config", "unset", "c3", "snapshots.schedule"],
        &["config", "unset", "images.auto_update_interval"],
        &["config", "unset", "cluster.healing_threshold"],
        &["config", "unset", "c1", "limits.memory"],
        &["config", "unset", "c2", "limits.memory"],
        &["config", "unset", "c3", "limits.memory"],
    ] {
        let _ = cluster.incus(args);
    }
}

fn review(cluster: &Cluster, env: &Env, extra: &[&str]) -> (Run, Duration) {
    let mut args = vec!["review", "--json"];
    args.extend_from_slice(extra);
    let mut c = env.cmd(&args);
    c.env("INCUS_SOCKET", cluster.var("ICL_M1_SOCKET"));
    let t = std::time::Instant::now();
    let r: Run = c.output().unwrap().into();
    (r, t.elapsed())
}

/// `review` on the live cluster: none of the planted rules before, each with its subject
/// after, under 3 s, exit 0 (advice); the snapshot gains the review and instance keys.
fn review_on_the_real_cluster(cluster: &Cluster, env: &Env) {
    unplant(cluster);
    // The nightly refresh takes the snapshot itself when the server answers.
    let _ = std::fs::remove_file(env.data().join("notes/installation-local.md"));
    let src = support::fixtures().join("incus-src");
    let mut c = env.cmd(&[
        "refresh",
        "--json",
        "--no-export",
        "--source",
        src.to_str().unwrap(),
    ]);
    c.env("INCUS_SOCKET", cluster.var("ICL_M1_SOCKET"));
    let r: Run = c.output().unwrap().into();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.json()["snapshot"]
            .as_str()
            .unwrap()
            .starts_with("snapshot "),
        "{}",
        r.stdout
    );
    assert!(env.data().join("notes/installation-local.md").is_file());
    // ... and adds the real server's own configuration reference to the docs.
    let r = env.run(&["search", "--json", "ceph.cluster_name"]);
    let title = r.json()[0]["title"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        title.ends_with(" server)") && title.contains("(Incus 6."),
        "{title}\n{}",
        r.stdout
    );
    let (r, took) = review(cluster, env, &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(took < Duration::from_secs(3), "review took {took:?}");
    let before = r.finding_ids();
    for (id, subject) in PLANTED {
        assert!(
            !before.contains(&p(id, subject)),
            "{id} {subject} before planting: {}",
            r.stdout
        );
    }
    assert_eq!(r.json()["complete"], true, "{}", r.stdout);
    // Every daemon of the test cluster is the same incusd: the versions read per member agree.
    assert!(
        !before.contains(&p("mixed-versions", "cluster/local")),
        "{}",
        r.stdout
    );

    cluster.ok(&["config", "set", "c2", "security.privileged=true"]);
    cluster.ok(&["config", "set", "c3", "snapshots.schedule=@daily"]);
    cluster.ok(&["config", "set", "images.auto_update_interval=0"]);
    cluster.ok(&["config", "set", "cluster.healing_threshold=30"]);
    // Each member's host has the machine's memory; 20 GiB on each member's container leaves
    // no member able to take another's.
    let total = std::fs::read_to_string("/proc/meminfo")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap();
    let big = format!("limits.memory={}MiB", total * 6 / 10 / 1024);
    for c in ["c1", "c2", "c3"] {
        cluster.ok(&["config", "set", c, &big]);
    }
    let (r, took) = review(cluster, env, &[]);
    // The installation snapshot (what `aichat --rag incus-local` knows) has the review and
    // each instance's own keys.
    let notes = env.dir.path().join("review-notes");
    let mut c = env.cmd(&["snapshot", "--out", notes.to_str().unwrap()]);
    c.env("INCUS_SOCKET", cluster.var("ICL_M1_SOCKET"));
    let s: Run = c.output().unwrap().into();
    unplant(cluster);
    assert_eq!(s.code, 0, "{}", s.stderr);
    let text = std::fs::read_to_string(notes.join("installation-local.md")).unwrap();
    assert!(text.contains("## Review: what to improve"), "{text}");
    assert!(
        text.contains("`failover-capacity` (cluster-member/m1)"),
        "{text}"
    );
    assert!(
        text.contains("### Instance c3 (project default) configuration"),
        "{text}"
    );
    assert!(text.contains("`snapshots.schedule` | `@daily`"), "{text}");
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(took < Duration::from_secs(3), "review took {took:?}");
    let after = r.finding_ids();
    for (id, subject) in PLANTED {
        assert!(
            after.contains(&p(id, subject)),
            "no {id} {subject}: {}",
            r.stdout
        );
    }
    let f = finding(&r, "failover-capacity", "cluster-member/m1");
    assert_eq!(f["severity"], "high");
    assert!(f["title"].as_str().unwrap().contains("If m1 fails"), "{f}");
    assert!(f["evidence"].to_string().contains("c1"), "{f}");
    let f = finding(&r, "healing-without-shared-storage", "cluster/local");
    assert!(
        f["fix"][0]
            .as_str()
            .unwrap()
            .contains("cluster.healing_threshold=0"),
        "{f}"
    );
    assert!(!f["docs"].as_array().unwrap().is_empty(), "doc links: {f}");
    // --project keeps that project's findings and the cluster-wide ones.
    let (r, _) = review(cluster, env, &["--project", "dev"]);
    assert!(
        r.json()["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["project"].is_null() || f["project"] == "dev"),
        "{}",
        r.stdout
    );
}
