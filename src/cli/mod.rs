//! The command line: global options, subcommands, exit codes and one-line errors.

mod ask;
mod audit;
mod doctor;
mod export;
mod index;
mod mirror;
mod refresh;
mod remote;
mod review;
mod search;
mod serve;
mod snapshot;
mod status;
mod watch;
mod watch_status;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgAction, Parser, Subcommand};

use crate::config::Config;
use crate::util::paths::{self, DataDir};

/// Exit codes, documented in the README.
pub mod exit {
    /// Success (for `doctor`: nothing wrong).
    pub const OK: u8 = 0;
    /// `doctor`: findings were reported.
    pub const FINDINGS: u8 = 1;
    /// Failure: bad input, unreachable source, could not check.
    pub const FAILURE: u8 = 2;
    /// Another run holds the lock (EX_TEMPFAIL): try again later.
    pub const BUSY: u8 = 75;
}

/// incus-ai: the Incus docs and your own notes, searchable and in AIChat; diagnosis of live clusters.
#[derive(Debug, Parser)]
#[command(name = "incus-ai", version, about, long_about = None)]
pub struct Cli {
    /// Where mirrors, the index and notes live [default: $XDG_DATA_HOME/incus-ai]
    #[arg(long, global = true, env = "INCUS_AI_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Configuration file (TOML) [default: $XDG_CONFIG_HOME/incus-ai/config.toml]
    #[arg(long, global = true, env = "INCUS_AI_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print only errors (no progress bars, no summaries)
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More detail on stderr (-v, -vv)
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Fetch the documentation and local notes into the local mirror; say what changed
    Mirror(mirror::Args),
    /// Build or update the search index from the mirror (only changed pages are re-indexed)
    Index(index::Args),
    /// Search the docs and local notes
    Search(search::Args),
    /// The cluster at a glance: members, warnings, instances, pools, networks
    Status(status::Args),
    /// Find what is wrong with the cluster, with evidence, doc links and fixes (exit 1 on findings)
    Doctor(doctor::Args),
    /// What works today but will hurt tomorrow: best-practice findings from the Incus docs (exit 0)
    Review(review::Args),
    /// Write the installation and configuration as markdown into the local notes
    Snapshot(snapshot::Args),
    /// Export the docs and notes for other tools
    #[command(subcommand)]
    Export(export::Target),
    /// Mirror, index and export to AIChat in one run (for cron and systemd timers)
    Refresh(refresh::Args),
    /// Ask why something is wrong: an LLM agent reads the cluster and the docs (read-only
    /// unless --allow-changes, then each change needs your yes)
    Ask(ask::Args),
    /// Serve the agent's tools over MCP (stdio; change tools only with --allow-changes)
    Mcp(ask::McpArgs),
    /// The changes proposed so far, with what became of each (audit.jsonl in the data dir)
    Audit(audit::Args),
    /// Serve the local embedding model as an OpenAI-compatible endpoint (for AIChat)
    Serve(serve::Args),
    /// The doctor on duty: checks every interval and on Incus's events, alerts to
    /// Alertmanager, webhooks, ntfy and the notes, resolved by themselves, never lost
    Watch(watch::Args),
    /// Run one agent tool (used by the AIChat agent's tool scripts)
    #[command(hide = true)]
    Tool(ask::ToolArgs),
}

/// A failed command: the exit code and a one-line message.
#[derive(Debug)]
pub struct Failure {
    /// Exit code.
    pub code: u8,
    /// One line, naming the thing and the fix.
    pub message: String,
}

impl Failure {
    fn new(code: u8, message: impl std::fmt::Display) -> Self {
        Failure {
            code,
            message: message.to_string().replace('\n', " "),
        }
    }

    /// An error and its causes on one line (`what failed: why: deeper why`).
    pub fn of(code: u8, e: &(dyn std::error::Error + 'static)) -> Self {
        Failure::new(code, crate::util::text::error_chain(e))
    }
}

impl From<crate::util::lock::LockError> for Failure {
    fn from(e: crate::util::lock::LockError) -> Self {
        let code = match e {
            crate::util::lock::LockError::Busy { .. } => exit::BUSY,
            _ => exit::FAILURE,
        };
        Failure::of(code, &e)
    }
}

macro_rules! failure_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Failure {
            fn from(e: $t) -> Self {
                Failure::of(exit::FAILURE, &e)
            }
        }
    )*};
}
failure_from!(
    crate::agent::aichat_agent::AgentError,
    crate::config::ConfigError,
    crate::knowledge::index::IndexError,
    crate::knowledge::sources::SourceError,
    std::io::Error
);

/// What every command gets: the data dir, the configuration and the output settings.
pub struct Context {
    /// The data directory.
    pub data: DataDir,
    /// The configuration.
    pub config: Config,
    /// `--quiet`.
    pub quiet: bool,
}

impl Context {
    /// The embedding model folder of hybrid search (`None` when `[embeddings] enabled = false`).
    pub fn model_dir(&self) -> Option<std::path::PathBuf> {
        self.config.embeddings.model_dir()
    }

    /// The docs index for a short-lived command's few searches (doc links of findings): hybrid,
    /// with queries embedded by a running `incus-ai serve` when one answers. `None` without an
    /// index.
    pub fn doc_searcher(&self) -> Option<crate::knowledge::index::Searcher> {
        let s = crate::knowledge::index::Searcher::open(
            &self.data.index(),
            self.model_dir().as_deref(),
        )
        .ok()?;
        Some(match serve::listen_addr(self, None) {
            Ok(addr) => s.with_query_server(addr),
            Err(_) => s,
        })
    }

    /// How index updates run here.
    pub fn index_options(&self) -> crate::knowledge::index::build::IndexOptions {
        crate::knowledge::index::build::IndexOptions {
            quiet: self.quiet,
            model_dir: self.model_dir(),
        }
    }
}

impl Cli {
    fn context(&self) -> Result<Context, Failure> {
        if let Some(problem) = paths::home_problem() {
            return Err(Failure::new(exit::FAILURE, problem));
        }
        let (path, explicit) = match &self.config {
            Some(p) => (p.clone(), true),
            None => (paths::default_config_file(), false),
        };
        let config = Config::load(&path, explicit)?;
        let data = DataDir::new(
            self.data_dir
                .clone()
                .unwrap_or_else(paths::default_data_dir),
        );
        Ok(Context {
            data,
            config,
            quiet: self.quiet,
        })
    }
}

/// Prints a value as pretty JSON on stdout (control characters are escaped by JSON itself).
pub fn print_json<T: serde::Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => crate::util::out::print_raw(&format!("{s}\n")),
        Err(e) => crate::errln!("incus-ai: cannot write the report as JSON: {e}"),
    }
}

/// Log lines on stderr, cleaned of terminal controls (they can quote servers and docs).
struct CleanStderr;

impl std::io::Write for CleanStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(crate::util::out::clean(&text).as_bytes())?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// A panic is a bug: one line on stderr, no backtrace, whatever `RUST_BACKTRACE` says.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        crate::errln!("incus-ai: internal error: {what}{at} (a bug; please report it)");
    }));
}

fn init_logging(quiet: bool, verbose: u8) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("INCUS_AI_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("incus_ai={level}")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| CleanStderr)
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .try_init();
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    // SAFETY: the first thing the process does, while it has one thread.
    unsafe { crate::knowledge::embed::fix_thread_count() };
    install_panic_hook();
    let cli = Cli::parse();
    init_logging(cli.quiet, cli.verbose);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build();
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            crate::errln!("incus-ai: cannot start the async runtime: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    let result = runtime.block_on(async {
        let ctx = cli.context()?;
        match &cli.command {
            Command::Mirror(a) => mirror::run(&ctx, a).await,
            Command::Index(a) => index::run(&ctx, a),
            Command::Search(a) => search::run(&ctx, a),
            Command::Status(a) => status::run(&ctx, a).await,
            Command::Doctor(a) => doctor::run(&ctx, a).await,
            Command::Review(a) => review::run(&ctx, a).await,
            Command::Snapshot(a) => snapshot::run(&ctx, a).await,
            Command::Export(t) => export::run(&ctx, t).await,
            Command::Refresh(a) => refresh::run(&ctx, a).await,
            Command::Watch(a) => watch::run(&ctx, a).await,
            Command::Ask(a) => ask::run(&ctx, a).await,
            Command::Mcp(a) => ask::mcp(&ctx, a).await,
            Command::Audit(a) => audit::run(&ctx, a),
            Command::Serve(a) => serve::run(&ctx, a).await,
            Command::Tool(a) => ask::tool(&ctx, a).await,
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            crate::errln!("incus-ai: {}", crate::util::out::one_line(&f.message));
            ExitCode::from(f.code)
        }
    }
}
