//! Where the workplace's shared data (`eval/`, `incus-docs/`) lives: `$INCUS_AI_SHARED`, else
//! `../shared` next to the repository, else `/work/shared`.

use std::path::PathBuf;

pub fn shared_dir(explicit: Option<String>) -> PathBuf {
    let candidates: Vec<PathBuf> = explicit
        .or_else(|| std::env::var("INCUS_AI_SHARED").ok())
        .map(PathBuf::from)
        .into_iter()
        .chain([
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"),
            PathBuf::from("/work/shared"),
        ])
        .collect();
    candidates
        .iter()
        .find(|p| p.join("eval/dev.jsonl").exists())
        .cloned()
        .unwrap_or_else(|| {
            eprintln!(
                "shared data not found (looked in {}); set INCUS_AI_SHARED to the folder holding eval/ and incus-docs/",
                candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            );
            std::process::exit(2)
        })
}

/// The value after `name` on the command line (`--shared DIR`), for the eval and bench programs.
pub fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// The real `aichat` (scripts/setup.sh installs 0.30.0): `$AICHAT`, `~/.cargo/bin/aichat`,
/// `/usr/local/bin/aichat`.
pub fn find_aichat() -> Option<PathBuf> {
    [
        std::env::var("AICHAT").ok().map(PathBuf::from),
        std::env::var("HOME")
            .ok()
            .map(|h| PathBuf::from(h).join(".cargo/bin/aichat")),
        Some(PathBuf::from("/usr/local/bin/aichat")),
    ]
    .into_iter()
    .flatten()
    .find(|p| p.exists())
}

/// A free loopback port (bound, then released), never the same twice in one process: tests
/// run side by side, and two servers told the same port would answer each other's clients.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if GIVEN.lock().unwrap_or_else(|e| e.into_inner()).insert(port) {
            return port;
        }
    }
}

/// Runs an example's `main` on a multi-threaded runtime, the model's thread count fixed first
/// (while the process has one thread), as the CLI does.
pub fn block_on<F: std::future::Future>(main: F) -> F::Output {
    // SAFETY: called first thing in `main`, before any thread starts.
    unsafe { incus_ai::knowledge::embed::fix_thread_count() };
    tokio::runtime::Runtime::new()
        .expect("the async runtime")
        .block_on(main)
}
