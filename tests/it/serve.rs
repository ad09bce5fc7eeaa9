//! `incus-ai serve` (the local embedding model as an OpenAI-compatible endpoint) and AIChat on
//! it: `export aichat --use-local-model` sets AIChat up, the real `aichat` 0.30.0 embeds its
//! question through `serve`, and the note that answers a question sharing no word with it is
//! what AIChat puts in front of the model.

use crate::support;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use support::{Env, PARAPHRASE, Run, aichat_bin, fixtures, free_port, paraphrase_notes};

/// `incus-ai serve` on a port of its own, stopped when dropped.
struct Serve {
    child: Child,
    base: String,
}

impl Serve {
    fn start(env: &Env, port: u16) -> Serve {
        let child = env
            .cmd(&["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let s = Serve {
            child,
            base: format!("http://127.0.0.1:{port}/v1"),
        };
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "serve did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        s
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn post(url: &str, body: Vec<u8>) -> (u16, serde_json::Value) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let r = incus_ai::util::http::builder()
            .build()
            .unwrap()
            .post(url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let v = r.json().await.unwrap_or(serde_json::Value::Null);
        (status, v)
    })
}

#[test]
fn serve_answers_openai_embeddings_and_refuses_bad_requests() {
    let env = Env::new();
    let s = Serve::start(&env, free_port());
    let url = format!("{}/embeddings", s.base);
    let (code, v) = post(
        &url,
        br#"{"model":"all-MiniLM-L6-v2","input":["The new movie is awesome","The new movie is so great"]}"#.to_vec(),
    );
    assert_eq!(code, 200, "{v}");
    let a: Vec<f32> = serde_json::from_value(v["data"][0]["embedding"].clone()).unwrap();
    let b: Vec<f32> = serde_json::from_value(v["data"][1]["embedding"].clone()).unwrap();
    assert_eq!(a.len(), 384);
    let cos: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
    assert!((cos - 0.8939).abs() < 0.0005, "{cos}");
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    // One string is one input too.
    let (code, v) = post(&url, br#"{"input":"hello"}"#.to_vec());
    assert_eq!((code, v["data"].as_array().unwrap().len()), (200, 1));

    for (body, want, says) in [
        (b"{not json".to_vec(), 400, "not an embeddings request"),
        (br#"{"input":[]}"#.to_vec(), 400, "input is empty"),
        (br#"{"input":""}"#.to_vec(), 400, "input 0 is empty"),
        (
            br#"{"input":[1,2,3]}"#.to_vec(),
            400,
            "not an embeddings request",
        ),
        (
            br#"{"model":"gpt-4","input":"x"}"#.to_vec(),
            404,
            "not served here",
        ),
        (
            format!(r#"{{"input":"{}"}}"#, "a".repeat(10 << 20)).into_bytes(),
            413,
            "request body over",
        ),
    ] {
        let (code, v) = post(&url, body);
        assert_eq!(code, want, "{v}");
        let msg = v["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains(says), "{msg}");
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let models: serde_json::Value = rt.block_on(async {
        incus_ai::util::http::builder()
            .build()
            .unwrap()
            .get(format!("{}/models", s.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert_eq!(models["data"][0]["id"], "all-MiniLM-L6-v2");

    // `serve --check` says whether it answers (what `make run` and admins use).
    let here = s.base.trim_start_matches("http://").trim_end_matches("/v1");
    let r = env.run(&["serve", "--check", "--listen", here]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("all-MiniLM-L6-v2 answering at"),
        "{}",
        r.stdout
    );
    let nobody = format!("127.0.0.1:{}", free_port());
    let r = env.run(&["serve", "--check", "--listen", &nobody]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stderr.contains("nothing answers at"), "{}", r.stderr);
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);

    // Only loopback is served.
    let r = env.run(&["serve", "--listen", "0.0.0.0:0"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("only loopback"), "{}", r.stderr);
}

#[test]
fn serve_reranks_candidates_in_incus_ais_own_order_and_sends_back_what_is_worth_it() {
    let env = Env::new();
    let src = fixtures().join("incus-src");
    let r = env.run(&[
        "refresh",
        "-q",
        "--no-export",
        "--source",
        src.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let question = "how do I take a cluster member down for maintenance";
    // incus-ai's order as a model reads it (two sections of a page may lead), from the index
    // `refresh` published.
    let searcher = incus_ai::knowledge::index::Searcher::open(
        &env.data().join("index"),
        Some(&support::model_dir()),
    )
    .unwrap();
    let hits = searcher
        .search_passages(question, incus_ai::knowledge::index::Scope::All, 3)
        .unwrap();
    assert_eq!(hits.len(), 3, "{hits:?}");
    // Candidates as AIChat sends them: chunk texts, each naming its sections' URLs; in an
    // order that is not incus-ai's, with one unrelated chunk.
    let chunk = |h: &incus_ai::knowledge::index::Hit| {
        format!(
            "{}\nSection: {}\nSource: {}\n\n{}",
            h.title, h.section, h.url, h.text
        )
    };
    let documents = vec![
        "Unrelated\nSection: Unrelated\nSource: https://example.com/other/\n\nbananas".to_string(),
        chunk(&hits[2]),
        chunk(&hits[0]),
        chunk(&hits[1]),
    ];
    let s = Serve::start(&env, free_port());
    let url = format!("{}/rerank", s.base);
    let body = serde_json::json!({"model": "rerank", "query": question, "documents": documents, "top_n": 40});
    let (code, v) = post(&url, body.to_string().into_bytes());
    assert_eq!(code, 200, "{v}");
    let order: Vec<u64> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    assert_eq!(&order[..3], &[2, 3, 1], "incus-ai's order: {v}");
    assert!(!order.contains(&0) || order.last() == Some(&0), "{v}");
    assert!(v["results"][0]["relevance_score"].as_f64().unwrap() > 0.0);
    // top_n bounds what comes back; Cohere-style objects are documents too.
    let objects: Vec<serde_json::Value> = documents
        .iter()
        .map(|d| serde_json::json!({"text": d}))
        .collect();
    let body = serde_json::json!({"query": question, "documents": objects, "top_n": 1, "return_documents": true});
    let (code, v) = post(&url, body.to_string().into_bytes());
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["results"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["results"][0]["index"], 2);
    assert!(
        v["results"][0]["document"]["text"]
            .as_str()
            .unwrap()
            .contains("Source: ")
    );
    for (body, want, says) in [
        (
            serde_json::json!({"query": "", "documents": ["x"]}),
            400,
            "query is empty",
        ),
        (
            serde_json::json!({"query": "q", "documents": []}),
            400,
            "documents",
        ),
        (
            serde_json::json!({"model": "bge-reranker", "query": "q", "documents": ["x"]}),
            404,
            "not served here",
        ),
        (
            serde_json::json!({"query": "q"}),
            400,
            "not a rerank request",
        ),
    ] {
        let (code, v) = post(&url, body.to_string().into_bytes());
        assert_eq!(code, want, "{v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains(says),
            "{v}"
        );
    }
}

/// AIChat's config before: a chat client of the admin's own, a comment, no embedding model.
const AICHAT_CONFIG: &str = "# my AIChat settings\nmodel: mine:chat\nrag_top_k: 1\nclients:\n- type: openai-compatible\n  name: mine\n  api_base: http://127.0.0.1:9/v1   # not used by --dry-run\n  models:\n  - name: chat\n";

#[test]
fn aichat_with_the_local_model_injects_the_note_that_answers_by_meaning() {
    let env = Env::new();
    let port = free_port();
    env.config(&format!("[embeddings]\nlisten = \"127.0.0.1:{port}\"\n"));
    let aichat_dir = env.dir.path().join("aichat");
    std::fs::create_dir_all(&aichat_dir).unwrap();
    let config_file = aichat_dir.join("config.yaml");
    std::fs::write(&config_file, AICHAT_CONFIG).unwrap();
    let notes = env.dir.path().join("notes");
    let notes_written = paraphrase_notes(&notes);
    let incus_ai = |args: &[&str]| -> Run {
        env.cmd(args)
            .env("AICHAT_CONFIG_DIR", &aichat_dir)
            .output()
            .unwrap()
            .into()
    };
    let src = fixtures().join("incus-src");
    let refresh = [
        "refresh",
        "--json",
        "--source",
        src.to_str().unwrap(),
        "--local",
        notes.to_str().unwrap(),
    ];

    // Without an embedding model in AIChat the export is skipped, and says what to run.
    let r = incus_ai(&refresh);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // No Incus server here: the installation snapshot is a note, not a failure.
    let snap = r.json()["snapshot"].as_str().unwrap().to_string();
    assert!(
        snap.starts_with("no snapshot taken (cannot reach Incus"),
        "{snap}"
    );
    let why = r.json()["export_skipped"].as_str().unwrap().to_string();
    assert!(
        why.contains("incus-ai export aichat --use-local-model"),
        "{why}"
    );

    // --use-local-model: the client is added, every other line kept, a backup made; the
    // vectors are computed in process.
    let r = incus_ai(&["export", "aichat", "--use-local-model", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = r.json();
    assert_eq!(report["embedding_model"], "incus-ai:all-MiniLM-L6-v2");
    assert_eq!(report["in_process"], true);
    assert_eq!(report["embedding_calls"], 0);
    let after = std::fs::read_to_string(&config_file).unwrap();
    for line in AICHAT_CONFIG.lines() {
        assert!(after.lines().any(|l| l == line), "{line:?} lost:\n{after}");
    }
    assert!(after.contains(&format!("api_base: http://127.0.0.1:{port}/v1")));
    assert!(after.contains("rag_embedding_model: incus-ai:all-MiniLM-L6-v2"));
    assert!(
        after.contains("- name: rerank\n    type: reranker"),
        "{after}"
    );
    // The RAG asks incus-ai to rerank a wide pool of AIChat's candidates.
    let rag = std::fs::read_to_string(aichat_dir.join("rags/incus-local.yaml")).unwrap();
    assert!(
        rag.contains("reranker_model: incus-ai:rerank") && rag.contains("top_k: 40"),
        "{}",
        &rag[..300]
    );
    let backup = aichat_dir.join("config.yaml.incus-ai.bak");
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), AICHAT_CONFIG);
    // The nightly refresh now exports without the flag.
    let r = incus_ai(&refresh);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["export"]["in_process"], true, "{}", r.stdout);

    let aichat = || -> Run {
        std::process::Command::new(aichat_bin())
            .args(["--rag", "incus-local", "--dry-run", PARAPHRASE])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", env.dir.path().join("home"))
            .env("AICHAT_CONFIG_DIR", &aichat_dir)
            .env("NO_PROXY", "127.0.0.1")
            .env("AICHAT_EMBEDDINGS_RETRY_LIMIT", "1")
            .output()
            .unwrap()
            .into()
    };
    // AIChat needs `serve` for the question's vector.
    let r = aichat();
    assert_ne!(r.code, 0, "no endpoint yet: {}", r.stdout);
    let serve = Serve::start(&env, port);
    let r = aichat();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("incus cluster evacuate"),
        "the maintenance note is the context:\n{}",
        r.stdout
    );
    // incus-ai's reranker decides the order: the note that answers comes first.
    let at = |text: &str| r.stdout.find(text.lines().nth(4).unwrap());
    let answer = at(&notes_written[0].1).expect("the maintenance note is in the context");
    for (name, text) in &notes_written[1..] {
        assert!(
            at(text).is_none_or(|i| i > answer),
            "{name} comes before the answer: {}",
            r.stdout
        );
    }

    // A one-query `search` has `serve` embed the query (no model load), and finds the same.
    let search = ["search", "-vv", "--json", "--limit", "1", PARAPHRASE];
    let r = incus_ai(&search);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("query embedded by incus-ai serve"),
        "{}",
        r.stderr
    );
    let via_serve = r.json()[0]["url"].clone();
    assert!(
        via_serve.as_str().unwrap().contains("maintenance"),
        "{via_serve}"
    );
    drop(serve);
    let r = incus_ai(&search);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("did not embed the query; loading the model"),
        "{}",
        r.stderr
    );
    assert_eq!(r.json()[0]["url"], via_serve);
}
