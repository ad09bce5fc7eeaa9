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

/// The scripted Incus on a unix socket at `socket`, c1 holding `config`.
async fn scripted(socket: &std::path::Path, mode: Mode, config: Value) -> Server {
    let incus = Arc::new(Mutex::new(Incus {
        mode,
        config,
        etag: 1,
    }));
    Server::start_unix(socket, Arc::new(move |r: &Request| answer(&incus, r))).await
}

async fn world(mode: Mode, decision: Decision) -> World {
    world_with(
        mode,
        decision,
        json!({"image.os": "BusyBox", "volatile.uuid": "u"}),
    )
    .await
}

async fn world_with(mode: Mode, decision: Decision, config: Value) -> World {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("incus.socket");
    let server = scripted(&socket, mode, config).await;
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

fn sent(server: &Server) -> Vec<(String, String)> {
    server
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
    assert!(
        sent(&w.server).iter().all(|(m, _)| m == "GET"),
        "{:?}",
        sent(&w.server)
    );
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
    assert!(sent(&w.server).iter().all(|(m, _)| m == "GET"));
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
    assert!(sent(&w.server).is_empty(), "{:?}", sent(&w.server));
}

/// A person who reads the preview and says no.
struct Reader(Arc<Mutex<String>>);

impl Confirm for Reader {
    fn confirm<'a>(
        &'a self,
        preview: &'a str,
    ) -> Pin<Box<dyn Future<Output = Decision> + Send + 'a>> {
        *self.0.lock().unwrap() = preview.to_string();
        Box::pin(async move { Decision::Declined("no".into()) })
    }
}

#[tokio::test]
async fn a_preview_shows_exactly_what_runs_whatever_the_cluster_holds() {
    // A note crafted to move the cursor up, erase the real command and show another.
    let crafted = "x\u{1b}[1A\u{1b}[2K\r  incus config set c1 limits.cpu=1\n    - harmless\u{9b}2K";
    let mut w = world_with(
        Mode::Honest,
        Decision::Declined("no".into()),
        json!({"user.note": crafted, "volatile.uuid": "u"}),
    )
    .await;
    let seen = Arc::new(Mutex::new(String::new()));
    w.changes.set_confirm(Box::new(Reader(seen.clone())));
    let unset = Change::SetConfig {
        target: ConfigTarget::Instance,
        name: "c1".into(),
        key: "user.note".into(),
        value: String::new(),
        member: None,
        project: "default".into(),
    };
    let args = json!({"target": "instance", "name": "c1", "key": "user.note", "value": ""});
    let v = w
        .changes
        .propose("clear the note", "set_config", &args, unset)
        .await
        .unwrap();
    assert_eq!(v["status"], "declined");
    let preview = seen.lock().unwrap().clone();
    assert!(
        !preview.chars().any(|c| c.is_control() && c != '\n'),
        "{preview:?}"
    );
    let lines: Vec<&str> = preview.lines().collect();
    assert_eq!(lines[0], "  incus config unset c1 user.note", "{preview}");
    assert_eq!(
        lines.len(),
        3,
        "one command, one effect, one request: {preview}"
    );
    assert!(
        lines[1].starts_with("    - ") && lines[1].contains("\\u{1b}[1A"),
        "{preview}"
    );
    assert_eq!(
        lines[2],
        "  runs: PUT /1.0/instances/c1 (If-Match: the ETag read now)"
    );
    assert!(sent(&w.server).iter().all(|(m, _)| m == "GET"));
}

/// An MCP client whose user says yes to every change.
struct Yes;

impl rmcp::ClientHandler for Yes {
    fn get_info(&self) -> rmcp::model::ClientConfig {
        use rmcp::model::{ClientCapabilities, ClientConfig, Implementation};
        ClientConfig::new(
            ClientCapabilities::builder().enable_elicitation().build(),
            Implementation::new("token-test", "0"),
        )
    }

    async fn create_elicitation(
        &self,
        _: rmcp::model::ElicitRequestParams,
        _: rmcp::service::RequestContext<rmcp::RoleClient>,
    ) -> Result<rmcp::model::ElicitResult, rmcp::ErrorData> {
        use rmcp::model::{ElicitResult, ElicitationAction};
        Ok(ElicitResult::new(ElicitationAction::Accept).with_content(json!({"approve": true})))
    }
}

/// Tools offered to an MCP client at `url` (with `token`), and what `set_config` answered.
async fn mcp_over_http<H: rmcp::ClientHandler>(
    url: &str,
    token: Option<&str>,
    user: H,
) -> (Vec<String>, String) {
    use rmcp::ServiceExt;
    use rmcp::model::CallToolRequestParams;
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    // rmcp builds its reqwest client itself: the TLS provider incus-ai installs comes first.
    incus_ai::util::http::install_tls_provider();
    let mut config = StreamableHttpClientTransportConfig::with_uri(url.to_string());
    if let Some(t) = token {
        config = config.auth_header(t.to_string());
    }
    let client = user
        .serve(StreamableHttpClientTransport::from_config(config))
        .await
        .unwrap();
    let tools: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    let args =
        json!({"target": "instance", "name": "c1", "key": "limits.memory", "value": "300MiB"});
    let r = client
        .call_tool(
            CallToolRequestParams::new("set_config")
                .with_arguments(args.as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    let text = r
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n");
    let _ = client.cancel().await;
    (tools, text)
}

/// The status line a raw HTTP request gets.
async fn status_of(addr: &str, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 512];
    let n = s.read(&mut buf).await.unwrap();
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

#[tokio::test]
async fn over_http_only_the_admins_token_is_offered_changes() {
    use tokio::io::AsyncBufReadExt;
    let env = support::Env::new();
    let socket = env.dir.path().join("incus.socket");
    let incus = scripted(&socket, Mode::Honest, json!({"volatile.uuid": "u"})).await;
    let mut cmd = tokio::process::Command::from(env.cmd(&[
        "mcp",
        "--listen",
        "127.0.0.1:0",
        "--allow-changes",
    ]));
    cmd.env("INCUS_SOCKET", &socket)
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut server = cmd.spawn().unwrap();
    let mut lines = tokio::io::BufReader::new(server.stderr.take().unwrap()).lines();
    let mut said = String::new();
    let url = loop {
        let line = lines
            .next_line()
            .await
            .unwrap()
            .expect("the address it serves on");
        said.push_str(&line);
        if let Some(u) = line.split("serving MCP on ").nth(1) {
            break u.trim().to_string();
        }
    };
    // The token: made now, only its owner can read it, never printed.
    let path = env.data().join("mcp-token");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let token = std::fs::read_to_string(&path).unwrap();
    assert_eq!(token.len(), 64);
    assert!(
        said.contains(path.to_str().unwrap()) && !said.contains(&token),
        "{said}"
    );

    // Any other local program: the read tools only; a change is refused and nothing is sent.
    let (tools, text) = mcp_over_http(&url, None, Yes).await;
    assert!(tools.contains(&"get_instance".to_string()));
    assert!(!tools.contains(&"set_config".to_string()), "{tools:?}");
    assert!(text.contains("not allowed"), "{text}");
    assert!(sent(&incus).iter().all(|(m, _)| m == "GET"));

    // A wrong token, a web page, a foreign Host: refused before MCP.
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches("/mcp")
        .to_string();
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"0"}}}"#;
    let post = |headers: &str| {
        format!(
            "POST /mcp HTTP/1.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\n{headers}\r\n{init}",
            init.len()
        )
    };
    let host = format!("Host: {addr}\r\n");
    let wrong = status_of(
        &addr,
        &post(&format!(
            "{host}Authorization: Bearer {}\r\n",
            "0".repeat(64)
        )),
    )
    .await;
    assert!(wrong.contains(" 401 "), "{wrong}");
    let page = status_of(
        &addr,
        &post(&format!("{host}Origin: https://evil.example\r\n")),
    )
    .await;
    assert!(page.contains(" 403 "), "{page}");
    let rebound = status_of(&addr, &post("Host: evil.example\r\n")).await;
    assert!(rebound.contains(" 403 "), "{rebound}");
    assert!(sent(&incus).iter().all(|(m, _)| m == "GET"));

    // The admin's client, with the token: offered the change, asked, and it runs.
    let (tools, text) = mcp_over_http(&url, Some(token.trim()), Yes).await;
    assert!(tools.contains(&"set_config".to_string()), "{tools:?}");
    assert!(text.contains("\"status\": \"done\""), "{text}");
    assert!(sent(&incus).iter().any(|(m, _)| m == "PUT"));
}
