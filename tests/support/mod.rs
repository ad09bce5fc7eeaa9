//! Shared helpers of the integration tests.
#![allow(dead_code)]

pub mod cluster;
pub mod http;
pub mod openai;
pub mod pty;
pub mod replay;
pub mod secrets;
pub mod shared;

#[allow(unused_imports)]
pub use shared::free_port;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The project's own test fixtures.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Copies a folder tree (files and folders).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let dest = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

/// A question that shares no word (nor stem) with the note that answers it.
pub const PARAPHRASE: &str = "steps ahead of rebooting a box";

/// Writes the site notes of `tests/fixtures/paraphrase-notes` into `to`: separate topics, of
/// which the first returned, `maintenance.md`, answers [`PARAPHRASE`]. Returns (name, text).
pub fn paraphrase_notes(to: &Path) -> Vec<(String, String)> {
    let from = fixtures().join("paraphrase-notes");
    copy_dir(&from, to);
    let mut notes: Vec<(String, String)> = std::fs::read_dir(&from)
        .unwrap()
        .flatten()
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(e.path()).unwrap())
        })
        .collect();
    notes.sort_by_key(|(name, _)| (name != "maintenance.md", name.clone()));
    notes
}

/// The embedding model `make setup` installed (the user's, before any test changes HOME).
pub fn model_dir() -> PathBuf {
    incus_ai::knowledge::embed::model_dir(None)
}

/// The user's embedding cache: vectors of a text are computed once for every test, eval and
/// bench run (they depend only on the model and the text).
pub fn embedding_cache_home() -> PathBuf {
    incus_ai::util::paths::xdg_cache_home()
}

/// The real `aichat` 0.30.0 that scripts/setup.sh installs.
pub fn aichat_bin() -> PathBuf {
    shared::find_aichat()
        .expect("aichat 0.30.0 is installed by scripts/setup.sh (make test runs it)")
}

/// An isolated incus-ai environment: its own data dir, config file and HOME.
pub struct Env {
    pub dir: tempfile::TempDir,
}

/// What a run of the binary gave.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }

    /// (id, subject) of every finding of a `doctor --json` or `review --json` report, sorted.
    pub fn finding_ids(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self.json()["findings"]
            .as_array()
            .unwrap_or_else(|| panic!("no findings in {}", self.stdout))
            .iter()
            .map(|f| {
                (
                    f["id"].as_str().unwrap().into(),
                    f["subject"].as_str().unwrap().into(),
                )
            })
            .collect();
        v.sort();
        v
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        Env { dir }
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    /// Writes the config file.
    pub fn config(&self, toml: &str) {
        std::fs::write(self.config_path(), toml).unwrap();
    }

    /// The command, with the environment isolated (no real Incus socket, no real XDG dirs but
    /// the installed embedding model and the embedding cache).
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_incus-ai"));
        c.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path().join("home"))
            .env("INCUS_AI_DATA_DIR", self.data())
            .env("INCUS_SOCKET", self.dir.path().join("no-incus.socket"))
            .env("INCUS_AI_MODEL_DIR", model_dir())
            .env("XDG_CACHE_HOME", embedding_cache_home());
        if self.config_path().exists() {
            c.env("INCUS_AI_CONFIG", self.config_path());
        }
        c
    }

    /// Runs the binary to completion.
    pub fn run(&self, args: &[&str]) -> Run {
        self.cmd(args).output().expect("run incus-ai").into()
    }

    /// Runs the binary in the background (for tests that must not block the runtime).
    pub async fn run_async(&self, args: &[&str]) -> Run {
        let mut c = tokio::process::Command::from(self.cmd(args));
        c.output().await.expect("run incus-ai").into()
    }
}

/// A self-signed certificate and key (PEM) valid from `from_days` to `to_days` relative to now.
pub fn certificate(cn: &str, from_days: i64, to_days: i64) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec![cn.to_string()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now + time::Duration::days(from_days);
    params.not_after = now + time::Duration::days(to_days);
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// An incus CLI configuration folder (`INCUS_CONF`) with one TLS remote `name` at `addr`,
/// the client's certificate and key, and the server's pinned certificate.
pub fn write_remote(dir: &Path, name: &str, addr: &str, cert: &str, key: &str, server_cert: &str) {
    std::fs::create_dir_all(dir.join("servercerts")).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        format!("default-remote: local\nremotes:\n  {name}:\n    addr: {addr}\n    auth_type: tls\n    protocol: incus\n"),
    )
    .unwrap();
    std::fs::write(dir.join("client.crt"), cert).unwrap();
    std::fs::write(dir.join("client.key"), key).unwrap();
    std::fs::write(
        dir.join("servercerts").join(format!("{name}.crt")),
        server_cert,
    )
    .unwrap();
}

/// Runs `incus-ai` with the Incus socket at `socket`.
pub async fn run_with_socket(env: &Env, socket: &Path, args: &[&str]) -> Run {
    let mut c = tokio::process::Command::from(env.cmd(args));
    c.env("INCUS_SOCKET", socket);
    c.output().await.expect("run incus-ai").into()
}
