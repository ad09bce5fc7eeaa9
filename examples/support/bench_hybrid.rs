//! `make bench`, the embedding half: the local model (all-MiniLM-L6-v2 in candle) embedding the
//! whole docs the first time (a private, empty cache), the no-change update, a query, hybrid
//! search in process and from the CLI (model load included), and `incus-ai serve`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use incus_ai::knowledge::embed::{self, LocalModel};
use incus_ai::knowledge::index::{Scope, Searcher};
use incus_ai::util::paths::DataDir;

use super::{ms, percentile, status};

/// `incus-ai index --json` on `data` with `cache` as XDG_CACHE_HOME: its report, the wall
/// time and the peak memory (GNU time, KiB).
fn index_run(
    bin: &Path,
    data: &DataDir,
    model: &Path,
    cache: &Path,
) -> (serde_json::Value, Duration, i64) {
    let t = Instant::now();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(bin)
        .args(["index", "--json"])
        .env("INCUS_AI_DATA_DIR", &data.root)
        .env("INCUS_AI_MODEL_DIR", model)
        .env("XDG_CACHE_HOME", cache)
        .output()
        .expect("run incus-ai index (needs /usr/bin/time: scripts/setup.sh)");
    let took = t.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "index: {stderr}");
    let peak = stderr
        .trim()
        .lines()
        .last()
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    (
        serde_json::from_slice(&out.stdout).expect("index --json"),
        took,
        peak,
    )
}

/// Peak resident memory of a running process (VmHWM), in MiB.
fn vm_hwm_mib(pid: u32) -> i64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<i64>().ok())
        })
        .map_or(0, |k| k / 1024)
}

/// The bytes of the files under `dir`, in MiB.
fn mib_on_disk(dir: &Path) -> f64 {
    fn bytes(dir: &Path) -> u64 {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return 0;
        };
        entries
            .flatten()
            .map(|e| match e.file_type() {
                Ok(t) if t.is_dir() => bytes(&e.path()),
                _ => e.metadata().map(|m| m.len()).unwrap_or(0),
            })
            .sum()
    }
    bytes(dir) as f64 / (1024.0 * 1024.0)
}

/// A first `refresh --use-local-model` of the site at `site` (an empty data dir, the empty
/// embedding cache `cache`, an AIChat with nothing for RAG yet): mirror, index with its vectors
/// and the AIChat RAG files made of the index's sections, timed together, with its peak memory.
fn refresh_cold(bin: &Path, site: &str, cache: &Path) {
    let model_dir = embed::model_dir(None);
    let (data, aichat) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::fs::write(
        aichat.path().join("config.yaml"),
        "model: none:chat\nclients:\n- type: openai-compatible\n  name: none\n  api_base: http://127.0.0.1:9/v1\n  models:\n  - name: chat\n",
    )
    .unwrap();
    let t = Instant::now();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(bin)
        .args(["refresh", "--json", "--use-local-model", "--source", site])
        .env("INCUS_AI_DATA_DIR", data.path())
        .env("INCUS_AI_MODEL_DIR", &model_dir)
        .env("XDG_CACHE_HOME", cache)
        .env("AICHAT_CONFIG_DIR", aichat.path())
        .env("INCUS_SOCKET", "/nonexistent")
        .output()
        .expect("run incus-ai refresh (needs /usr/bin/time: scripts/setup.sh)");
    let took = t.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "refresh: {stderr}");
    let peak: i64 = stderr
        .trim()
        .lines()
        .last()
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("refresh --json");
    let d = &r["index"]["dense"];
    let tokens = d["tokens"].as_u64().unwrap_or(0);
    let secs = d["embed_ms"].as_u64().unwrap_or(0) as f64 / 1000.0;
    let chunks: u64 = r["export"]["rags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x["chunks"].as_u64())
        .sum();
    println!(
        "refresh, cold:           {:>9}  mirror + index ({} sections, {} embedded: {tokens} tokens in {secs:.1} s, {:.0} tokens/s) + AIChat RAG ({chunks} chunks, {} embedded: the index's vectors reused), peak {} MiB  [{}; {}]",
        ms(took),
        r["index"]["sections_total"],
        d["embedded"],
        tokens as f64 / secs.max(0.001),
        r["export"]["embedded"],
        peak / 1024,
        status("cold refresh", took < Duration::from_secs(150), "<= 150 s"),
        status("memory", peak / 1024 < 400, "< 400 MB"),
    );
    // AIChat's rags folder links to the RAG files, which are kept in the data dir.
    let data = DataDir::new(data.path().to_path_buf());
    println!(
        "on disk:                 index {:.1} MiB (with its vectors), AIChat RAG files {:.1} MiB",
        mib_on_disk(&data.index()),
        mib_on_disk(&data.aichat()),
    );
}

pub async fn run(bin: &Path, data: &DataDir, site: &str, questions: &[String]) {
    let model_dir = embed::model_dir(None);
    println!(
        "\n== hybrid search: {} in process (candle, f32, 2 cores)",
        embed::model_id(&model_dir)
    );
    let t = Instant::now();
    let model = match LocalModel::load(&model_dir) {
        Ok(m) => m,
        Err(e) => {
            println!("skipped: {e}");
            return;
        }
    };
    println!("model load:              {:>9}", ms(t.elapsed()));

    // The first refresh embeds the site into an empty cache; the index of `data` then takes
    // its vectors from that cache.
    let cache = tempfile::tempdir().unwrap();
    refresh_cold(bin, site, cache.path());
    let (r, took, _) = index_run(bin, data, &model_dir, cache.path());
    println!(
        "index with vectors:      {:>9}  {} sections, {} embedded (the rest from the cache)",
        ms(took),
        r["sections_total"],
        r["dense"]["embedded"]
    );
    let (r, took, _) = index_run(bin, data, &model_dir, cache.path());
    let embedded = r["dense"]["embedded"].as_u64().unwrap_or(u64::MAX);
    println!(
        "index update, no change: {:>9}  {embedded} embedded, {} vectors  [{}]",
        ms(took),
        r["dense"]["vectors"],
        status(
            "no-change update",
            embedded == 0 && took < Duration::from_secs(2),
            "0 embeddings, < 2 s"
        )
    );

    let mut lat = Vec::new();
    for _ in 0..5 {
        for q in questions {
            let t = Instant::now();
            model.embed(&[q]).expect("embed");
            lat.push(t.elapsed());
        }
    }
    lat.sort();
    let p50 = percentile(&lat, 0.5);
    println!(
        "query embedding:         p50 {} p99 {} over {} queries  [{}]",
        ms(p50),
        ms(percentile(&lat, 0.99)),
        lat.len(),
        status(
            "query embedding",
            p50 < Duration::from_millis(20),
            "< 20 ms"
        )
    );
    drop(model);

    let searcher = Searcher::open(&data.index(), Some(&model_dir)).expect("open");
    // Each question once: a searcher keeps the vectors of the questions it was asked, so a
    // second round would not embed them.
    let mut lat = Vec::new();
    for q in questions {
        let t = Instant::now();
        let hits = searcher.search(q, Scope::All, 10).expect("search");
        lat.push(t.elapsed());
        assert!(!hits.is_empty());
    }
    lat.sort();
    println!(
        "hybrid search in process: p50 {} p99 {} over {} queries",
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99)),
        lat.len()
    );
    drop(searcher);

    let (p50, p99, peak) = cli_search(bin, data, &model_dir, questions, None);
    println!(
        "hybrid search, CLI:      p50 {} p99 {} over 30 runs, model loaded by each, peak {peak} MiB  [{}]",
        ms(p50),
        ms(p99),
        status(
            "CLI p50 without serve",
            p50 < Duration::from_millis(150),
            "< 150 ms"
        )
    );
    let Some(mut child) = serve(bin, &model_dir, questions).await else {
        return;
    };
    let (p50, p99, peak) = cli_search(bin, data, &model_dir, questions, Some(child.port));
    println!(
        "hybrid search, CLI:      p50 {} p99 {} over 30 runs, query embedded by serve, peak {peak} MiB  [{}]",
        ms(p50),
        ms(p99),
        status("CLI p50", p50 < Duration::from_millis(100), "< 100 ms")
    );
    let _ = child.process.kill();
    let _ = child.process.wait();
}

/// `incus-ai search --json` on 30 questions: p50, p99 and peak memory (MiB); `serve_port`:
/// the `[embeddings] listen` port of a running `serve`.
fn cli_search(
    bin: &Path,
    data: &DataDir,
    model_dir: &Path,
    questions: &[String],
    serve_port: Option<u16>,
) -> (Duration, Duration, i64) {
    let config = data.root.join("bench-config.toml");
    // Without a server: a port nothing listens on.
    let port = serve_port.unwrap_or(9);
    std::fs::write(
        &config,
        format!("[embeddings]\nlisten = \"127.0.0.1:{port}\"\n"),
    )
    .unwrap();
    let mut cli = Vec::new();
    let mut cli_peak = 0;
    for q in questions.iter().take(30) {
        let t = Instant::now();
        let out = Command::new("/usr/bin/time")
            .args(["-f", "%M"])
            .arg(bin)
            .args(["search", "--json", q])
            .env("INCUS_AI_DATA_DIR", &data.root)
            .env("INCUS_AI_CONFIG", &config)
            .env("INCUS_AI_MODEL_DIR", model_dir)
            .env("INCUS_SOCKET", "/nonexistent")
            .output()
            .expect("run the CLI");
        cli.push(t.elapsed());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        let kib: i64 = stderr
            .trim()
            .lines()
            .last()
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        cli_peak = cli_peak.max(kib / 1024);
    }
    cli.sort();
    (percentile(&cli, 0.5), percentile(&cli, 0.99), cli_peak)
}

/// A running `incus-ai serve`.
struct Served {
    process: std::process::Child,
    port: u16,
}

/// `incus-ai serve` answering one question at a time, as AIChat sends them.
async fn serve(bin: &Path, model_dir: &Path, questions: &[String]) -> Option<Served> {
    let port = crate::shared::free_port();
    let mut child = Command::new(bin)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("INCUS_AI_MODEL_DIR", model_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start serve");
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if t.elapsed() > Duration::from_secs(30) {
            println!("serve did not start");
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ready = t.elapsed();
    let client = incus_ai::util::http::builder()
        .build()
        .expect("HTTP client");
    let url = format!("http://127.0.0.1:{port}/v1/embeddings");
    let mut lat = Vec::new();
    for q in questions.iter().cycle().take(100) {
        let t = Instant::now();
        let r = client
            .post(&url)
            .json(&serde_json::json!({"model": "all-MiniLM-L6-v2", "input": [q]}))
            .send()
            .await
            .expect("serve answers");
        assert!(r.status().is_success());
        r.bytes().await.unwrap();
        lat.push(t.elapsed());
    }
    lat.sort();
    let p50 = percentile(&lat, 0.5);
    let peak = vm_hwm_mib(child.id());
    println!(
        "serve, one query:        p50 {} p99 {} over {} requests (ready in {}), peak {peak} MiB  [{}]",
        ms(p50),
        ms(percentile(&lat, 0.99)),
        lat.len(),
        ms(ready),
        status("serve p50", p50 < Duration::from_millis(25), "< 25 ms")
    );
    Some(Served {
        process: child,
        port,
    })
}
