//! Administration on the real three-member cluster (tests/cluster/incus-cluster.sh): a
//! scripted model calls change tools; a pseudo-terminal answers the questions as a person
//! would. A no changes nothing, a yes changes exactly what was shown (the cluster's own
//! lifecycle events say so), no terminal or no `--allow-changes` changes nothing and the
//! model is told, a stale ETag fails cleanly, hostile calls change nothing, and the audit log
//! has every case. Needs root (incusd runs as root).

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use support::cluster::Cluster;
use support::http::Server;
use support::openai::{self, State, Turn};
use support::pty::{run_on_pty, run_on_pty_at, run_without_terminal, run_without_terminal_fed};
use support::{Env, Run};

struct World {
    cluster: support::cluster::Live,
    env: Env,
    state: Arc<State>,
    _llm: Server,
}

/// A change tool, its arguments, what the screen shows after the yes, and (path, field,
/// value) the cluster shows then.
type Step<'a> = (&'a str, Value, &'a [&'a str], (&'a str, &'a str, &'a str));

fn call(name: &str, args: Value) -> (String, String) {
    (name.to_string(), args.to_string())
}

/// The tool results the model was sent, as its answer (so the test reads what it was told).
fn echo_tools() -> Turn {
    Turn::FromTools(Arc::new(|tools: &str| format!("TOOLS SAID: {tools}")))
}

impl World {
    async fn new() -> World {
        let cluster = Cluster::up();
        let (llm, state) = openai::start().await;
        let w = World {
            cluster,
            env: Env::new(),
            state,
            _llm: llm,
        };
        w.config("");
        w
    }

    /// The config file: the scripted model, and `extra`.
    fn config(&self, extra: &str) {
        self.env.config(&format!(
            "[llm]\napi_base = \"{}\"\nmodel = \"stub-chat\"\nmax_steps = 10\ntoken_budget = 200000\n{extra}",
            self._llm.url("/v1")
        ));
    }

    /// The model's next turns: these calls, then an answer echoing what the tools said.
    fn script(&self, calls: Vec<(String, String)>) {
        self.state.clear();
        self.state.script(vec![Turn::Tools(calls), echo_tools()]);
    }

    /// One change tool run as the AIChat agent runs it, on the terminal, answered `typed`.
    async fn tool_on_pty(&self, name: &str, args: Value, typed: &str) -> String {
        let pty = run_on_pty(
            &self.cmd(&["tool", "--allow-changes", name, &args.to_string()]),
            |_| typed.into(),
        )
        .await;
        assert_eq!(pty.code, 0, "{}", pty.screen);
        assert_eq!(pty.questions, 1, "{}", pty.screen);
        pty.screen
    }

    fn cmd(&self, args: &[&str]) -> std::process::Command {
        let mut c = self.env.cmd(args);
        c.env("INCUS_SOCKET", self.cluster.var("ICL_M1_SOCKET"));
        c
    }

    /// `incus query` of one object's metadata.
    fn query(&self, path: &str) -> Value {
        let o = self.cluster.incus(&["query", path]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    }

    fn c1_config(&self) -> Value {
        self.query("/1.0/instances/c1")["config"].clone()
    }

    /// The tool messages of the last chat request.
    fn told(&self) -> String {
        let chats = self.state.requests("/chat/completions");
        chats
            .last()
            .map(|r| {
                r["messages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|m| m["role"] == "tool")
                    .map(|m| m["content"].as_str().unwrap_or("").to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    }

    fn offered(&self) -> Vec<String> {
        self.state.requests("/chat/completions")[0]["tools"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| t["function"]["name"].as_str().unwrap().to_string())
            .collect()
    }
}

/// Lifecycle events while `f` runs, from `incus monitor` on member 1.
async fn lifecycle<T>(w: &World, f: impl std::future::Future<Output = T>) -> (T, Vec<Value>) {
    let mut monitor = tokio::process::Command::new("incus")
        .args([
            "--force-local",
            "monitor",
            "--type=lifecycle",
            "--format=json",
        ])
        .env("INCUS_DIR", w.cluster.var("ICL_M1_DIR"))
        .env("INCUS_CONF", w.cluster.root.join("client-conf"))
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let out = f.await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    monitor.start_kill().unwrap();
    let text = monitor.wait_with_output().await.unwrap().stdout;
    let events = serde_json::Deserializer::from_slice(&text)
        .into_iter::<Value>()
        .filter_map(Result::ok)
        .collect();
    (out, events)
}

/// An MCP client whose user answers every change with `approve` (through elicitation),
/// speaking protocol `version`.
struct McpUser {
    approve: bool,
    version: rmcp::model::ProtocolVersion,
}

impl rmcp::ClientHandler for McpUser {
    fn get_info(&self) -> rmcp::model::ClientConfig {
        use rmcp::model::{ClientCapabilities, ClientConfig, Implementation};
        ClientConfig::new(
            ClientCapabilities::builder().enable_elicitation().build(),
            Implementation::new("admin-test", "0"),
        )
        .with_protocol_version(self.version.clone())
    }

    async fn create_elicitation(
        &self,
        request: rmcp::model::ElicitRequestParams,
        _: rmcp::service::RequestContext<rmcp::RoleClient>,
    ) -> Result<rmcp::model::ElicitResult, rmcp::ErrorData> {
        use rmcp::model::{ElicitRequestParams, ElicitResult, ElicitationAction};
        let ElicitRequestParams::FormElicitationParams { message, .. } = request else {
            return Ok(ElicitResult::new(ElicitationAction::Decline));
        };
        assert!(message.contains("incus config set c1"), "{message}");
        Ok(ElicitResult::new(ElicitationAction::Accept)
            .with_content(json!({"approve": self.approve})))
    }
}

/// One `set_config` on c1 through `incus-ai mcp`, its text and whether it failed.
async fn mcp_set<H: rmcp::ClientHandler>(
    w: &World,
    flags: &[&str],
    user: H,
    key: &str,
) -> (String, bool, Vec<rmcp::model::Tool>) {
    use rmcp::ServiceExt;
    use rmcp::model::CallToolRequestParams;
    use rmcp::transport::TokioChildProcess;
    let mut args = vec!["mcp"];
    args.extend_from_slice(flags);
    let client = user
        .serve(TokioChildProcess::new(tokio::process::Command::from(w.cmd(&args))).unwrap())
        .await
        .unwrap();
    let tools = client.list_all_tools().await.unwrap();
    let arguments = json!({"target": "instance", "name": "c1", "key": key, "value": "yes"});
    let r = client
        .call_tool(
            CallToolRequestParams::new("set_config")
                .with_arguments(arguments.as_object().unwrap().clone()),
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
    (text, r.is_error == Some(true), tools)
}

fn unplant(w: &World) {
    for args in [
        &["config", "unset", "c1", "limits.memory"][..],
        &["config", "unset", "c1", "user.touched"],
        &["config", "unset", "c1", "user.mcp-new"],
        &["config", "unset", "c1", "user.mcp-old"],
        &["snapshot", "delete", "c1", "before-upgrade"],
    ] {
        let _ = w.cluster.incus(args);
    }
    // Restored only when evacuated: a restore of a member that is not leaves a failed
    // operation behind, which the next live test's doctor would report.
    if w.query("/1.0/cluster/members/m3")["status"] == "Evacuated" {
        let _ = w.cluster.incus(&["cluster", "restore", "m3", "--force"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root and starts a real 3-member Incus cluster; `make test` runs it (cargo test -- --include-ignored)"]
async fn changes_run_only_on_a_persons_yes() {
    let w = World::new().await;
    unplant(&w);
    let set_300 = call(
        "set_config",
        json!({"target": "instance", "name": "c1", "key": "limits.memory", "value": "300MiB"}),
    );

    // 1. Without --allow-changes: not offered, and a call is refused and written down.
    w.script(vec![set_300.clone()]);
    let r = run_without_terminal(&w.cmd(&["ask", "give c1 300MiB"])).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let offered = w.offered();
    assert!(offered.contains(&"get_member".to_string()));
    assert!(
        !offered
            .iter()
            .any(|t| t == "set_config" || t == "evacuate_member"),
        "{offered:?}"
    );
    assert!(
        w.told().contains("changes are not allowed in this session"),
        "{}",
        w.told()
    );
    assert!(w.c1_config().get("limits.memory").is_none());

    // 2. --allow-changes without a terminal: offered, refused, the model is told.
    w.script(vec![set_300.clone()]);
    let r = run_without_terminal(&w.cmd(&["ask", "--allow-changes", "give c1 300MiB"])).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(w.offered().contains(&"set_config".to_string()));
    let told = w.told();
    assert!(
        told.contains("\"status\": \"refused\"") && told.contains("no terminal"),
        "{told}"
    );
    assert!(w.c1_config().get("limits.memory").is_none());

    // 3. On a terminal, a no: the member stays Online; the preview named what would move.
    w.script(vec![call("evacuate_member", json!({"member": "m3"}))]);
    let pty = run_on_pty(&w.cmd(&["ask", "--allow-changes", "evacuate m3"]), |_| {
        "n\n".into()
    })
    .await;
    assert_eq!(pty.code, 0, "{}", pty.screen);
    assert_eq!(pty.questions, 1, "{}", pty.screen);
    assert!(
        pty.screen.contains("incus cluster evacuate m3"),
        "{}",
        pty.screen
    );
    assert!(
        pty.screen.contains("c3 (default, Running)"),
        "{}",
        pty.screen
    );
    assert!(
        pty.screen.contains("POST /1.0/cluster/members/m3/state"),
        "{}",
        pty.screen
    );
    assert!(
        w.told().contains("\"status\": \"declined\""),
        "{}",
        w.told()
    );
    assert_eq!(w.query("/1.0/cluster/members/m3")["status"], "Online");

    // 4. Ctrl-C at the question: not run.
    w.script(vec![set_300.clone()]);
    let pty = run_on_pty(
        &w.cmd(&["ask", "--allow-changes", "give c1 300MiB"]),
        |_| "\u{3}".into(),
    )
    .await;
    assert_eq!(pty.code, 0, "{}", pty.screen);
    assert!(w.told().contains("interrupted"), "{}", w.told());
    assert!(w.c1_config().get("limits.memory").is_none());

    // 4b. Ctrl-C outside a question still ends `ask` (here: waiting for the next question).
    let pty = run_on_pty_at(
        &w.cmd(&["ask", "--allow-changes"]),
        "one question per line",
        |_| "\u{3}".into(),
    )
    .await;
    assert_eq!(pty.code, 130, "{}", pty.screen);

    // 5. A yes: exactly that one change, verified, and the cluster's events show only it.
    w.script(vec![set_300.clone()]);
    let (pty, events) = lifecycle(
        &w,
        run_on_pty(
            &w.cmd(&["ask", "--allow-changes", "give c1 300MiB"]),
            |_| "y\n".into(),
        ),
    )
    .await;
    assert_eq!(pty.code, 0, "{}", pty.screen);
    assert!(
        pty.screen
            .contains("incus config set c1 limits.memory=300MiB"),
        "{}",
        pty.screen
    );
    assert!(
        pty.screen.contains("limits.memory: (unset) → 300MiB"),
        "{}",
        pty.screen
    );
    let told = w.told();
    assert!(
        told.contains("\"status\": \"done\"") && told.contains("limits.memory is now 300MiB"),
        "{told}"
    );
    assert_eq!(w.c1_config()["limits.memory"], "300MiB");
    let actions: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e["metadata"]["action"].as_str().unwrap_or("").to_string(),
                e["metadata"]["source"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        vec![(
            "instance-updated".to_string(),
            "/1.0/instances/c1".to_string()
        )],
        "{events:?}"
    );

    // 6. A snapshot with an expiry, on a yes.
    w.script(vec![call(
        "create_snapshot",
        json!({"instance": "c1", "name": "before-upgrade", "expiry": "1d"}),
    )]);
    let pty = run_on_pty(&w.cmd(&["ask", "--allow-changes", "snapshot c1"]), |_| {
        "yes\n".into()
    })
    .await;
    assert_eq!(pty.code, 0, "{}", pty.screen);
    assert!(w.told().contains("\"status\": \"done\""), "{}", w.told());
    let snap = w.query("/1.0/instances/c1/snapshots/before-upgrade");
    assert!(
        snap["expires_at"].as_str().unwrap().starts_with("20"),
        "{snap}"
    );

    // 7. The object changes between the preview and the yes: the ETag no longer matches. The
    // change is made through another member (a second client on m1's socket while `ask` holds
    // its connections there has been seen to wait for minutes on a loaded machine), and the
    // question waits long enough for it.
    w.config("[changes]\nanswer_timeout_secs = 300\n");
    w.script(vec![call(
        "set_config",
        json!({"target": "instance", "name": "c1", "key": "limits.memory", "value": "400MiB"}),
    )]);
    let pty = run_on_pty(
        &w.cmd(&["ask", "--allow-changes", "give c1 400MiB"]),
        |_| {
            let o = w
                .cluster
                .incus_on(2, &["config", "set", "c1", "user.touched=yes"]);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            "y\n".into()
        },
    )
    .await;
    assert_eq!(pty.code, 0, "{}", pty.screen);
    assert!(
        w.told().contains("changed since it was shown"),
        "{}",
        w.told()
    );
    assert_eq!(w.c1_config()["limits.memory"], "300MiB");

    // 7b. No answer in time; a "y" piped on stdin is no answer; secrets are not shown.
    w.config("[changes]\nanswer_timeout_secs = 2\n");
    w.script(vec![set_300.clone()]);
    let pty = run_on_pty(
        &w.cmd(&["ask", "--allow-changes", "give c1 300MiB"]),
        |_| String::new(),
    )
    .await;
    assert!(pty.screen.contains("no answer in time"), "{}", pty.screen);
    assert!(w.told().contains("no answer within 2s"), "{}", w.told());
    w.config("");
    w.script(vec![set_300.clone()]);
    let r = run_without_terminal_fed(
        &w.cmd(&["ask", "--allow-changes", "give c1 300MiB"]),
        "y\nyes\n",
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(w.told().contains("no terminal"), "{}", w.told());
    w.script(vec![call(
            "set_config",
            json!({"target": "instance", "name": "c1", "key": "user.api-token", "value": "s3cr3t-4711"}),
        )]);
    let pty = run_on_pty(
        &w.cmd(&["ask", "--allow-changes", "store the token"]),
        |_| "n\n".into(),
    )
    .await;
    assert!(
        pty.screen.contains("user.api-token=[redacted]"),
        "{}",
        pty.screen
    );
    assert!(!pty.screen.contains("s3cr3t-4711"), "{}", pty.screen);
    assert!(w.c1_config().get("user.api-token").is_none());
    let audit_text = std::fs::read_to_string(w.env.data().join("audit.jsonl")).unwrap();
    assert!(!audit_text.contains("s3cr3t-4711"), "{audit_text}");

    // 7c. The other changes, each on a yes, as the AIChat agent's dispatcher runs them: what
    // the screen shows, then what the cluster says.
    let steps: [Step; 4] = [
        (
            "stop_instance",
            json!({"instance": "c2", "force": true}),
            &[
                "instance c2 on m2: Running → Stopped",
                "\"status\": \"done\"",
            ],
            ("/1.0/instances/c2", "status", "Stopped"),
        ),
        (
            "start_instance",
            json!({"instance": "c2"}),
            &["\"verified\": \"status Running\""],
            ("/1.0/instances/c2", "status", "Running"),
        ),
        (
            "evacuate_member",
            json!({"member": "m3", "mode": "stop"}),
            &[
                "incus cluster evacuate m3 --action=stop",
                "\"verified\": \"status Evacuated\"",
            ],
            ("/1.0/instances/c3", "status", "Stopped"),
        ),
        (
            "restore_member",
            json!({"member": "m3"}),
            &["\"verified\": \"status Online\""],
            ("/1.0/instances/c3", "status", "Running"),
        ),
    ];
    for (tool, args, shows, (path, field, value)) in steps {
        let screen = w.tool_on_pty(tool, args, "y\n").await;
        for s in shows {
            assert!(screen.contains(s), "{tool}: {s} in {screen}");
        }
        assert_eq!(w.query(path)[field], value, "{tool}");
    }
    // A warning (incusd's own start-up warnings on this machine) is acknowledged on a yes,
    // then put back as it was.
    let warnings = w.query("/1.0/warnings?recursion=1");
    let uuid = warnings
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["status"] == "new")
        .and_then(|x| x["uuid"].as_str())
        .expect("incusd's start-up warnings (no AppArmor, no blkio) on this machine")
        .to_string();
    let screen = w
        .tool_on_pty("acknowledge_warning", json!({"uuid": uuid}), "y\n")
        .await;
    assert!(screen.contains("→ acknowledged"), "{screen}");
    assert!(
        screen.contains("\"verified\": \"status acknowledged\""),
        "{screen}"
    );
    let path = format!("/1.0/warnings/{uuid}");
    assert_eq!(w.query(&path)["status"], "acknowledged");
    w.cluster.ok(&[
        "query",
        "-X",
        "PUT",
        &path,
        "--data",
        r#"{"status": "new"}"#,
    ]);
    // The test image has no source to refresh from: Incus says so, and so does the result.
    let fingerprint = w.query("/1.0/images?recursion=1")[0]["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    let screen = w
        .tool_on_pty("refresh_image", json!({"fingerprint": fingerprint}), "y\n")
        .await;
    assert!(
        screen.contains(&format!("incus image refresh {fingerprint}")),
        "{screen}"
    );
    assert!(
        screen.contains("approved but did not succeed") && screen.contains("source"),
        "{screen}"
    );
    // A move copies the instance between members; where the cluster cannot (this sandbox's
    // rsync between daemons fails, as `incus move` does), the failure is reported, not hidden.
    let to = |m: &str| json!({"instance": "stopped1", "member": m});
    let screen = w.tool_on_pty("move_instance", to("m2"), "y\n").await;
    if screen.contains("\"status\": \"done\"") {
        assert!(screen.contains("\"verified\": \"on m2\""), "{screen}");
        w.tool_on_pty("move_instance", to("m1"), "y\n").await;
    } else {
        assert!(screen.contains("approved but did not succeed"), "{screen}");
        assert_eq!(w.query("/1.0/instances/stopped1")["location"], "m1");
    }

    // 8. A hostile script: unknown tools, tricks in arguments, a hundred changes in a row.
    let before = (
        w.c1_config(),
        w.query("/1.0/cluster/members/m3")["status"].clone(),
    );
    let calls = vec![
        call("delete_instance", json!({"name": "c1"})),
        call("exec", json!({"command": "rm -rf /"})),
        call("get_instance", json!({"name": "../../1.0"})),
        call(
            "set_config",
            json!({"target": "instance", "name": "c1; rm -rf /", "key": "limits.memory", "value": "1GiB"}),
        ),
        call(
            "set_config",
            json!({"target": "instance", "name": "c1", "key": "../../1.0", "value": "1"}),
        ),
        call("evacuate_member", json!({"member": "../m3"})),
        call(
            "acknowledge_warning",
            json!({"uuid": "../../../etc/passwd"}),
        ),
        call("refresh_image", json!({"fingerprint": "$(reboot)"})),
    ];
    // A hundred changes in a row, in replies of 16 calls (the most one reply may hold).
    let mut turns = vec![Turn::Tools(calls)];
    for round in 0..7 {
        turns.push(Turn::Tools(
            (0..16)
                .map(|i| call("set_config", json!({"target": "instance", "name": "c1", "key": format!("user.n{round}x{i}"), "value": "x"})))
                .collect(),
        ));
    }
    turns.push(echo_tools());
    for flags in [&["ask"][..], &["ask", "--allow-changes"]] {
        w.state.clear();
        w.state.script(turns.clone());
        let mut args = flags.to_vec();
        args.push("do everything");
        let r: Run = run_without_terminal(&w.cmd(&args)).await;
        assert_eq!(r.code, 0, "{}", r.stderr);
        let told = w.told();
        assert!(told.contains("unknown tool"), "{told}");
        assert!(told.contains("not a valid Incus name"), "{told}");
        if flags.len() == 2 {
            assert!(told.contains("at most 5 changes"), "{told}");
        }
    }
    assert_eq!(
        (
            w.c1_config(),
            w.query("/1.0/cluster/members/m3")["status"].clone()
        ),
        before,
        "the hostile script changed something"
    );

    // 9. MCP: change tools only with --allow-changes, annotated destructive; the client's
    // user is asked through elicitation, in rounds (2026-07-28) or while the call waits
    // (2025-11-25); a client that cannot ask gets the change refused.
    use rmcp::model::ProtocolVersion;
    let new = || McpUser {
        approve: true,
        version: ProtocolVersion::V_2026_07_28,
    };
    let (text, failed, tools) = mcp_set(&w, &[], new(), "user.mcp-new").await;
    assert!(failed && text.contains("not allowed"), "{text}");
    assert!(!tools.iter().any(|t| t.name == "set_config"));
    let (text, failed, tools) = mcp_set(
        &w,
        &["--allow-changes"],
        McpUser {
            approve: false,
            ..new()
        },
        "user.mcp-new",
    )
    .await;
    assert!(
        !failed && text.contains("\"status\": \"declined\""),
        "{text}"
    );
    let set = tools
        .iter()
        .find(|t| t.name == "set_config")
        .expect("offered");
    let hints = set.annotations.as_ref().unwrap();
    assert_eq!(
        (hints.read_only_hint, hints.destructive_hint),
        (Some(false), Some(true))
    );
    assert!(w.c1_config().get("user.mcp-new").is_none());
    let (text, failed, _) = mcp_set(&w, &["--allow-changes"], new(), "user.mcp-new").await;
    assert!(!failed && text.contains("\"status\": \"done\""), "{text}");
    assert_eq!(w.c1_config()["user.mcp-new"], "yes");
    let old = McpUser {
        approve: true,
        version: ProtocolVersion::V_2025_11_25,
    };
    let (text, failed, _) = mcp_set(&w, &["--allow-changes"], old, "user.mcp-old").await;
    assert!(!failed && text.contains("\"status\": \"done\""), "{text}");
    assert_eq!(w.c1_config()["user.mcp-old"], "yes");
    let (text, _, _) = mcp_set(&w, &["--allow-changes"], (), "user.mcp-none").await;
    assert!(
        text.contains("\"status\": \"refused\"") && text.contains("elicitation"),
        "{text}"
    );
    assert!(w.c1_config().get("user.mcp-none").is_none());

    // 10. The AIChat agent: its change tools ask on the terminal; a no is a result the model
    // reads, and aichat exits 0.
    let aichat_dir = w.env.dir.path().join("aichat");
    std::fs::create_dir_all(&aichat_dir).unwrap();
    std::fs::write(
        aichat_dir.join("config.yaml"),
        openai::aichat_config(&w._llm.url("/v1")),
    )
    .unwrap();
    let mut export = w.cmd(&["export", "aichat-agent", "--allow-changes", "--json"]);
    export.env("AICHAT_CONFIG_DIR", &aichat_dir);
    let r: Run = export.output().unwrap().into();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.json()["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "evacuate_member")
    );
    w.script(vec![call("evacuate_member", json!({"member": "m3"}))]);
    let mut aichat = std::process::Command::new(support::aichat_bin());
    aichat
        .args(["--agent", "incus", "evacuate m3"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", w.env.dir.path().join("home"))
        .env("AICHAT_CONFIG_DIR", &aichat_dir)
        .env("INCUS_SOCKET", w.cluster.var("ICL_M1_SOCKET"))
        .env("NO_PROXY", "127.0.0.1");
    let pty = run_on_pty(&aichat, |_| "n\n".into()).await;
    assert_eq!(pty.code, 0, "{}", pty.screen);
    assert_eq!(pty.questions, 1, "{}", pty.screen);
    // AIChat hands the tool's output on as a JSON string.
    assert!(
        w.told().contains(r#"\"status\": \"declined\""#),
        "{}",
        w.told()
    );
    assert_eq!(w.query("/1.0/cluster/members/m3")["status"], "Online");

    // 11. The audit log has every case.
    let r = w.env.run(&["audit", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines = r.json();
    let count = |d: &str| {
        lines
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["decision"] == d)
            .count()
    };
    assert!(count("not-offered") >= 2, "{lines}");
    assert!(count("declined") >= 4, "{lines}");
    assert!(count("refused") >= 2, "{lines}");
    assert!(count("approved") >= 10, "{lines}");
    let stale = lines
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["decision"] == "approved" && l["error"].is_string())
        .expect("the stale change");
    assert!(stale["error"].as_str().unwrap().contains("ETag"), "{stale}");
    assert_eq!(stale["request"]["method"], "PUT");
    let done = lines
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["result"] == "limits.memory is now 300MiB")
        .expect("the change that ran");
    assert_eq!(done["command"], "incus config set c1 limits.memory=300MiB");
    assert_eq!(done["question"], "give c1 300MiB");
    let r = w.env.run(&["audit"]);
    assert!(
        r.stdout.contains("approved") && r.stdout.contains("incus cluster evacuate m3"),
        "{}",
        r.stdout
    );

    unplant(&w);
}
