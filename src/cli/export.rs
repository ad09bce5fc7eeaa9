//! `incus-ai export aichat`

use std::path::PathBuf;
use std::time::Duration;

use super::{Context, Failure, exit, print_json};
use crate::aichat::rag::{self as export, ExportError, ExportOptions, ExportReport};

impl From<ExportError> for Failure {
    fn from(e: ExportError) -> Self {
        Failure::of(exit::FAILURE, &e)
    }
}

/// Where to export to.
#[derive(Debug, clap::Subcommand)]
pub enum Target {
    /// AIChat RAG files (`aichat --rag incus`) and an AIChat role
    Aichat(AichatArgs),
    /// An AIChat agent (`aichat --agent incus`) with incus-ai's read-only tools and the docs RAG
    AichatAgent(AgentArgs),
    /// Prometheus alerting rules for Incus's own /1.0/metrics (checked by `promtool check rules`)
    PrometheusRules(RulesArgs),
}

/// Options of `export prometheus-rules`.
#[derive(Debug, clap::Args)]
pub struct RulesArgs {
    /// Write the rules to this file (atomically) instead of standard output
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
}

fn rules(args: &RulesArgs) -> Result<u8, Failure> {
    let text = crate::watch::rules::PROMETHEUS_RULES;
    match &args.out {
        None => crate::util::out::print_raw(text),
        Some(path) => crate::util::fsx::write_atomic(path, text.as_bytes()).map_err(|e| {
            Failure::new(
                exit::FAILURE,
                format!("cannot write {}: {e}", path.display()),
            )
        })?,
    }
    Ok(exit::OK)
}

/// Options of `export aichat-agent`.
#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    /// Agent name
    #[arg(long, default_value = "incus")]
    pub name: String,
    /// Remote the agent's tools read (as in `incus remote list`) [default: the default remote]
    #[arg(long, value_name = "NAME")]
    pub remote: Option<String>,
    /// Add the change tools: each asks on the terminal (/dev/tty, default No), is refused
    /// without one, and tells the model when it was declined
    #[arg(long)]
    pub allow_changes: bool,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}

/// Options of the AIChat export, shared with `refresh`.
#[derive(Debug, Clone, clap::Args)]
pub struct AichatOptions {
    /// RAG name: writes NAME.yaml (docs) and NAME-local.yaml (local notes)
    #[arg(long, default_value = "incus")]
    pub name: String,
    /// Folder for the RAG files [default: AIChat's rags dir]
    #[arg(long, value_name = "DIR")]
    pub rags_dir: Option<PathBuf>,
    /// Embedding model as CLIENT:MODEL [default: AIChat's rag_embedding_model]
    #[arg(long, value_name = "CLIENT:MODEL")]
    pub embedding_model: Option<String>,
    /// Chunk size in bytes [default: AIChat's rag_chunk_size, else the model's, else 2000]
    #[arg(long, value_name = "BYTES")]
    pub chunk_size: Option<usize>,
    /// When AIChat has no embedding model: add incus-ai's own (served by `incus-ai serve`) to
    /// AIChat's config.yaml, keeping a backup, and use it
    #[arg(long)]
    pub use_local_model: bool,
}

impl AichatOptions {
    /// The library options.
    pub fn options(&self, ctx: &Context) -> Result<ExportOptions, Failure> {
        let local_model = match ctx.model_dir() {
            Some(dir) => Some(export::LocalModel {
                dir,
                api_base: format!("http://{}/v1", super::serve::listen_addr(ctx, None)?),
            }),
            None => None,
        };
        Ok(ExportOptions {
            name: self.name.clone(),
            rags_dir: self.rags_dir.clone(),
            embedding_model: self.embedding_model.clone(),
            chunk_size: self.chunk_size,
            local_model,
            use_local_model: self.use_local_model,
        })
    }
}

/// Options of `export aichat`.
#[derive(Debug, clap::Args)]
pub struct AichatArgs {
    #[command(flatten)]
    pub aichat: AichatOptions,
    /// Wait this many seconds for another run to finish instead of failing at once
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    pub wait: u64,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}

/// Lines for humans.
pub fn describe(r: &ExportReport) -> String {
    let mut out = String::new();
    for rag in &r.rags {
        out.push_str(&format!(
            "aichat: {} ({} pages, {} chunks){}\n",
            rag.path.display(),
            rag.pages,
            rag.chunks,
            if rag.changed { "" } else { ", unchanged" }
        ));
    }
    out.push_str(&format!(
        "aichat: {} chunks embedded with {} ({}), {} from the cache, in {:.1}s\n",
        r.embedded,
        r.embedding_model,
        if r.in_process {
            "in process".to_string()
        } else {
            format!("{} calls", r.embedding_calls)
        },
        r.cached,
        r.elapsed_ms as f64 / 1000.0
    ));
    for n in &r.notes {
        out.push_str(&format!("aichat: note: {n}\n"));
    }
    if let Some(role) = &r.role {
        out.push_str(&format!("aichat: role {}\n", role.display()));
    }
    out.push_str(&format!("try: {}\n", r.try_command));
    out
}

pub async fn run(ctx: &Context, target: &Target) -> Result<u8, Failure> {
    let args = match target {
        Target::Aichat(a) => a,
        Target::AichatAgent(a) => return agent(ctx, a),
        Target::PrometheusRules(a) => return rules(a),
    };
    let _lock = ctx.data.lock(Duration::from_secs(args.wait))?;
    let report = export::export(&ctx.data, &args.aichat.options(ctx)?).await?;
    if args.json {
        print_json(&report);
    } else if !ctx.quiet {
        crate::out!("{}", describe(&report));
    }
    warn_without_serve(ctx, &report).await;
    Ok(exit::OK)
}

/// When AIChat needs `incus-ai serve` for these RAG files and it does not answer, says so in
/// one line with the fix (even with `-q`: `aichat --rag` would fail).
pub async fn warn_without_serve(ctx: &Context, report: &export::ExportReport) {
    let (Some(dir), Ok(addr)) = (ctx.model_dir(), super::serve::listen_addr(ctx, None)) else {
        return;
    };
    if !report.needs_serve() {
        return;
    }
    let id = crate::knowledge::embed::model_id(&dir);
    if let Err(why) = super::serve::answers(addr, &id).await {
        crate::errln!(
            "incus-ai: warning: `aichat --rag {}` needs `incus-ai serve`: {why}",
            report.rags.first().map_or("incus", |r| r.name.as_str())
        );
    }
}

fn agent(ctx: &Context, args: &AgentArgs) -> Result<u8, Failure> {
    let exe = std::env::current_exe().map_err(|e| {
        Failure::new(
            exit::FAILURE,
            format!("cannot find the incus-ai binary: {e}"),
        )
    })?;
    let data = std::path::absolute(&ctx.data.root).unwrap_or(ctx.data.root.clone());
    let report = crate::agent::aichat_agent::install(
        &args.name,
        &exe,
        &data,
        args.remote.as_deref(),
        args.allow_changes,
    )?;
    if args.json {
        print_json(&report);
    } else if !ctx.quiet {
        crate::outln!(
            "aichat agent {}: {} ({} tools)",
            report.name,
            report.functions_dir.display(),
            report.tools.len()
        );
        match &report.rag {
            Some(r) => crate::outln!("aichat agent {}: docs RAG {}", report.name, r.display()),
            None => crate::outln!(
                "aichat agent {}: no docs RAG yet (run `incus-ai export aichat` first)",
                report.name
            ),
        }
        if let Some(w) = &report.warning {
            crate::outln!("note: {w}");
        }
        crate::outln!("try: {}", report.try_command);
    }
    Ok(exit::OK)
}
