//! `make eval`, the AIChat half: the docs exported as `aichat --rag incus` with the local
//! model (in process, AIChat's `rag_chunk_size` 1500, `rag_top_k` 5), `incus-ai serve`
//! embedding AIChat's question, and the real `aichat --dry-run` for each question: does what
//! AIChat puts in `<context>` hold one of the question's answer phrases?

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use incus_ai::aichat::rag::{self as export, ExportOptions};
use incus_ai::knowledge::embed;
use incus_ai::util::paths::DataDir;

use super::{Question, norm};

/// What AIChat put between `<context>` and `</context>` for `question`.
fn context(aichat: &Path, config_dir: &Path, question: &str) -> String {
    let out = Command::new(aichat)
        .args(["--rag", "incus", "--dry-run", question])
        .env("AICHAT_CONFIG_DIR", config_dir)
        .env("NO_PROXY", "127.0.0.1")
        .output()
        .expect("run aichat");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "aichat --dry-run failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    match (text.find("<context>"), text.rfind("</context>")) {
        (Some(a), Some(b)) if a < b => text[a..b].to_string(),
        _ => String::new(),
    }
}

/// Share of `qs` whose AIChat context holds one of their `must_contain` phrases.
fn phrase_in_context(aichat: &Path, config_dir: &Path, qs: &[Question]) -> f64 {
    let found = qs
        .iter()
        .filter(|q| {
            let ctx = norm(&context(aichat, config_dir, &q.question));
            q.must_contain.iter().any(|m| ctx.contains(&norm(m)))
        })
        .count();
    found as f64 / qs.len() as f64
}

/// Prints phrase-in-context for the dev and real questions; `html` is the mirrored site.
pub async fn run(bin: &Path, html: &DataDir, dev: &[Question], real: &[Question]) {
    println!(
        "\naichat --rag incus (real aichat, rag_top_k 5, chunks of 1500 bytes, local model in process, questions embedded by incus-ai serve):"
    );
    let Some(aichat) = crate::shared::find_aichat() else {
        println!("skipped: aichat is not installed (scripts/setup.sh installs it)");
        return;
    };
    let model_dir = embed::model_dir(None);
    let port = crate::shared::free_port();
    let api_base = format!("http://127.0.0.1:{port}/v1");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.yaml"),
        format!(
            "model: none:chat\nrag_top_k: 5\nrag_chunk_size: 1500\nrag_embedding_model: incus-ai:all-MiniLM-L6-v2\nclients:\n- type: openai-compatible\n  name: incus-ai\n  api_base: {api_base}\n  models:\n  - name: all-MiniLM-L6-v2\n    type: embedding\n    max_input_tokens: 256\n    max_batch_size: 64\n    default_chunk_size: 1500\n- type: openai-compatible\n  name: none\n  api_base: http://127.0.0.1:9/v1\n  models:\n  - name: chat\n"
        ),
    )
    .unwrap();
    // SAFETY: set while no other thread of this program reads the environment.
    unsafe { std::env::set_var("AICHAT_CONFIG_DIR", dir.path()) };
    let t = Instant::now();
    let opts = ExportOptions {
        name: "incus".into(),
        local_model: Some(export::LocalModel {
            dir: model_dir.clone(),
            api_base,
        }),
        ..ExportOptions::default()
    };
    let r = export::export(html, &opts).await.expect("export");
    let chunks: usize = r.rags.iter().map(|x| x.chunks).sum();
    println!(
        "export: {chunks} chunks, {} embedded in process ({} from the cache) in {:.1} s",
        r.embedded,
        chunks.saturating_sub(r.embedded),
        t.elapsed().as_secs_f64()
    );
    let mut serve = Command::new(bin)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("INCUS_AI_MODEL_DIR", &model_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start incus-ai serve");
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(t.elapsed() < Duration::from_secs(30), "serve did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let t = Instant::now();
    let d = phrase_in_context(&aichat, dir.path(), dev);
    let r = phrase_in_context(&aichat, dir.path(), real);
    let _ = serve.kill();
    let _ = serve.wait();
    println!(
        "answer phrase in AIChat's context: dev {d:.3}, real {r:.3} ({} questions in {:.1} s; targets: hidden harder set >= 0.80, real >= 0.70)",
        dev.len() + real.len(),
        t.elapsed().as_secs_f64()
    );
}
