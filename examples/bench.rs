//! `make bench`: the numbers of the knowledge pipeline on this machine.
//!
//! - full mirror of the real docs site served on 127.0.0.1 (cold) and the no-change re-mirror
//! - index build of the whole docs (from scratch) and the no-change update
//! - search latency p50/p99 in process and for the CLI end to end
//! - peak memory of this process and of the CLI runs
//! - the embedding model: the docs embedded cold, a query, hybrid search, `serve`
//!
//! Usage: cargo run --release --example bench -- [--shared DIR] [--bin target/release/incus-ai]

#[path = "support/bench_admin.rs"]
mod admin;
#[path = "../tests/support/http.rs"]
mod http;
#[path = "support/bench_hybrid.rs"]
mod hybrid;
#[path = "../tests/support/openai.rs"]
mod openai;
#[path = "../tests/support/shared.rs"]
mod shared;
#[path = "support/bench_watch.rs"]
mod watch;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use incus_ai::config::CrawlConfig;
use incus_ai::diagnosis::checks::Settings;
use incus_ai::diagnosis::incus::{Client, Endpoint, Target};
use incus_ai::knowledge::index::{Scope, Searcher, build};
use incus_ai::knowledge::mirror::{self, MirrorOptions};
use incus_ai::knowledge::sources::{FetchContext, Source};
use incus_ai::util::paths::DataDir;

/// Index options without the embedding model (the BM25 numbers).
fn bm25_only() -> build::IndexOptions {
    build::IndexOptions {
        quiet: true,
        model_dir: None,
    }
}

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

fn main() {
    shared::block_on(run());
}

async fn run() {
    let shared = shared::shared_dir(shared::arg("--shared"));
    let bin = PathBuf::from(shared::arg("--bin").unwrap_or_else(|| {
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
        local_dirs: vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/site-notes")],
        server_version: None,
        server_reference: None,
        ctx: FetchContext {
            crawl: CrawlConfig::default().options(),
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
    let r = build::update(&data, &bm25_only()).expect("index");
    let full = t.elapsed();
    println!(
        "index build, full:       {:>9}  {} pages, {} sections  [{}]",
        ms(full),
        r.pages_total,
        r.sections_total,
        status("index build", full < Duration::from_secs(2), "< 2 s")
    );
    let t = Instant::now();
    build::update(&data, &bm25_only()).expect("index");
    println!("index update, no change: {:>9}", ms(t.elapsed()));

    let t = Instant::now();
    let searcher = Searcher::open(&data.index(), None).expect("open");
    println!("index open:              {:>9}", ms(t.elapsed()));
    let mut lat = Vec::new();
    for _ in 0..25 {
        for q in &questions {
            let t = Instant::now();
            let hits = searcher.search(q, Scope::All, 10).expect("search");
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

    hybrid::run(&bin, &data, &server.url("/incus/docs/main/"), &questions).await;
    export_bench(&data, &opts).await;
    doctor_live().await;
    doctor_synthetic().await;
}

fn local_client(socket: &Path) -> Client {
    let target = Target {
        remote: "local".into(),
        endpoint: Endpoint::Unix(socket.to_path_buf()),
        project: None,
    };
    Client::connect(&target, Duration::from_secs(10)).expect("client")
}

/// Times of `runs` doctor runs (sorted), with the requests and findings of the last one.
struct DoctorRuns {
    times: Vec<Duration>,
    requests: usize,
    findings: usize,
}

impl DoctorRuns {
    /// `review`: the review instead of the doctor.
    async fn measure(socket: &Path, runs: usize, review: bool) -> DoctorRuns {
        let mut out = DoctorRuns {
            times: Vec::new(),
            requests: 0,
            findings: 0,
        };
        for _ in 0..runs {
            // A fresh client each run, as each `incus-ai doctor` starts with one.
            let client = local_client(socket);
            let t = Instant::now();
            let j = incus_ai::app::judge(&client, &Settings::default(), review, None)
                .await
                .expect("read");
            let findings = if review { &j.advice } else { &j.faults };
            let (requests, findings) = (j.state.requests, findings.len());
            out.times.push(t.elapsed());
            out.requests = requests;
            out.findings = findings;
        }
        out.times.sort();
        out
    }

    fn p50(&self) -> Duration {
        percentile(&self.times, 0.5)
    }

    fn max(&self) -> Duration {
        *self.times.last().expect("at least one run")
    }
}

fn harness(args: &[&str]) -> std::process::Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cluster/incus-cluster.sh");
    Command::new("bash")
        .arg(script)
        .args(args)
        .output()
        .expect("harness")
}

/// The doctor on the real three-member cluster of the test harness.
async fn doctor_live() {
    println!("\n== doctor on a real 3-member cluster (tests/cluster/incus-cluster.sh)");
    if unsafe { libc::geteuid() } != 0 {
        println!("skipped: needs root to run incusd");
        return;
    }
    let was_up = harness(&["status"]).status.success();
    let up = harness(&["up"]);
    if !up.status.success() {
        println!(
            "skipped: the harness could not start the cluster: {}",
            String::from_utf8_lossy(&up.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
        return;
    }
    let socket = PathBuf::from("/var/lib/incus-ai-test/m1/unix.socket");
    let healthy = DoctorRuns::measure(&socket, 10, false).await;
    println!(
        "healthy:                 p50 {} max {} over {} runs, {} requests, {} findings",
        ms(healthy.p50()),
        ms(healthy.max()),
        healthy.times.len(),
        healthy.requests,
        healthy.findings
    );
    let review = DoctorRuns::measure(&socket, 5, true).await;
    println!(
        "review:                  p50 {} max {} over {} runs, {} requests, {} findings  [{}]",
        ms(review.p50()),
        ms(review.max()),
        review.times.len(),
        review.requests,
        review.findings,
        status("review", review.p50() < Duration::from_secs(3), "< 3 s")
    );
    admin::admin_live(&socket).await;
    let bin = bench_bin();
    watch::cycle(&bin, &socket, "live cluster");
    watch::alert_latency(&bin, &socket, |a| {
        harness(a);
    });
    harness(&["kill", "m2"]);
    let waited = harness(&["wait", "m2", "Offline", "60"]);
    if waited.status.success() {
        let offline = DoctorRuns::measure(&socket, 5, false).await;
        println!(
            "member m2 offline:       p50 {} max {} over {} runs, {} requests, {} findings  [{}]",
            ms(offline.p50()),
            ms(offline.max()),
            offline.times.len(),
            offline.requests,
            offline.findings,
            status(
                "dead member",
                offline.p50() < Duration::from_secs(2),
                "< 2 s"
            )
        );
    } else {
        println!("member m2 did not go offline in time");
    }
    harness(&["start", "m2"]);
    harness(&["wait", "m2", "Online", "60"]);
    if !was_up {
        harness(&["down"]);
    }
}

/// Answers of a synthetic cluster, built from the shapes recorded on the real one.
struct Synthetic {
    answers: std::collections::HashMap<String, String>,
    member_state: String,
    pool_status: String,
    resources: String,
}

fn envelope(metadata: serde_json::Value) -> String {
    serde_json::json!({"type": "sync", "status": "Success", "status_code": 200, "metadata": metadata}).to_string()
}

impl Synthetic {
    fn new(members: usize, instances: usize) -> Synthetic {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/recorded/healthy.json");
        let rec: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let meta = |p: &str| rec[p]["body"]["metadata"].clone();
        let mut answers = std::collections::HashMap::new();
        let names: Vec<String> = (0..members).map(|i| format!("node{i}")).collect();
        let mut pools = meta("/1.0/storage-pools?recursion=1");
        for p in pools.as_array_mut().unwrap() {
            p["locations"] = serde_json::json!(names);
        }
        answers.insert(
            "/1.0/storage-pools?recursion=1".to_string(),
            envelope(pools),
        );
        for p in [
            "/1.0",
            "/1.0/warnings?recursion=1",
            "/1.0/operations?recursion=1&all-projects=true",
            "/1.0/networks?recursion=1&all-projects=true",
            "/1.0/projects?recursion=1",
            "/1.0/certificates?recursion=1",
            "/1.0/profiles?recursion=1&all-projects=true",
        ] {
            answers.insert(p.to_string(), envelope(meta(p)));
        }
        let member = meta("/1.0/cluster/members?recursion=1")[1].clone();
        let list: Vec<serde_json::Value> = (0..members)
            .map(|i| {
                let mut m = member.clone();
                m["server_name"] = format!("node{i}").into();
                m["url"] = format!("https://10.1.{}.{}:8443", i / 250, i % 250 + 1).into();
                if i >= 3 {
                    m["roles"] = serde_json::json!([]);
                    m["database"] = false.into();
                }
                m
            })
            .collect();
        answers.insert(
            "/1.0/cluster/members?recursion=1".into(),
            envelope(serde_json::Value::Array(list)),
        );
        let instance = meta("/1.0/instances?recursion=1&all-projects=true")[0].clone();
        let list: Vec<serde_json::Value> = (0..instances)
            .map(|i| {
                let mut x = instance.clone();
                x["name"] = format!("ct{i}").into();
                x["location"] = format!("node{}", i % members).into();
                x
            })
            .collect();
        let with_state: Vec<serde_json::Value> = list
            .iter()
            .map(|x| {
                let mut x = x.clone();
                x["state"] = serde_json::json!({"memory": {"usage": 64u64 << 20}});
                x
            })
            .collect();
        answers.insert(
            "/1.0/instances?recursion=1&all-projects=true".into(),
            envelope(serde_json::Value::Array(list)),
        );
        answers.insert(
            "/1.0/instances?recursion=2&all-projects=true".into(),
            envelope(serde_json::Value::Array(with_state)),
        );
        Synthetic {
            answers,
            resources: envelope(serde_json::json!({
                "cpu": {"total": 8, "sockets": [{"name": "Xeon E-2288G", "vendor": "GenuineIntel"}]},
                "memory": {"total": 32u64 << 30}
            })),
            member_state: envelope(meta("/1.0/cluster/members/m1/state")),
            pool_status: envelope(meta("/1.0/storage-pools/default?target=m1")),
        }
    }

    fn answer(&self, path: &str) -> http::Response {
        let body = if let Some(b) = self.answers.get(path) {
            b.clone()
        } else if path.starts_with("/1.0/cluster/members/") && path.ends_with("/state") {
            self.member_state.clone()
        } else if path.starts_with("/1.0?target=") {
            self.answers["/1.0"].clone()
        } else if path.starts_with("/1.0/resources") {
            self.resources.clone()
        } else if path.starts_with("/1.0/storage-pools/") && path.contains("/volumes?") {
            envelope(serde_json::json!([]))
        } else if path.starts_with("/1.0/storage-pools/") && path.contains("?target=") {
            self.pool_status.clone()
        } else {
            return http::Response::new(
                404,
                r#"{"type":"error","error":"not found","error_code":404}"#,
            );
        };
        http::Response::new(200, body).header("Content-Type", "application/json")
    }
}

async fn doctor_synthetic() {
    println!(
        "\n== doctor on synthetic clusters served on a loopback unix socket (recorded shapes)"
    );
    let tmp = tempfile::tempdir().unwrap();
    for (members, instances) in [(100, 1_000), (1_000, 1_000), (1_000, 10_000)] {
        let synthetic = Arc::new(Synthetic::new(members, instances));
        let socket = tmp.path().join(format!("s{members}-{instances}.socket"));
        let s2 = synthetic.clone();
        let _server = http::Server::start_unix(
            &socket,
            Arc::new(move |r: &http::Request| s2.answer(&r.path)),
        )
        .await;
        let runs = DoctorRuns::measure(&socket, 3, false).await;
        let p50 = runs.p50();
        println!(
            "{members:>5} members, {instances:>6} instances: p50 {} over {} runs, {} requests, {} findings  [{}]",
            ms(p50),
            runs.times.len(),
            runs.requests,
            runs.findings,
            status("synthetic", p50 < Duration::from_secs(2), "< 2 s")
        );
        if members == 1_000 && instances == 1_000 {
            watch::cycle(&bench_bin(), &socket, "1,000 members, 1,000 instances");
        }
        let runs = DoctorRuns::measure(&socket, 3, true).await;
        let p50 = runs.p50();
        println!(
            "{:>30} review: p50 {} over {} runs, {} requests, {} findings  [{}]",
            "",
            ms(p50),
            runs.times.len(),
            runs.requests,
            runs.findings,
            status("review", p50 < Duration::from_secs(3), "< 3 s")
        );
    }
}

/// The release binary next to the bench's own (target/release/incus-ai).
fn bench_bin() -> PathBuf {
    std::env::current_exe()
        .unwrap()
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("incus-ai")
}

fn aichat_bin() -> Option<PathBuf> {
    shared::find_aichat()
}

fn aichat(dir: &Path, args: &[&str]) -> (Duration, std::process::Output) {
    let bin = aichat_bin().expect("aichat");
    let t = Instant::now();
    let out = Command::new(bin)
        .args(args)
        .env("AICHAT_CONFIG_DIR", dir)
        .env("NO_PROXY", "127.0.0.1")
        .output()
        .expect("run aichat");
    (t.elapsed(), out)
}

/// The AIChat export of the whole docs mirror, a no-change refresh, and AIChat loading it.
async fn export_bench(data: &DataDir, mirror_opts: &MirrorOptions) {
    use incus_ai::aichat::rag::{self as export, ExportOptions};
    println!(
        "\n== AIChat export (scripted OpenAI-compatible server on loopback, {}-dim embeddings)",
        openai::DIM
    );
    let (server, state) = openai::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.yaml"),
        openai::aichat_config(&server.url("/v1")),
    )
    .unwrap();
    // SAFETY: set before any thread reads the environment for AIChat's paths.
    unsafe { std::env::set_var("AICHAT_CONFIG_DIR", dir.path()) };
    let opts = ExportOptions {
        name: "incus".into(),
        ..ExportOptions::default()
    };
    let t = Instant::now();
    let r = export::export(data, &opts).await.expect("export");
    let took = t.elapsed();
    let chunks: usize = r.rags.iter().map(|x| x.chunks).sum();
    println!(
        "export, full docs:       {:>9}  {} chunks in {} files, {} embedded in {} calls",
        ms(took),
        chunks,
        r.rags.len(),
        r.embedded,
        r.embedding_calls
    );
    state.clear();
    let t = Instant::now();
    let rr = incus_ai::refresh::run(data, mirror_opts, Some(&opts), &bm25_only())
        .await
        .expect("refresh");
    let e = rr.export.expect("export ran");
    println!(
        "refresh, no change:      {:>9}  {} embedding calls, {} embedded  [{}]",
        ms(t.elapsed()),
        e.embedding_calls,
        e.embedded,
        status("no-change refresh", e.embedding_calls == 0, "0 calls")
    );
    if aichat_bin().is_none() {
        println!("aichat: not installed (scripts/setup.sh installs it); start-up not measured");
        return;
    }
    let mut loads = Vec::new();
    for _ in 0..3 {
        let (t, out) = aichat(dir.path(), &["--rag", "incus", "--info"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        loads.push(t);
    }
    loads.sort();
    let p50 = percentile(&loads, 0.5);
    println!(
        "aichat --rag incus load: p50 {} over {} runs ({} chunks)  [{}]",
        ms(p50),
        loads.len(),
        r.rags[0].chunks,
        status("aichat start-up", p50 < Duration::from_secs(3), "< 3 s")
    );

    // AIChat building the same knowledge base itself: same files, same endpoint, its own splitter.
    let rag: serde_norway::Value = serde_norway::from_str(
        &std::fs::read_to_string(dir.path().join("rags/incus.yaml")).unwrap(),
    )
    .unwrap();
    let own = serde_json::json!({
        "embedding_model": "local:stub-embed", "chunk_size": 1500, "chunk_overlap": 75, "reranker_model": null,
        "top_k": 4, "batch_size": 64, "next_file_id": 0, "document_paths": rag["document_paths"], "files": {}, "vectors": {}
    });
    std::fs::write(
        dir.path().join("rags/selfbuilt.yaml"),
        serde_norway::to_string(&own).unwrap(),
    )
    .unwrap();
    state.clear();
    let (t, out) = aichat(dir.path(), &["--rag", "selfbuilt", "--rebuild-rag"]);
    if !out.status.success() {
        println!(
            "aichat building its own RAG failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return;
    }
    let calls = state.requests("/embeddings").len();
    let built: serde_norway::Value = serde_norway::from_str(
        &std::fs::read_to_string(dir.path().join("rags/selfbuilt.yaml")).unwrap(),
    )
    .unwrap();
    let own_chunks = built["vectors"].as_mapping().map_or(0, |m| m.len());
    let (load, _) = aichat(dir.path(), &["--rag", "selfbuilt", "--info"]);
    println!(
        "aichat building it:      {:>9}  {own_chunks} chunks (its splitter, 1500 bytes), {calls} embedding calls, then loads in {}",
        ms(t),
        ms(load)
    );
    drop(server);
}
