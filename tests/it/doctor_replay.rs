//! The doctor against answers recorded from a real three-member cluster, edited to show the
//! faults that cannot be produced on this machine, served on a loopback unix socket.

use crate::support;

use serde_json::{Value, json};
use support::replay::Recording;
use support::{Env, Run, run_with_socket};

/// A doctor run against a replayed cluster, which keeps serving for more runs.
struct Doctor {
    env: Env,
    socket: std::path::PathBuf,
    server: support::http::Server,
    run: Run,
}

impl Doctor {
    async fn rerun(&self, args: &[&str]) -> Run {
        run_with_socket(&self.env, &self.socket, args).await
    }

    /// Every method and path the replayed daemon was asked for.
    fn requests(&self) -> Vec<String> {
        let log = self.server.log.lock().unwrap();
        log.iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    fn report(&self) -> Value {
        self.run.json()
    }

    /// (id, severity, subject) of every finding.
    fn findings(&self) -> Vec<(String, String, String)> {
        self.report()["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["id"].as_str().unwrap().to_string(),
                    f["severity"].as_str().unwrap().to_string(),
                    f["subject"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    fn finding(&self, id: &str) -> Value {
        self.report()["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == id)
            .unwrap_or_else(|| panic!("no {id} finding in {}", self.run.stdout))
            .clone()
    }
}

async fn doctor(rec: Recording, args: &[&str]) -> Doctor {
    let env = Env::new();
    let socket = env.dir.path().join("incus.socket");
    let server = rec.serve(&socket).await;
    let mut all = vec!["doctor", "--json"];
    all.extend_from_slice(args);
    let run = run_with_socket(&env, &socket, &all).await;
    // No index here: every finding still links the doc page its advice comes from, on the
    // docs of the server's version (6.0.4 → stable-6.0; `main` when /1.0 could not be read),
    // but for warnings of unknown types.
    if let Ok(report) = serde_json::from_str::<Value>(&run.stdout) {
        for f in report["findings"].as_array().into_iter().flatten() {
            if f["id"] == "incus-warning" {
                continue;
            }
            let url = f["docs"][0]["url"].as_str().unwrap_or_default();
            let version_known = !report["unreadable"].to_string().contains("\"/1.0\"");
            let base = if version_known { "stable-6.0" } else { "main" };
            assert!(
                url.starts_with(&format!("https://linuxcontainers.org/incus/docs/{base}/")),
                "{} links no doc page: {f}",
                f["id"]
            );
        }
    }
    Doctor {
        env,
        socket,
        server,
        run,
    }
}

/// Whether the finding's `field` (a string, or an array of them) mentions `needle`.
fn mentions(f: &Value, field: &str, needle: &str) -> bool {
    match &f[field] {
        Value::String(s) => s.contains(needle),
        Value::Array(items) => items
            .iter()
            .any(|i| i.as_str().is_some_and(|s| s.contains(needle))),
        other => panic!("{field} is neither text nor a list: {other}"),
    }
}

fn t(id: &str, severity: &str, subject: &str) -> (String, String, String) {
    (id.into(), severity.into(), subject.into())
}

#[tokio::test]
async fn the_thresholds_come_from_the_config_for_doctor_and_watch() {
    // The same healthy cluster: with a pool threshold of 1 %, its pools are "full".
    let d = doctor(Recording::load("healthy"), &[]).await;
    assert_eq!(d.run.code, 0);
    d.env.config("[checks]\npool_full_percent = 1\n");
    let r = d.rerun(&["doctor", "--json"]).await;
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.finding_ids()
            .iter()
            .any(|(id, _)| id == "storage-pool-full"),
        "{}",
        r.stdout
    );
    let r = d.rerun(&["watch", "--once", "--json"]).await;
    assert!(r.stdout.contains("storage-pool-full"), "{}", r.stdout);
    d.env
        .config("[checks]\npool_full_percent = 1\nunknown = 2\n");
    let r = d.rerun(&["doctor"]).await;
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("unknown"), "{}", r.stderr);
}

#[tokio::test]
async fn a_healthy_cluster_gives_no_findings_and_only_gets() {
    let d = doctor(Recording::load("healthy"), &[]).await;
    assert_eq!(d.run.code, 0, "{}\n{}", d.run.stdout, d.run.stderr);
    let r = d.report();
    assert_eq!(r["findings"], json!([]));
    assert_eq!(r["checks"].as_array().unwrap().len(), 24);
    for id in [
        "member-offline",
        "database-quorum",
        "storage-pool-full",
        "incus-warning",
        "instance-start-failed",
    ] {
        assert!(
            r["checks"].as_array().unwrap().iter().any(|c| c == id),
            "{id}"
        );
    }
    assert!(r["requests"].as_u64().unwrap() >= 10);
    assert!(r["elapsed_ms"].is_u64());
    let sent = d.requests();
    assert!(sent.iter().all(|r| r.starts_with("GET ")), "{sent:?}");
    // The recorded cluster carries real warnings (AppArmor off for lack of kernel support, no
    // blkio.weight, VMs not operational); none matters there, so none is a finding.
    let human = d.rerun(&["doctor"]).await;
    assert_eq!(human.code, 0, "{}\n{}", human.stdout, human.stderr);
}

#[tokio::test]
async fn a_blocked_member_and_a_daemon_waiting_for_the_upgrade() {
    let mut rec = Recording::load("healthy");
    let m = rec.member("m3");
    m["status"] = json!("Blocked");
    m["message"] = json!("Needs updating to newer version");
    let d = doctor(rec, &[]).await;
    assert_eq!(d.run.code, 1);
    assert_eq!(
        d.findings(),
        vec![t("member-blocked", "high", "cluster-member/m3")]
    );
    let f = d.finding("member-blocked");
    assert!(mentions(&f, "title", "Needs updating to newer version"));
    assert!(mentions(&f, "fix", "upgrade"));

    let mut rec = Recording::load("healthy");
    rec.fail("/1.0", 503, "Daemon is starting up");
    let d = doctor(rec, &[]).await;
    assert_eq!(d.run.code, 1, "{}", d.run.stderr);
    assert_eq!(
        d.findings(),
        vec![t("daemon-starting", "high", "server/local")]
    );
}

#[tokio::test]
async fn quorum_loss_and_clusters_that_cannot_survive_a_failure() {
    let mut rec = Recording::load("healthy");
    let msg = "Failed to begin transaction: failed to create cowsql connection: no available cowsql leader server found";
    for p in [
        "/1.0/cluster/members?recursion=1",
        "/1.0/warnings?recursion=1",
        "/1.0/instances?recursion=1&all-projects=true",
    ] {
        rec.fail(p, 503, msg);
    }
    let d = doctor(rec, &[]).await;
    assert_eq!(d.run.code, 1);
    let f = d.finding("database-quorum");
    assert_eq!(f["severity"], "critical");
    assert!(mentions(
        &f["evidence"][0],
        "value",
        "no available cowsql leader"
    ));
    assert!(mentions(&f, "fix", "recover-from-quorum-loss"));

    let mut rec = Recording::load("healthy");
    rec.meta("/1.0/cluster/members?recursion=1")
        .as_array_mut()
        .unwrap()
        .truncate(2);
    let d = doctor(rec, &[]).await;
    assert_eq!(
        d.findings(),
        vec![t("database-quorum", "moderate", "cluster/local")]
    );
}

#[tokio::test]
async fn clock_skew_certificates_and_unknown_warnings() {
    let mut rec = Recording::load("healthy");
    rec.warn(
        "Time skew detected between leader and local",
        "low",
        "m2",
        "",
        "leaderTime: 2026-11-26 07:00:00, localTime: 2026-11-26 07:00:09",
    );
    rec.warn(
        "Unable to update cluster certificate",
        "low",
        "m3",
        "",
        "Member was offline during cluster certificate update",
    );
    rec.warn(
        "Some warning of a newer Incus",
        "moderate",
        "m1",
        "",
        "something new happened",
    );
    let (pem, _) = support::certificate("old-laptop", -400, -3);
    let (soon, _) = support::certificate("ci-runner", -300, 10);
    let certs = rec
        .meta("/1.0/certificates?recursion=1")
        .as_array_mut()
        .unwrap();
    certs.push(json!({"name": "old-laptop", "type": "client", "fingerprint": "aa", "certificate": pem, "restricted": false, "projects": []}));
    certs.push(json!({"name": "ci-runner", "type": "client", "fingerprint": "bb", "certificate": soon, "restricted": true, "projects": ["dev"]}));
    let d = doctor(rec, &[]).await;
    let mut got = d.findings();
    got.sort();
    assert_eq!(
        got,
        vec![
            t("certificate-expiring", "high", "certificate/old-laptop"),
            t("certificate-expiring", "moderate", "certificate/ci-runner"),
            t("certificate-update-failed", "high", "certificate/cluster"),
            t("incus-warning", "moderate", "server/m1"),
            t("time-skew", "moderate", "cluster-member/m2"),
        ]
    );
    let f = d.finding("time-skew");
    assert!(mentions(&f["evidence"][0], "value", "leaderTime"));
    assert!(mentions(&f, "fix", "chrony"));
    let soon = &d.report()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["subject"] == "certificate/ci-runner")
        .unwrap()
        .clone();
    assert!(
        soon["title"].as_str().unwrap().contains("expires in 9d")
            || soon["title"].as_str().unwrap().contains("expires in 10d"),
        "{soon}"
    );
}

#[tokio::test]
async fn storage_pools_full_unavailable_and_pending() {
    let mut rec = Recording::load("healthy");
    let usage = &mut rec.meta("/1.0/cluster/members/m1/state")["storage_pools"]["default"];
    usage["space"] = json!({"used": 96u64 << 30, "total": 100u64 << 30});
    rec.fail("/1.0/storage-pools/pool2?target=m2", 200, "");
    rec.set("/1.0/storage-pools/pool2?target=m2", json!({"name": "pool2", "driver": "dir", "status": "Unavailable", "locations": ["m1", "m2", "m3"]}));
    rec.warn(
        "Storage pool unavailable",
        "high",
        "m2",
        "/1.0/storage-pools/pool2",
        "Failed to mount: no such file or directory",
    );
    let d = doctor(rec, &[]).await;
    let mut got = d.findings();
    got.sort();
    assert_eq!(
        got,
        vec![
            t("storage-pool-full", "high", "storage-pool/default"),
            t("storage-pool-unavailable", "critical", "storage-pool/pool2"),
        ]
    );
    let f = d.finding("storage-pool-unavailable");
    let ev: Vec<String> = f["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["value"].as_str().unwrap().to_string())
        .collect();
    assert!(
        ev.iter().any(|e| e == "Unavailable") && ev.iter().any(|e| e.contains("Failed to mount")),
        "{ev:?}"
    );
    assert!(mentions(
        &d.finding("storage-pool-full"),
        "title",
        "96% full"
    ));

    let mut rec = Recording::load("healthy");
    rec.meta("/1.0/storage-pools?recursion=1")[1]["status"] = json!("Pending");
    let d = doctor(rec, &[]).await;
    assert_eq!(
        d.findings(),
        vec![t(
            "resource-pending-or-errored",
            "moderate",
            "storage-pool/pool2"
        )]
    );
    assert!(
        d.finding("resource-pending-or-errored")["fix"][0]
            .as_str()
            .unwrap()
            .contains("--target")
    );
}

#[tokio::test]
async fn ovn_and_bridge_networks() {
    let mut rec = Recording::load("healthy");
    let nets = rec
        .meta("/1.0/networks?recursion=1&all-projects=true")
        .as_array_mut()
        .unwrap();
    nets.push(json!({"name": "ovn-prod", "type": "ovn", "managed": true, "status": "Errored", "project": "team-b", "locations": ["m1", "m2", "m3"], "config": {"network": "UPLINK"}}));
    nets.push(json!({"name": "incusbr0", "type": "bridge", "managed": true, "status": "Created", "project": "default", "locations": ["m1", "m2", "m3"], "config": {}}));
    rec.set(
        "/1.0/networks/incusbr0?project=default&target=m3",
        json!({"name": "incusbr0", "status": "Unavailable"}),
    );
    rec.set(
        "/1.0/networks/incusbr0?project=default&target=m1",
        json!({"name": "incusbr0", "status": "Created"}),
    );
    rec.set(
        "/1.0/networks/incusbr0?project=default&target=m2",
        json!({"name": "incusbr0", "status": "Created"}),
    );
    rec.warn(
        "Network unavailable",
        "high",
        "m3",
        "/1.0/networks/incusbr0?project=default",
        "Failed starting: The DNS and DHCP service exited prematurely",
    );
    rec.warn("Proxy bridge netfilter not enabled", "low", "m1", "/1.0/networks/incusbr0?project=default", "IPv4 bridge netfilter not enabled. Instances using the bridge will not be able to connect to the forward listen IPs");
    let d = doctor(rec, &[]).await;
    let mut got = d.findings();
    got.sort();
    assert_eq!(
        got,
        vec![
            t("bridge-config", "low", "network/incusbr0"),
            t("network-unavailable", "critical", "network/incusbr0"),
            t("resource-pending-or-errored", "high", "network/ovn-prod"),
        ]
    );
    assert_eq!(
        d.finding("resource-pending-or-errored")["project"],
        "team-b"
    );
    assert!(mentions(
        &d.finding("network-unavailable"),
        "title",
        "on m3"
    ));
}

#[tokio::test]
async fn instances_that_cannot_start_autostart_or_run_here() {
    let mut rec = Recording::load("healthy");
    rec.warn(
        "Failed to autostart instance",
        "low",
        "m3",
        "/1.0/instances/c3?project=default",
        "Failed to start device \"root\": Storage pool \"pool2\" unavailable on this server",
    );
    // A VM on m1, where QEMU is not operational (the recorded warning is real).
    let mut vm = rec.instance("c1").clone();
    vm["name"] = json!("vm1");
    vm["type"] = json!("virtual-machine");
    vm["status"] = json!("Stopped");
    rec.meta("/1.0/instances?recursion=1&all-projects=true")
        .as_array_mut()
        .unwrap()
        .push(vm);
    // c1 sets a limit that needs blkio.weight, which m1 lacks (also a real warning).
    rec.instance("c1")["expanded_config"]["limits.disk.priority"] = json!("5");
    // A privileged container without AppArmor.
    rec.instance("c3")["expanded_config"]["security.privileged"] = json!("true");
    rec.warn(
        "Missing virtiofsd",
        "low",
        "m1",
        "/1.0/instances/vm1?project=default",
        "Using 9p as a fallback",
    );
    let ops = json!({"failure": [
        {"id": "op-start", "class": "task", "description": "Starting instance", "status": "Failure", "status_code": 400, "location": "m2",
         "resources": {"instances": ["/1.0/instances/c2"]}, "created_at": "2026-11-26T07:05:33Z", "updated_at": "2026-11-26T07:05:33Z",
         "err": "Failed to run: /usr/libexec/incus/incusd forkstart c2 /var/lib/incus/containers /var/lib/incus/run/c2/lxc.conf: exit status 1"},
        {"id": "op-image", "class": "task", "description": "Downloading image", "status": "Failure", "status_code": 400, "location": "m1",
         "resources": {"images": ["/1.0/images/abc"]}, "created_at": "2026-11-26T07:05:33Z", "updated_at": "2026-11-26T07:05:33Z",
         "err": "Failed getting remote image info: Failed getting image: The requested image couldn't be found"}],
      "running": [
        {"id": "op-migrate", "class": "task", "description": "Migrating instance", "status": "Running", "status_code": 103, "location": "m3",
         "resources": {"instances": ["/1.0/instances/b1?project=team-b"]}, "created_at": "2026-11-26T01:00:00Z", "updated_at": "2026-11-26T01:00:00Z", "err": "", "may_cancel": true},
        {"id": "op-console", "class": "websocket", "description": "Showing console", "status": "Running", "status_code": 103, "location": "m1",
         "resources": {}, "created_at": "2026-11-26T01:00:00Z", "updated_at": "2026-11-26T01:00:00Z", "err": ""}]});
    rec.set("/1.0/operations?recursion=1&all-projects=true", ops);
    rec.answers.insert(
        "/1.0/instances/c2/logs/lxc.log?project=default".into(),
        (200, Value::String("lxc c2 20261126070533.892 WARN cgfsng - x\nlxc c2 20261126070533.902 ERROR start - ../src/lxc/start.c:start:2197 - No such file or directory - Failed to exec \"/sbin/init\"\nlxc c2 20261126070533.903 ERROR start - ../src/lxc/start.c:__lxc_start:2107 - Failed to spawn container \"c2\"\n".into())),
    );
    let d = doctor(rec, &[]).await;
    let mut got = d.findings();
    got.sort();
    assert_eq!(
        got,
        vec![
            t("cgroup-controller-missing", "moderate", "server/m1"),
            t("instance-autostart-failed", "high", "instance/c3"),
            t("instance-start-failed", "high", "instance/c2"),
            t("instance-type-unsupported", "high", "cluster-member/m1"),
            t("instance-type-unsupported", "moderate", "cluster-member/m2"),
            t("operation-failed", "moderate", "operation/op-image"),
            t("operation-stuck", "moderate", "operation/op-migrate"),
            t("security-module-disabled", "moderate", "server/m1"),
            t("security-module-disabled", "moderate", "server/m2"),
            t("virtiofsd-missing", "moderate", "instance/vm1"),
        ]
    );
    let f = d.finding("instance-start-failed");
    let ev = f["evidence"].to_string();
    assert!(
        ev.contains("Failed to exec") && ev.contains("forkstart"),
        "{ev}"
    );
    assert!(mentions(&f, "explanation", "Failed to exec"));
    assert!(mentions(
        &d.finding("cgroup-controller-missing"),
        "explanation",
        "c1 (limits.disk.priority)"
    ));
    assert!(
        d.finding("operation-stuck")["fix"]
            .to_string()
            .contains("incus operation delete op-migrate")
    );
}

#[tokio::test]
async fn a_dead_evacuated_member_is_offline_and_member_filters_apply() {
    let mut rec = Recording::load("healthy");
    let m = rec.member("m3");
    m["status"] = json!("Evacuated");
    m["message"] = json!("Unavailable due to maintenance");
    rec.warn("Offline cluster member", "low", "m1", "", "Failed to send heartbeat request: Put \"https://127.0.0.13:8443/internal/database\": dial tcp 127.0.0.13:8443: connect: connection refused");
    let m = rec.member("m2");
    m["status"] = json!("Evacuated");
    m["message"] = json!("Unavailable due to maintenance");
    let d = doctor(rec.clone(), &[]).await;
    let mut got = d.findings();
    got.sort();
    assert_eq!(
        got,
        vec![
            t("database-quorum", "high", "cluster/local"),
            t("member-evacuated", "low", "cluster-member/m2"),
            t("member-offline", "high", "cluster-member/m3")
        ]
    );
    assert!(
        d.finding("member-evacuated")["fix"][0]
            .as_str()
            .unwrap()
            .contains("incus cluster restore m2")
    );
    let d = doctor(rec, &["--member", "m3"]).await;
    assert_eq!(
        d.findings(),
        vec![
            t("member-offline", "high", "cluster-member/m3"),
            t("database-quorum", "high", "cluster/local")
        ]
    );
}

#[tokio::test]
async fn project_limits_near_and_at_the_limit() {
    let mut rec = Recording::load("healthy");
    rec.meta("/1.0/projects?recursion=1")[1]["config"]["limits.instances"] = json!("1");
    rec.meta("/1.0/projects?recursion=1")[2]["config"]["limits.memory"] = json!("1GiB");
    rec.set("/1.0/projects/dev/state", json!({"resources": {"instances": {"Limit": 1, "Usage": 1}, "memory": {"Limit": -1, "Usage": 0}}}));
    rec.set("/1.0/projects/team-b/state", json!({"resources": {"memory": {"Limit": 1073741824, "Usage": 1000000000}, "instances": {"Limit": -1, "Usage": 1}}}));
    let d = doctor(rec, &[]).await;
    let mut got = d.findings();
    got.sort();
    assert_eq!(
        got,
        vec![
            t("project-limit", "high", "project/dev"),
            t("project-limit", "moderate", "project/team-b")
        ]
    );
}

/// A remote whose listener never accepts (its queue full): each connection attempt waits out
/// the connect timeout, and the one line says the server was not reached, not that a request
/// was slow.
#[tokio::test]
async fn a_remote_that_never_accepts_is_unreachable_not_slow() {
    let listener = tokio::net::TcpSocket::new_v4().unwrap();
    listener.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    // The one connection a backlog of 0 queues; later SYNs are dropped.
    let _queued = tokio::net::TcpStream::connect(addr).await.unwrap();
    let env = Env::new();
    let conf = env.dir.path().join("incus-conf");
    let (cert, key) = support::certificate("incus-ai", -1, 30);
    let (server, _) = support::certificate("server", -1, 30);
    support::write_remote(
        &conf,
        "stalled",
        &format!("https://{addr}"),
        &cert,
        &key,
        &server,
    );
    let mut c = tokio::process::Command::from(env.cmd(&[
        "doctor",
        "--remote",
        "stalled",
        "--timeout",
        "1",
    ]));
    c.env("INCUS_CONF", &conf);
    let started = std::time::Instant::now();
    let r: support::Run = c.output().await.unwrap().into();
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("cannot reach Incus remote stalled")
            && !r.stderr.contains("timed out after"),
        "{}",
        r.stderr
    );
    // Three attempts of a third of the timeout each, then no more.
    let took = started.elapsed();
    assert!(
        took > std::time::Duration::from_millis(900) && took < std::time::Duration::from_secs(5),
        "{took:?}"
    );
    drop(listener);
}

#[tokio::test]
async fn a_server_that_cannot_be_read_exits_2_with_one_line() {
    let env = Env::new();
    let r = run_with_socket(&env, &env.dir.path().join("nothing.socket"), &["doctor"]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("cannot reach Incus remote local"),
        "{}",
        r.stderr
    );

    let mut rec = Recording::load("healthy");
    rec.meta("/1.0")["auth"] = json!("untrusted");
    let d = doctor(rec, &[]).await;
    assert_eq!(d.run.code, 2);
    assert!(
        d.run.stderr.contains("does not trust this client"),
        "{}",
        d.run.stderr
    );
    let r = run_with_socket(
        &env,
        &env.dir.path().join("nothing.socket"),
        &["status", "--json"],
    )
    .await;
    assert_eq!(r.code, 2);
}

#[tokio::test]
async fn status_and_snapshot_read_the_same_state() {
    let mut rec = Recording::load("healthy");
    rec.instance("c1")["config"]["environment.DB_PASSWORD"] = json!("hunter2");
    rec.meta("/1.0/profiles?recursion=1&all-projects=true")[0]["config"]["cloud-init.user-data"] =
        json!("#cloud-config\npassword: hunter3");
    rec.meta("/1.0/projects?recursion=1")[1]["config"]["user.secret_token"] = json!("hunter4");
    let env = Env::new();
    let socket = env.dir.path().join("incus.socket");
    let _server = rec.with_review_answers().serve(&socket).await;
    let r = run_with_socket(&env, &socket, &["status", "--json"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = r.json();
    assert_eq!(s["members"].as_array().unwrap().len(), 3);
    assert_eq!(s["members"][0]["status"], "Online");
    assert_eq!(s["instances"]["Running"], 6);
    assert_eq!(s["instances_by_member"]["m3"]["Running"], 3);
    assert_eq!(s["warnings"]["low"], 6);
    assert_eq!(s["storage_pools"].as_array().unwrap().len(), 2);
    let r = run_with_socket(&env, &socket, &["status"]).await;
    assert!(
        r.stdout.contains("MEMBERS") && r.stdout.contains("database-leader"),
        "{}",
        r.stdout
    );

    let r = run_with_socket(&env, &socket, &["snapshot"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let path = env.data().join("notes/installation-local.md");
    let md = std::fs::read_to_string(&path).unwrap();
    for secret in ["hunter2", "hunter3", "hunter4"] {
        assert!(!md.contains(secret), "{secret} leaked into the snapshot");
    }
    assert!(md.contains("[redacted]"));
    for part in [
        "## Cluster members and roles",
        "| m2 |",
        "## Storage pools",
        "### Profile small",
        "limits.memory",
        "### Project dev",
        "### Instances on m3",
        "| b1 | team-b |",
        "### Instance c1 (project default) configuration",
        "`environment.DB_PASSWORD` | `[redacted]`",
        "## Review: what to improve",
        "`dir-storage-pool` (storage-pool/default)",
    ] {
        assert!(md.contains(part), "{part} missing from\n{md}");
    }
    // The next refresh indexes it as a local note.
    let r = env
        .run_async(&[
            "mirror",
            "--json",
            "--source",
            support::fixtures().join("incus-src").to_str().unwrap(),
        ])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(env.run_async(&["index", "-q"]).await.code, 0);
    let r = env
        .run_async(&[
            "search",
            "--json",
            "--collection",
            "local",
            "which instances run on m3",
        ])
        .await;
    assert!(
        r.json()[0]["url"]
            .as_str()
            .unwrap()
            .contains("installation-local.md"),
        "{}",
        r.stdout
    );
}

#[tokio::test]
async fn review_suggests_improvements_exits_0_and_2_when_it_cannot_read() {
    let env = Env::new();
    let socket = env.dir.path().join("incus.socket");
    let mut rec = Recording::load("healthy");
    let c1 = rec.instance("c1");
    c1["expanded_config"]["security.privileged"] = json!("true");
    c1["expanded_config"]["limits.memory"] = json!("6GiB");
    let c2 = rec.instance("c2");
    c2["expanded_config"]["limits.memory"] = json!("6GiB");
    let c3 = rec.instance("c3");
    c3["expanded_config"]["limits.memory"] = json!("6GiB");
    let mut rec = rec.with_review_answers();
    // m3 was not upgraded with the others.
    rec.meta("/1.0?target=m3")["environment"]["server_version"] = json!("6.0.3");
    let server = rec.serve(&socket).await;
    let r = run_with_socket(&env, &socket, &["review", "--json"]).await;
    assert_eq!(r.code, 0, "advice exits 0: {}\n{}", r.stdout, r.stderr);
    let j = r.json();
    assert_eq!(j["complete"], true, "{}", r.stdout);
    assert!(j["rules"].as_array().unwrap().len() >= 15);
    let got = r.finding_ids();
    for want in [
        ("container-privileged", "instance/c1"),
        ("failover-capacity", "cluster-member/m1"),
        ("failover-capacity", "cluster-member/m2"),
        ("failover-capacity", "cluster-member/m3"),
        ("mixed-versions", "cluster/local"),
    ] {
        assert!(
            got.contains(&(want.0.into(), want.1.into())),
            "{want:?} in {got:?}"
        );
    }
    // Most important first.
    assert_eq!(j["findings"][0]["severity"], "high", "{}", r.stdout);
    let sent: Vec<String> = server
        .log
        .lock()
        .unwrap()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(sent.iter().all(|r| r.starts_with("GET ")), "{sent:?}");
    assert!(
        sent.iter().any(|r| r == "GET /1.0/resources?target=m2"),
        "{sent:?}"
    );
    assert!(sent.iter().any(|r| r == "GET /1.0?target=m3"), "{sent:?}");
    // Human output: the findings, then one summary line.
    let r = run_with_socket(&env, &socket, &["review"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("If m1 fails"), "{}", r.stdout);
    assert!(r.stdout.contains("suggestion(s) from"), "{}", r.stdout);
    drop(server);

    // What could not be read is not advice: exit 2, one line naming it.
    let mut rec = Recording::load("healthy").with_review_answers();
    rec.fail("/1.0/resources?target=m2", 500, "boom");
    let socket = env.dir.path().join("incus2.socket");
    let _server = rec.serve(&socket).await;
    let r = run_with_socket(&env, &socket, &["review", "--json"]).await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["complete"], false);
    assert!(
        r.stderr.contains("review could not read all of local"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
}
