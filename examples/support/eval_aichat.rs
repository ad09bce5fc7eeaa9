//! `make eval`, the AIChat half: the docs exported as `aichat --rag incus` exactly as
//! `refresh --use-local-model` sets it up (AIChat's config gains the incus-ai client with the
//! local model and the reranker; the RAG's chunks are the index's sections with their
//! vectors), `incus-ai serve` embedding AIChat's question and reranking its candidates, and the
//! real `aichat --dry-run` for each question: does what AIChat puts in `<context>` hold one of
//! the question's answer phrases, and how large is that context? The same RAG without the
//! reranker (AIChat's own fusion, `top_k` 5) is measured side by side.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use incus_ai::aichat::rag::{self as export, ExportOptions};
use incus_ai::knowledge::embed;
use incus_ai::util::paths::DataDir;

use super::{Question, norm, parts};

/// What AIChat put between `<context>` and `</context>` for `question`, with RAG `rag`.
fn context(aichat: &Path, config_dir: &Path, rag: &str, question: &str) -> String {
    let out = Command::new(aichat)
        .args(["--rag", rag, "--dry-run", "--", question])
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
        (Some(a), Some(b)) if a < b => text[a + "<context>".len()..b].to_string(),
        _ => String::new(),
    }
}

/// For each of `qs`: whether its context holds one of its answer phrases, and the context's
/// size in bytes.
fn measure(aichat: &Path, config_dir: &Path, rag: &str, qs: &[Question]) -> Vec<(bool, usize)> {
    qs.iter()
        .map(|q| {
            let ctx = context(aichat, config_dir, rag, &q.question);
            let n = norm(&ctx);
            let found = q.must_contain.iter().any(|m| n.contains(&norm(m)));
            (found, ctx.len())
        })
        .collect()
}

/// The share of `outcomes` with an answer phrase, and the median context size in bytes.
fn summary(outcomes: &[(bool, usize)]) -> (f64, usize) {
    let found = outcomes.iter().filter(|(f, _)| *f).count();
    let mut sizes: Vec<usize> = outcomes.iter().map(|(_, b)| *b).collect();
    sizes.sort_unstable();
    let median = sizes.get(sizes.len() / 2).copied().unwrap_or(0);
    (found as f64 / outcomes.len().max(1) as f64, median)
}

/// Prints phrase-in-context and the median context per set, with and without incus-ai's
/// reranker; `html` is the mirrored site with its index.
pub async fn run(bin: &Path, html: &DataDir, sets: &[(&str, &[Question])]) {
    println!(
        "\naichat --rag incus (the real aichat --dry-run; set up as `refresh --use-local-model` does; questions embedded and candidates reranked by incus-ai serve):"
    );
    let Some(aichat) = crate::shared::find_aichat() else {
        println!("skipped: aichat is not installed (scripts/setup.sh installs it)");
        return;
    };
    let model_dir = embed::model_dir(None);
    let port = crate::shared::free_port();
    let api_base = format!("http://127.0.0.1:{port}/v1");
    let dir = tempfile::tempdir().unwrap();
    // An admin's AIChat with a chat model and nothing for RAG yet.
    std::fs::write(
        dir.path().join("config.yaml"),
        "model: none:chat\nclients:\n- type: openai-compatible\n  name: none\n  api_base: http://127.0.0.1:9/v1\n  models:\n  - name: chat\n",
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
        use_local_model: true,
        ..ExportOptions::default()
    };
    let r = export::export(html, &opts).await.expect("export");
    let chunks: usize = r.rags.iter().map(|x| x.chunks).sum();
    println!(
        "export: {chunks} chunks of the index's sections, {} embedded ({} vectors reused), reranker {}, in {:.1} s",
        r.embedded,
        r.cached,
        r.reranker.as_deref().unwrap_or("none"),
        t.elapsed().as_secs_f64()
    );
    // The same RAG without the reranker: AIChat's own fusion of its 5 best.
    let rags = dir.path().join("rags");
    let yaml = std::fs::read_to_string(rags.join("incus.yaml")).expect("the RAG file");
    let rrf = yaml
        .replacen("reranker_model: incus-ai:rerank", "reranker_model: null", 1)
        .replacen(&format!("top_k: {}", export::RERANK_TOP_K), "top_k: 5", 1);
    std::fs::write(rags.join("incus-rrf.yaml"), rrf).unwrap();
    let mut serve = Command::new(bin)
        .args(["--data-dir"])
        .arg(&html.root)
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
    println!(
        "{:<9} {:>25} {:>16} {:>26} {:>16}",
        "set",
        "phrase in context, rerank",
        "median bytes",
        "phrase in context, no rerank",
        "median bytes"
    );
    let t = Instant::now();
    let mut n = 0;
    for (name, qs) in sets {
        // The two columns side by side on the two cores (`serve` answers both).
        let (with, without) = std::thread::scope(|s| {
            let with = s.spawn(|| measure(&aichat, dir.path(), "incus", qs));
            let without = measure(&aichat, dir.path(), "incus-rrf", qs);
            (with.join().expect("the reranked column"), without)
        });
        n += 2 * qs.len();
        let line = |label: &str, with: &[(bool, usize)], without: &[(bool, usize)]| {
            let ((w, wb), (wo, wob)) = (summary(with), summary(without));
            println!("{label:<9} {w:>25.3} {wb:>16} {wo:>26.3} {wob:>16}");
        };
        line(name, &with, &without);
        let (with, without) = (parts(qs, &with), parts(qs, &without));
        for ((_, part, w), (_, _, wo)) in with.iter().zip(&without) {
            line(&format!("  {part}"), w, wo);
        }
    }
    let _ = serve.kill();
    let _ = serve.wait();
    println!(
        "({n} aichat runs in {:.1} s; targets on the hidden sets: 0.70 / 0.65 / 0.80 with a median context <= 8 KB)",
        t.elapsed().as_secs_f64()
    );
}
