//! The administration's request path against a scripted Incus on a unix socket: what is sent
//! (the writable fields, `If-Match` with the ETag read for the preview), and each way a change
//! can end: done and verified, declined (nothing sent), stale ETag, a key the server
//! silently dropped, a failed operation. Every case is in the audit log.

use crate::support;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use incus_ai::admin::Changes;
use incus_ai::admin::audit::{Audit, Verdict};
use incus_ai::admin::change::{Change, ConfigTarget};
use incus_ai::admin::confirm::{Confirm, Decision};
use incus_ai::admin::writer::Writer;
use incus_ai::diagnosis::incus::{Endpoint, Target};
use serde_json::{Value, json};
use support::http::{Request, Response, Server};

/// The test's stand-in for the person.
struct Fixed(Decision);

impl Confirm for Fixed {
    fn confirm<'a>(&'a self, _: &'a str) -> Pin<Box<dyn Future<Output = Decision> + Send + 'a>> {
        Box::pin(async move { self.0.clone() })
    }
}

/// How the scripted server misbehaves.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Honest,
    /// Someone else changes c1 right after the preview's read.
    ChangedMeanwhile,
    /// The PUT is accepted, the key is not kept.
    DropsKeys,
    /// The operation fails.
    FailingOperation,
}

struct Incus {
    mode: Mode,
    config: Value,
    etag: u32,
}

fn envelope(metadata: Value) -> String {
    json!({"type": "sync", "status": "Success", "status_code": 200, "metadata": metadata})
        .to_string()
}

fn answer(incus: &Mutex<Incus>, r: &Request) -> Response {
    let mut s = incus.lock().unwrap();
    match (r.method.as_str(), r.path.as_str()) {
        ("GET", "/1.0/instances/c1") => {
            let body = envelope(json!({"name": "c1", "status": "Running", "location": "m1",
                "architecture": "x86_64", "config": s.config, "devices": {}, "profiles": ["default"],
                "ephemeral": false, "stateful": false, "description": "",
                "expanded_config": {"limits.cpu": "2"}}));
            let tag = format!("\"e{}\"", s.etag);
            if s.mode == Mode::ChangedMeanwhile {
                s.etag += 1;
            }
            Response::new(200, body).header("ETag", &tag)
        }
        ("PUT", "/1.0/instances/c1") => {
            if r.headers.get("if-match") != Some(&format!("\"e{}\"", s.etag)) {
                return Response::new(
                    412,
                    r#"{"type":"error","error":"Precondition failed","error_code":412}"#,
                );
            }
            let sent: Value = serde_json::from_slice(&r.body).unwrap();
            if s.mode != Mode::DropsKeys {
                s.config = sent["config"].clone();
            }
            s.etag += 1;
            Response::new(
                202,
                json!({"type": "async", "status": "Operation created", "status_code": 100,
                    "operation": "/1.0/operations/op1", "metadata": {"id": "op1", "status": "Running"}})
                .to_string(),
            )
        }
        ("GET", "/1.0/operations/op1/wait?timeout=600") => {
            let (status, err) = if s.mode == Mode::FailingOperation {
                ("Failure", "boom: the disk is full")
            } else {
                ("Success", "")
            };
            Response::new(
                200,
                envelope(json!({"id": "op1", "status": status, "err": err})),
            )
        }
        _ => Response::new(
            404,
            r#"{"type":"error","error":"not found","error_code":404}"#,
        ),
    }
}

struct World {
    server: Server,
    changes: Changes,
    audit: Audit,
    _dir: tempfile::TempDir,
}

async fn world(mode: Mode, decision: Decision) -> World {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("incus.socket");
    let incus = Arc::new(Mutex::new(Incus {
        mode,
        config: json!({"image.os": "BusyBox", "volatile.uuid": "u"}),
        etag: 1,
    }));
    let server = Server::start_unix(&socket, Arc::new(move |r: &Request| answer(&incus, r))).await;
    let target = Target {
        remote: "local".into(),
        endpoint: Endpoint::Unix(socket),
        project: None,
    };
    let writer = Writer::connect(&target, Duration::from_secs(5)).unwrap();
    let audit = Audit::in_data_dir(dir.path());
    World {
        server,
        changes: Changes::new(writer, Box::new(Fixed(decision)), audit.clone()),
        audit,
        _dir: dir,
    }
}

fn set_memory() -> Change {
    Change::SetConfig {
        target: ConfigTarget::Instance,
        name: "c1".into(),
        key: "limits.memory".into(),
        value: "300MiB".into(),
        member: None,
        project: "default".into(),
    }
}

async fn propose(w: &mut World) -> Result<Value, String> {
    let args =
        json!({"target": "instance", "name": "c1", "key": "limits.memory", "value": "300MiB"});
    w.changes
        .propose("give c1 more memory", "set_config", &args, set_memory())
        .await
}

fn sent(w: &World) -> Vec<(String, String)> {
    w.server
        .log
        .lock()
        .unwrap()
        .iter()
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect()
}

#[tokio::test]
async fn an_approved_change_is_sent_with_its_etag_and_checked() {
    let mut w = world(Mode::Honest, Decision::Approved).await;
    let v = propose(&mut w).await.unwrap();
    assert_eq!(v["status"], "done", "{v}");
    assert_eq!(v["verified"], "limits.memory is now 300MiB");
    assert_eq!(v["operation"], "op1");
    let log = w.server.log.lock().unwrap();
    let put = log.iter().find(|r| r.method == "PUT").expect("a PUT");
    assert_eq!(
        put.headers.get("if-match").map(String::as_str),
        Some("\"e1\"")
    );
    let body: Value = serde_json::from_slice(&put.body).unwrap();
    assert_eq!(body["config"]["limits.memory"], "300MiB");
    assert_eq!(
        body["config"]["volatile.uuid"], "u",
        "the rest of the config is kept"
    );
    assert!(
        body.get("expanded_config").is_none() && body.get("status").is_none(),
        "{body}"
    );
    drop(log);
    let lines = w.audit.read().unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].decision, Verdict::Approved);
    assert_eq!(lines[0].operation.as_deref(), Some("op1"));
    assert_eq!(
        lines[0].result.as_deref(),
        Some("limits.memory is now 300MiB")
    );
    assert_eq!(lines[0].question, "give c1 more memory");
}

#[tokio::test]
async fn a_declined_change_sends_nothing() {
    let mut w = world(Mode::Honest, Decision::Declined("answered \"n\"".into())).await;
    let v = propose(&mut w).await.unwrap();
    assert_eq!(v["status"], "declined");
    assert_eq!(v["retryable"], false);
    assert!(sent(&w).iter().all(|(m, _)| m == "GET"), "{:?}", sent(&w));
    assert_eq!(w.audit.read().unwrap()[0].decision, Verdict::Declined);
}

#[tokio::test]
async fn changes_that_fail_say_why_and_are_written_down() {
    for (mode, says) in [
        (
            Mode::ChangedMeanwhile,
            "the object changed since it was shown",
        ),
        (
            Mode::DropsKeys,
            "does not show it: limits.memory is now (unset)",
        ),
        (
            Mode::FailingOperation,
            "operation op1 failed: boom: the disk is full",
        ),
    ] {
        let mut w = world(mode, Decision::Approved).await;
        let e = propose(&mut w).await.unwrap_err();
        assert!(
            e.contains("approved but did not succeed") && e.contains(says),
            "{e}"
        );
        let line = &w.audit.read().unwrap()[0];
        assert_eq!(line.decision, Verdict::Approved);
        assert!(line.error.as_deref().unwrap().contains(says), "{line:?}");
        assert_eq!(line.request.as_ref().unwrap().method, "PUT");
    }
}

#[tokio::test]
async fn an_object_that_cannot_be_read_is_not_proposed() {
    let mut w = world(Mode::Honest, Decision::Approved).await;
    let change = Change::InstanceState {
        instance: "nope".into(),
        project: "default".into(),
        action: incus_ai::admin::change::StateAction::Stop,
        force: false,
    };
    let e = w
        .changes
        .propose(
            "stop nope",
            "stop_instance",
            &json!({"instance": "nope"}),
            change,
        )
        .await
        .unwrap_err();
    assert!(e.contains("cannot be prepared") && e.contains("404"), "{e}");
    assert!(sent(&w).iter().all(|(m, _)| m == "GET"));
    assert_eq!(w.audit.read().unwrap()[0].decision, Verdict::Refused);
}

#[tokio::test]
async fn no_change_runs_that_cannot_be_written_down() {
    let mut w = world(Mode::Honest, Decision::Approved).await;
    let not_a_dir = w._dir.path().join("file");
    std::fs::write(&not_a_dir, "").unwrap();
    let target = Target {
        remote: "local".into(),
        endpoint: Endpoint::Unix(w._dir.path().join("incus.socket")),
        project: None,
    };
    let writer = Writer::connect(&target, Duration::from_secs(5)).unwrap();
    w.changes = Changes::new(
        writer,
        Box::new(Fixed(Decision::Approved)),
        Audit::in_data_dir(&not_a_dir),
    );
    let e = propose(&mut w).await.unwrap_err();
    assert!(
        e.contains("no change runs without being written down"),
        "{e}"
    );
    assert!(sent(&w).is_empty(), "{:?}", sent(&w));
}
