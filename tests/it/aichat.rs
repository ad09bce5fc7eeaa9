//! The AIChat export and the refresh, with the real `aichat` 0.30.0 binary (installed by
//! scripts/setup.sh) and a scripted OpenAI-compatible server on loopback.

use crate::support;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};
use support::openai::{self, State};
use support::{Env, Run, aichat_bin, fixtures};

struct World {
    env: Env,
    state: std::sync::Arc<State>,
    _server: support::http::Server,
    aichat_dir: PathBuf,
    notes: PathBuf,
}

impl World {
    async fn new() -> World {
        let (server, state) = openai::start().await;
        let env = Env::new();
        let aichat_dir = env.dir.path().join("aichat");
        std::fs::create_dir_all(&aichat_dir).unwrap();
        std::fs::write(
            aichat_dir.join("config.yaml"),
            openai::aichat_config(&server.url("/v1")),
        )
        .unwrap();
        let notes = env.dir.path().join("notes");
        std::fs::create_dir_all(&notes).unwrap();
        std::fs::write(
            notes.join("upgrades.md"),
            "# Upgrades\n\n## Maintenance window\n\nWe upgrade on the first Tuesday of the month at 19:00, one member at a time with `incus cluster evacuate`.\n",
        )
        .unwrap();
        World {
            env,
            state,
            _server: server,
            aichat_dir,
            notes,
        }
    }

    fn cmd(&self, args: &[&str]) -> tokio::process::Command {
        let mut c = tokio::process::Command::from(self.env.cmd(args));
        c.env("AICHAT_CONFIG_DIR", &self.aichat_dir);
        c
    }

    async fn incus_ai(&self, args: &[&str]) -> Run {
        self.cmd(args).output().await.unwrap().into()
    }

    /// `incus-ai refresh FLAGS` of the fixture docs and this world's notes.
    fn refresh_cmd(&self, flags: &[&str]) -> tokio::process::Command {
        let src = fixtures().join("incus-src");
        let mut args = vec!["refresh"];
        args.extend_from_slice(flags);
        args.extend([
            "--source",
            src.to_str().unwrap(),
            "--local",
            self.notes.to_str().unwrap(),
        ]);
        self.cmd(&args)
    }

    async fn refresh(&self) -> Run {
        self.refresh_cmd(&["--json"]).output().await.unwrap().into()
    }

    async fn aichat(&self, args: &[&str]) -> Run {
        tokio::process::Command::new(aichat_bin())
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.env.dir.path().join("home"))
            .env("AICHAT_CONFIG_DIR", &self.aichat_dir)
            .env("NO_PROXY", "127.0.0.1")
            .output()
            .await
            .unwrap()
            .into()
    }

    fn rag(&self, name: &str) -> PathBuf {
        self.aichat_dir.join("rags").join(format!("{name}.yaml"))
    }
}

fn sha(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

fn chat_context(state: &State) -> String {
    state
        .requests("/chat/completions")
        .iter()
        .map(|r| r["messages"].to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn aichat_answers_from_the_exported_rag_without_rebuilding_it() {
    let w = World::new().await;
    let r = w.refresh().await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = r.json();
    let export = &report["export"];
    assert!(export["embedded"].as_u64().unwrap() > 0);
    assert_eq!(export["embedding_model"], "local:stub-embed");
    assert_eq!(export["rags"].as_array().unwrap().len(), 2);
    assert!(
        w.aichat_dir.join("roles/incus.md").exists(),
        "the role is installed"
    );

    // The files are what AIChat reads: integer file keys, one vector per chunk, documents
    // that point at the mirrored markdown with its exact hash.
    let rag: serde_norway::Value =
        serde_norway::from_str(&std::fs::read_to_string(w.rag("incus")).unwrap()).unwrap();
    let files = rag["files"].as_mapping().unwrap();
    assert!(files.keys().all(|k| k.is_u64()));
    let vectors = rag["vectors"].as_mapping().unwrap();
    let mut chunks = 0;
    for (id, file) in files {
        let path = file["path"].as_str().unwrap();
        assert_eq!(
            file["hash"].as_str().unwrap(),
            sha(Path::new(path)),
            "{path}"
        );
        for (i, doc) in file["documents"].as_sequence().unwrap().iter().enumerate() {
            chunks += 1;
            assert!(vectors.contains_key(format!("{}-{i}", id.as_u64().unwrap()).as_str()));
            let text = doc["page_content"].as_str().unwrap();
            assert!(
                text.contains("\nSection: ")
                    && text.contains("\nSource: https://linuxcontainers.org/"),
                "{text}"
            );
            assert!(text.len() <= 2000, "{} bytes", text.len());
        }
    }
    assert_eq!(chunks, export["rags"][0]["chunks"].as_u64().unwrap());
    assert_eq!(
        rag["document_paths"].as_sequence().unwrap().len(),
        files.len()
    );

    // A question: one embeddings call (the question), one chat call holding the right section.
    w.state.clear();
    let before = sha(&w.rag("incus"));
    let a = w
        .aichat(&["--rag", "incus", "how do I remove a dead cluster member?"])
        .await;
    assert_eq!(a.code, 0, "{}\n{}", a.stdout, a.stderr);
    assert_eq!(
        w.state.requests("/embeddings").len(),
        1,
        "only the question is embedded"
    );
    assert_eq!(w.state.requests("/chat/completions").len(), 1);
    let context = chat_context(&w.state);
    assert!(
        context.contains("incus cluster remove --force"),
        "{context}"
    );
    assert!(context.contains("Source: https://linuxcontainers.org/incus/docs/main/howto/cluster_manage/#deal-with-offline-cluster-members"), "{context}");
    assert_eq!(
        sha(&w.rag("incus")),
        before,
        "AIChat did not rewrite the RAG"
    );

    // The local notes have their own RAG, and the role loads.
    w.state.clear();
    let a = w
        .aichat(&[
            "--rag",
            "incus-local",
            "--role",
            "incus",
            "when is our maintenance window?",
        ])
        .await;
    assert_eq!(a.code, 0, "{}", a.stderr);
    let context = chat_context(&w.state);
    assert!(context.contains("first Tuesday of the month"), "{context}");
    assert!(
        context.contains("Cite the source URL"),
        "the role's instructions reach the model: {context}"
    );

    // --rebuild-rag after a refresh is a no-op: no embedding call.
    w.state.clear();
    let a = w.aichat(&["--rag", "incus", "--rebuild-rag"]).await;
    assert_eq!(a.code, 0, "{}\n{}", a.stdout, a.stderr);
    assert_eq!(w.state.requests("/embeddings").len(), 0, "{}", a.stdout);
    let after: serde_norway::Value =
        serde_norway::from_str(&std::fs::read_to_string(w.rag("incus")).unwrap()).unwrap();
    assert_eq!(after["files"].as_mapping().unwrap().len(), files.len());
}

#[tokio::test]
async fn a_no_change_refresh_embeds_nothing_and_a_change_embeds_only_its_chunks() {
    let w = World::new().await;
    assert_eq!(w.refresh().await.code, 0);
    let docs_chunks_before = sha(&w.rag("incus"));

    w.state.clear();
    let r = w.refresh().await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = r.json();
    assert_eq!(j["export"]["embedded"], 0);
    assert_eq!(j["export"]["embedding_calls"], 0);
    assert!(
        j["export"]["rags"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["changed"] == false)
    );
    assert_eq!(w.state.requests("/embeddings").len(), 0);

    std::fs::write(
        w.notes.join("backups.md"),
        "# Backups\n\nNightly `incus export` of every instance to the NAS at 02:00.\n",
    )
    .unwrap();
    w.state.clear();
    let r = w.refresh().await;
    let j = r.json();
    assert_eq!(j["export"]["embedded"], 1, "{j}");
    assert_eq!(j["export"]["embedding_calls"], 1);
    assert_eq!(
        sha(&w.rag("incus")),
        docs_chunks_before,
        "the docs RAG is unchanged"
    );
    let local = j["export"]["rags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "incus-local")
        .unwrap()
        .clone();
    assert_eq!(local["changed"], true);

    // Human summary for cron: one line plus the command to try.
    let r: Run = w.refresh_cmd(&[]).output().await.unwrap().into();
    assert_eq!(r.code, 0);
    assert!(
        r.stdout
            .starts_with("refresh: docs 3 pages (+0 ~0 -0), local 2 pages (+0 ~0 -0)"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("0 embedded"), "{}", r.stdout);
    let q: Run = w.refresh_cmd(&["-q"]).output().await.unwrap().into();
    assert_eq!((q.code, q.stdout.as_str(), q.stderr.as_str()), (0, "", ""));
}

#[tokio::test]
async fn a_failing_endpoint_or_a_killed_refresh_leaves_index_and_rags_as_they_were() {
    let w = World::new().await;
    assert_eq!(w.refresh().await.code, 0);
    let (docs, local) = (sha(&w.rag("incus")), sha(&w.rag("incus-local")));
    let index = std::fs::canonicalize(w.env.data().join("index/current")).unwrap();

    std::fs::write(
        w.notes.join("new.md"),
        "# Zebra procedure\n\nThe zebra runbook.\n",
    )
    .unwrap();
    w.state.failing.store(true, Ordering::SeqCst);
    let r = w.refresh().await;
    assert_eq!(r.code, 2);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("embedding endpoint") && r.stderr.contains("after 3 attempts"),
        "{}",
        r.stderr
    );
    assert_eq!(
        (sha(&w.rag("incus")), sha(&w.rag("incus-local"))),
        (docs.clone(), local.clone())
    );
    assert_eq!(
        std::fs::canonicalize(w.env.data().join("index/current")).unwrap(),
        index,
        "index not published"
    );
    let s = w
        .incus_ai(&["search", "--json", "--collection", "local", "zebra runbook"])
        .await;
    assert!(
        !s.json()
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["title"] == "Zebra procedure"),
        "the new note is not searchable yet: {}",
        s.stdout
    );
    let a = w.aichat(&["--rag", "incus-local", "--info"]).await;
    assert_eq!(a.code, 0, "AIChat still loads the RAG: {}", a.stderr);

    // The endpoint is back: the next refresh finishes the job.
    w.state.failing.store(false, Ordering::SeqCst);
    let r = w.refresh().await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["export"]["embedded"], 1);
    let s = w
        .incus_ai(&["search", "--json", "--collection", "local", "zebra runbook"])
        .await;
    assert_eq!(s.json()[0]["title"], "Zebra procedure");

    // A refresh killed while it runs changes nothing; a second one meanwhile is refused.
    std::fs::write(
        w.notes.join("new.md"),
        "# Zebra procedure\n\nThe zebra runbook, revised.\n",
    )
    .unwrap();
    let (docs, local) = (sha(&w.rag("incus")), sha(&w.rag("incus-local")));
    let slow = support::http::Server::start(std::sync::Arc::new(|_: &support::http::Request| {
        support::http::Response::new(200, "{}").delay(Duration::from_secs(30))
    }))
    .await;
    std::fs::write(
        w.aichat_dir.join("config.yaml"),
        openai::aichat_config(&slow.url("/v1")),
    )
    .unwrap();
    let mut running = w.refresh_cmd(&["-q"]).spawn().unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let second = w.refresh().await;
    assert_eq!(second.code, 75, "{}", second.stderr);
    running.kill().await.unwrap();
    let _ = running.wait().await;
    assert_eq!(
        (sha(&w.rag("incus")), sha(&w.rag("incus-local"))),
        (docs, local)
    );
    let a = w.aichat(&["--rag", "incus", "--info"]).await;
    assert_eq!(a.code, 0, "{}", a.stderr);
}

#[tokio::test]
async fn export_errors_name_the_fix_and_refresh_skips_aichat_when_it_is_not_configured() {
    let w = World::new().await;
    let src = fixtures().join("incus-src");
    assert_eq!(
        w.incus_ai(&["mirror", "-q", "--source", src.to_str().unwrap()])
            .await
            .code,
        0
    );
    // The export is made of the index's sections: without an index it says how to make one.
    let r = w.incus_ai(&["export", "aichat"]).await;
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("no index") && r.stderr.contains("incus-ai index"),
        "{}",
        r.stderr
    );
    assert_eq!(w.incus_ai(&["index", "-q"]).await.code, 0);
    let r = w
        .incus_ai(&["export", "aichat", "--embedding-model", "local:nope"])
        .await;
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("local:nope") && r.stderr.contains("type: embedding"),
        "{}",
        r.stderr
    );

    std::fs::write(w.aichat_dir.join("config.yaml"), "model: x:y\n").unwrap();
    let r = w.incus_ai(&["export", "aichat"]).await;
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("rag_embedding_model") && r.stderr.contains("--embedding-model"),
        "{}",
        r.stderr
    );
    let r = w.refresh().await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.json()["export_skipped"]
            .as_str()
            .unwrap()
            .contains("no embedding model")
    );

    let r = w
        .incus_ai(&[
            "export",
            "aichat",
            "--json",
            "--rags-dir",
            w.env.dir.path().join("other").to_str().unwrap(),
            "--embedding-model",
            "local:stub-embed",
        ])
        .await;
    assert_eq!(
        r.code, 2,
        "the model is declared in a config that no longer has it: {}",
        r.stdout
    );
    std::fs::write(
        w.aichat_dir.join("config.yaml"),
        openai::aichat_config(&w._server.url("/v1")),
    )
    .unwrap();
    let other = w.env.dir.path().join("other");
    let r = w
        .incus_ai(&[
            "export",
            "aichat",
            "--json",
            "--rags-dir",
            other.to_str().unwrap(),
            "--name",
            "docs",
        ])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(other.join("docs.yaml").exists() && other.join("docs-local.yaml").exists());
    let _: Value = r.json();
}
