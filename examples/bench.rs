//! `make bench`: the numbers of the knowledge pipeline on this machine.
//!
//! - full mirror of the real docs site served on 127.0.0.1 (cold) and the no-change re-mirror
//! - index build of the whole docs (from scratch) and the no-change update
//! - search latency p50/p99 in process and for the CLI end to end
//! - peak memory of this process and of the CLI runs
//!
//! Usage: cargo run --release --example bench -- [--shared DIR] [--bin target/release/incus-ai]

#[path = "../tests/support/http.rs"]
mod http;
#[path = "../tests/support/shared.rs"]
mod shared;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use incus_ai::config::CrawlConfig;
use incus_ai::index::{Collection, Searcher, build};
use incus_ai::mirror::{self, MirrorOptions};
use incus_ai::paths::DataDir;
use incus_ai::sources::{FetchContext, Source};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn max_rss_kib(who: i32) -> i64 {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage only writes into the struct we own.
    unsafe { libc::getrusage(who, &mut u) };
    u.ru_maxrss
}

fn status(label: &str, ok: bool, target: &str) -> String {
    format!(
        "{label} ({} target {target})",
        if ok { "meets" } else { "MISSES" }
    )
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let shared = shared::shared_dir(arg("--shared"));
    let bin = PathBuf::from(arg("--bin").unwrap_or_else(|| {
        let exe = std::env::current_exe().unwrap();
        exe.parent()
            .unwrap()
            .parent()
            .unwrap()
            .join("incus-ai")
            .display()
            .to_string()
    }));
    let questions: Vec<String> = std::fs::read_to_string(shared.join("eval/dev.jsonl"))
        .expect("dev.jsonl")
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["question"].as_str().map(str::to_string))
        .collect();

    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::new(tmp.path().join("data"));
    let server =
        http::Server::serve_dir(&shared.join("incus-docs/html"), "/incus/docs/main/").await;
    let opts = MirrorOptions {
        docs_sources: vec![Source::parse(&server.url("/incus/docs/main/")).unwrap()],
        fallback: None,
        local_dirs: vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus")],
        server_version: None,
        ctx: FetchContext {
            crawl: CrawlConfig::default(),
            canonical_base: "https://linuxcontainers.org/incus/docs/main/".into(),
            cache_dir: data.cache(),
        },
        quiet: true,
    };

    println!(
        "== knowledge pipeline (docs site served on {}, 2 cores)",
        server.addr
    );
    let t = Instant::now();
    let reports = mirror::run(&data, &opts).await;
    let cold = t.elapsed();
    let docs = &reports[0];
    assert!(docs.error.is_none(), "{:?}", docs.error);
    println!(
        "mirror, cold:            {:>9}  {} pages, {} requests",
        ms(cold),
        docs.pages,
        docs.requests
    );
    let t = Instant::now();
    let reports = mirror::run(&data, &opts).await;
    let warm = t.elapsed();
    println!(
        "mirror, no change:       {:>9}  {} requests, {} answered 304  [{}]",
        ms(warm),
        reports[0].requests,
        reports[0].not_modified,
        status("re-mirror", warm < Duration::from_secs(2), "< 2 s")
    );

    let t = Instant::now();
    let r = build::update(&data, true).expect("index");
    let full = t.elapsed();
    println!(
        "index build, full:       {:>9}  {} pages, {} sections  [{}]",
        ms(full),
        r.pages_total,
        r.sections_total,
        status("index build", full < Duration::from_secs(2), "< 2 s")
    );
    let t = Instant::now();
    build::update(&data, true).expect("index");
    println!("index update, no change: {:>9}", ms(t.elapsed()));

    let t = Instant::now();
    let searcher = Searcher::open(&data.index()).expect("open");
    println!("index open:              {:>9}", ms(t.elapsed()));
    let mut lat = Vec::new();
    for _ in 0..25 {
        for q in &questions {
            let t = Instant::now();
            let hits = searcher.search(q, Collection::All, 10).expect("search");
            lat.push(t.elapsed());
            assert!(!hits.is_empty());
        }
    }
    lat.sort();
    let p50 = percentile(&lat, 0.5);
    println!(
        "search in process:       p50 {} p99 {} over {} queries  [{}]",
        ms(p50),
        ms(percentile(&lat, 0.99)),
        lat.len(),
        status("search p50", p50 < Duration::from_millis(1), "< 1 ms")
    );

    let mut cli = Vec::new();
    for q in questions.iter().cycle().take(60) {
        let t = Instant::now();
        let out = Command::new(&bin)
            .args(["search", "--json", q])
            .env("INCUS_AI_DATA_DIR", &data.root)
            .env("INCUS_SOCKET", "/nonexistent")
            .output()
            .expect("run the CLI (build it first: cargo build --release)");
        cli.push(t.elapsed());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    cli.sort();
    let p50 = percentile(&cli, 0.5);
    println!(
        "search, CLI end to end:  p50 {} p99 {} over {} runs  [{}]",
        ms(p50),
        ms(percentile(&cli, 0.99)),
        cli.len(),
        status("CLI p50", p50 < Duration::from_millis(50), "< 50 ms")
    );
    // GNU time measures the CLI from a small parent (an exec'd child of this process would
    // report this process's own high-water mark).
    let cli_peak = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(&bin)
        .args(["search", "--json", &questions[0]])
        .env("INCUS_AI_DATA_DIR", &data.root)
        .env("INCUS_SOCKET", "/nonexistent")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stderr)
                .trim()
                .lines()
                .last()?
                .parse::<i64>()
                .ok()
        })
        .map_or("? (install GNU time)".to_string(), |k| {
            format!("{} MiB", k / 1024)
        });
    println!(
        "peak memory:             bench process {} MiB (server, mirror, index, searches), one CLI search {cli_peak}",
        max_rss_kib(libc::RUSAGE_SELF) / 1024,
    );
}
