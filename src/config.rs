//! The TOML configuration file (`--config`, `INCUS_AI_CONFIG`, default under `$XDG_CONFIG_HOME`).
//!
//! Every key is optional; a missing file means all defaults.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The docs site mirrored when no source is configured.
pub const DEFAULT_DOCS_SITE: &str = "https://linuxcontainers.org/incus/docs/main/";
/// Where Debian's `incus-base` package installs the docs of the installed version.
pub const DEFAULT_PACKAGE_DOCS: &str = "/usr/share/doc/incus-base";

/// Errors reading the configuration file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but cannot be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown keys.
    #[error("config file {path}: {message} (fix the file or point --config elsewhere)")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, on one line.
        message: String,
    },
}

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Documentation sources.
    pub docs: DocsConfig,
    /// Local notes.
    pub local: LocalConfig,
    /// Crawler limits.
    pub crawl: CrawlConfig,
    /// Search defaults.
    pub search: SearchConfig,
    /// The chat model of `ask`.
    pub llm: LlmConfig,
    /// The local embedding model of hybrid search.
    pub embeddings: EmbeddingsConfig,
    /// How changes are asked about (`--allow-changes`).
    pub changes: ChangesConfig,
    /// `incus-ai watch`: how often, and where alerts go.
    pub watch: WatchConfig,
    /// The checks' thresholds (doctor, watch, the agent).
    pub checks: ChecksConfig,
}

/// `[checks]`: the thresholds of the doctor's checks, in one place for every command, the
/// watch and the agent.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChecksConfig {
    /// A pool at or above this share of space or inodes used is full (percent).
    pub pool_full_percent: f64,
    /// Certificates expiring within this many days are reported.
    pub certificate_days: i64,
    /// Project usage at or above this share of a limit is reported (percent).
    pub project_percent: f64,
    /// A task running longer than this is stuck (seconds).
    pub operation_stuck_secs: i64,
}

impl Default for ChecksConfig {
    fn default() -> Self {
        let d = crate::diagnosis::checks::Settings::default();
        ChecksConfig {
            pool_full_percent: d.pool_full_percent,
            certificate_days: d.certificate_days,
            project_percent: d.project_percent,
            operation_stuck_secs: d.operation_stuck_secs,
        }
    }
}

impl Config {
    /// The checks' settings (the one place they are made).
    pub fn check_settings(&self) -> crate::diagnosis::checks::Settings {
        let c = &self.checks;
        crate::diagnosis::checks::Settings {
            pool_full_percent: c.pool_full_percent.clamp(1.0, 100.0),
            certificate_days: c.certificate_days.max(0),
            project_percent: c.project_percent.clamp(1.0, 100.0),
            operation_stuck_secs: c.operation_stuck_secs.max(1),
        }
    }
}

/// `[watch]`: the doctor on duty.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WatchConfig {
    /// Seconds between two runs of the checks.
    pub interval_secs: u64,
    /// Seconds between two runs of the review's rules.
    pub review_every_secs: u64,
    /// Complete reads a finding must be absent from before it resolves.
    pub resolve_after: u32,
    /// Seconds between two sends of the alerts that still fire (Alertmanager forgets an alert
    /// that is not sent again).
    pub resend_secs: u64,
    /// Where alerts go.
    pub notify: Vec<SinkConfig>,
}

impl Default for WatchConfig {
    fn default() -> Self {
        WatchConfig {
            interval_secs: 60,
            review_every_secs: 86_400,
            resolve_after: 2,
            resend_secs: 60,
            notify: Vec::new(),
        }
    }
}

/// `[[watch.notify]]`: one place alerts go.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    /// `alertmanager`, `webhook`, `ntfy`, `heartbeat` or `notes`.
    pub kind: String,
    /// Where (not for `notes`).
    #[serde(default)]
    pub url: Option<String>,
    /// Alerts below this severity are not sent [default: moderate].
    #[serde(default)]
    pub min_severity: Option<String>,
    /// Environment variable holding the webhook's HMAC secret.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// Environment variable holding ntfy's access token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// Whether the review's advice goes here too (webhooks; the notes always get it).
    #[serde(default)]
    pub review: bool,
}

/// `[changes]`: how a change is asked about. There is deliberately no setting that answers
/// yes: only a person at the terminal does.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChangesConfig {
    /// Seconds a question waits for its answer before the change is declined [default: 120].
    pub answer_timeout_secs: Option<u64>,
}

/// `[embeddings]`: the sentence-embedding model run in process for hybrid search.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddingsConfig {
    /// `false` for BM25 search alone.
    pub enabled: bool,
    /// The model folder (sentence-transformers layout) [default: INCUS_AI_MODEL_DIR, else
    /// `$XDG_DATA_HOME/incus-ai/models/all-MiniLM-L6-v2`].
    pub model_dir: Option<std::path::PathBuf>,
    /// Where `incus-ai serve` listens (`export aichat --use-local-model` points AIChat there).
    pub listen: Option<String>,
}

impl Default for EmbeddingsConfig {
    fn default() -> Self {
        EmbeddingsConfig {
            enabled: true,
            model_dir: None,
            listen: None,
        }
    }
}

impl EmbeddingsConfig {
    /// The model folder to use, `None` when dense search is off.
    pub fn model_dir(&self) -> Option<std::path::PathBuf> {
        self.enabled
            .then(|| crate::knowledge::embed::model_dir(self.model_dir.as_deref()))
    }
}

/// `[llm]`: the chat model `ask` uses. Either an OpenAI-compatible endpoint, or the name of a
/// model configured in AIChat (`aichat_model = "client:model"`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    /// `http://127.0.0.1:11434/v1`, `https://api.openai.com/v1`, …
    pub api_base: Option<String>,
    /// Model name.
    pub model: Option<String>,
    /// Bearer token (prefer `api_key_env`).
    pub api_key: Option<String>,
    /// Environment variable holding the token.
    pub api_key_env: Option<String>,
    /// A model from AIChat's config.yaml, `client:model`.
    pub aichat_model: Option<String>,
    /// Tool-calling rounds before the model must answer.
    pub max_steps: Option<usize>,
    /// Rough token budget of one question (context included).
    pub token_budget: Option<usize>,
}

/// `[docs]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DocsConfig {
    /// Sources of the `docs` collection: docs site URLs, `.tar.gz` URLs of the Incus source tree,
    /// or local directories of markdown.
    pub sources: Vec<String>,
    /// Docs used when a docs site cannot be reached (the installed package's docs); `""` for none.
    pub fallback: Option<String>,
    /// Pick the docs matching the reachable Incus server's version (`6.0.x` → `stable-6.0`).
    pub match_server_version: bool,
    /// Base URL of the published docs, for canonical links of pages read from markdown.
    pub canonical_base: String,
}

impl Default for DocsConfig {
    fn default() -> Self {
        DocsConfig {
            sources: vec![DEFAULT_DOCS_SITE.to_string()],
            fallback: Some(DEFAULT_PACKAGE_DOCS.to_string()),
            match_server_version: true,
            canonical_base: DEFAULT_DOCS_SITE.to_string(),
        }
    }
}

/// `[local]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocalConfig {
    /// Folders of the site's own markdown notes (besides incus-ai's own notes folder).
    pub dirs: Vec<PathBuf>,
}

/// `[crawl]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CrawlConfig {
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Timeout of one request, in seconds.
    pub timeout_secs: u64,
    /// Largest page accepted, in bytes.
    pub max_page_bytes: usize,
    /// Most pages fetched from one site.
    pub max_pages: usize,
    /// Path prefixes (relative to the start URL) that are never fetched.
    pub exclude: Vec<String>,
}

impl CrawlConfig {
    /// The crawler's limits.
    pub fn options(&self) -> crate::knowledge::sources::site::crawl::CrawlOptions {
        crate::knowledge::sources::site::crawl::CrawlOptions {
            concurrency: self.concurrency,
            timeout: std::time::Duration::from_secs(self.timeout_secs.max(1)),
            max_page_bytes: self.max_page_bytes,
            max_pages: self.max_pages,
            exclude: self.exclude.clone(),
        }
    }
}

impl Default for CrawlConfig {
    fn default() -> Self {
        CrawlConfig {
            concurrency: 8,
            timeout_secs: 30,
            max_page_bytes: 8 << 20,
            max_pages: 5000,
            exclude: [
                "_static/",
                "_sources/",
                "_images/",
                "genindex/",
                "search/",
                "404/",
                "api/",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

/// `[search]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchConfig {
    /// Results printed by `search` without `--limit`.
    pub limit: usize,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig { limit: 10 }
    }
}

/// Largest configuration file read.
pub const MAX_CONFIG_BYTES: usize = 1 << 20;

impl Config {
    /// Loads the file; a missing file gives the defaults unless it was named explicitly.
    pub fn load(path: &Path, explicit: bool) -> Result<Config, ConfigError> {
        // `/dev/null`: no configuration, as tools take it.
        if path == Path::new("/dev/null") {
            return Ok(Config::default());
        }
        // Read as every other input: a regular file (a FIFO or device is refused, not waited
        // on), bounded.
        let read = crate::util::fsx::read_regular(path, MAX_CONFIG_BYTES).and_then(|b| {
            String::from_utf8(b)
                .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
        });
        let text = match read {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
                return Ok(Config::default());
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.message().replace('\n', " "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_default_file_gives_defaults_but_missing_named_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("none.toml");
        assert_eq!(
            Config::load(&p, false).unwrap().docs.sources,
            vec![DEFAULT_DOCS_SITE]
        );
        assert!(Config::load(&p, true).is_err());
    }

    #[test]
    fn only_regular_bounded_files_are_read() {
        let e = Config::load(Path::new("/dev/zero"), true)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/dev/zero") && e.contains("not a regular file"),
            "{e}"
        );
        assert!(Config::load(Path::new("/dev/null"), true).is_ok());
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.toml");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = Config::load(&fifo, true).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        let big = dir.path().join("big.toml");
        std::fs::write(&big, vec![b'#'; MAX_CONFIG_BYTES + 1]).unwrap();
        let e = Config::load(&big, true).unwrap_err().to_string();
        assert!(e.contains("larger than"), "{e}");
    }

    #[test]
    fn unknown_keys_are_rejected_with_the_file_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "[docs]\nsoruces = []\n").unwrap();
        let e = Config::load(&p, true).unwrap_err().to_string();
        assert!(e.contains("c.toml") && e.contains("soruces"), "{e}");
    }

    #[test]
    fn partial_files_keep_other_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "[crawl]\nconcurrency = 2\n").unwrap();
        let c = Config::load(&p, true).unwrap();
        assert_eq!(c.crawl.concurrency, 2);
        assert_eq!(c.crawl.timeout_secs, 30);
    }
}
