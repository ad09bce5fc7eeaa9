//! `incus-ai mirror`

use std::path::PathBuf;
use std::time::Duration;

use super::{Context, Failure, exit, print_json};
use crate::knowledge::mirror::{self, CollectionReport, MirrorOptions};
use crate::knowledge::sources::{FetchContext, Source};

/// Where the docs and notes come from (`mirror` and `refresh`).
#[derive(Debug, Clone, clap::Args)]
pub struct SourceArgs {
    /// Docs source (repeatable): a docs site URL, a .tar.gz URL of the Incus source tree, or a
    /// local doc/ folder [default: from the config file, else the docs site]
    #[arg(long = "source", value_name = "SOURCE")]
    pub sources: Vec<String>,
    /// Folder of your own markdown notes (repeatable) [default: from the config file]
    #[arg(long = "local", value_name = "DIR")]
    pub local: Vec<PathBuf>,
    /// Do not pick the docs matching the local Incus server's version
    #[arg(long)]
    pub no_version_match: bool,
}

/// Options of `mirror`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Wait this many seconds for another run to finish instead of failing at once
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    pub wait: u64,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}

/// Builds the mirror options from the command line and the config file.
pub async fn options(ctx: &Context, args: &SourceArgs) -> Result<MirrorOptions, Failure> {
    let (sources, local, version_match) = (&args.sources, &args.local, !args.no_version_match);
    let cfg = &ctx.config;
    let specs = if sources.is_empty() {
        &cfg.docs.sources
    } else {
        sources
    };
    let docs_sources = specs
        .iter()
        .map(|s| Source::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    let local_dirs = if local.is_empty() {
        cfg.local.dirs.clone()
    } else {
        local.to_vec()
    };
    let server_version = if version_match && cfg.docs.match_server_version {
        crate::diagnosis::incus::socket::local_server_version(Duration::from_secs(2)).await
    } else {
        None
    };
    Ok(MirrorOptions {
        docs_sources,
        fallback: cfg
            .docs
            .fallback
            .as_ref()
            .filter(|f| !f.is_empty())
            .map(PathBuf::from),
        local_dirs,
        server_version,
        server_reference: None,
        ctx: FetchContext {
            crawl: cfg.crawl.options(),
            canonical_base: cfg.docs.canonical_base.clone(),
            cache_dir: ctx.data.cache(),
        },
        quiet: ctx.quiet,
    })
}

/// One line per collection, plus notes.
pub fn print_reports(reports: &[CollectionReport]) {
    for r in reports {
        if let Some(e) = &r.error {
            crate::errln!(
                "{}: FAILED, kept the last good mirror ({} pages): {e}",
                r.collection,
                r.pages
            );
            continue;
        }
        let c = &r.changes;
        let mut line = format!(
            "{}: {} pages ({} added, {} changed, {} removed, {} unchanged) in {:.1}s",
            r.collection,
            r.pages,
            c.added.len(),
            c.changed.len(),
            c.removed.len(),
            c.unchanged,
            r.elapsed_ms as f64 / 1000.0
        );
        if r.requests > 0 {
            line.push_str(&format!(
                ", {} requests ({} not modified)",
                r.requests, r.not_modified
            ));
        }
        crate::outln!("{line}");
        for s in &r.sources {
            if let Some(n) = &s.note {
                crate::outln!("  note: {n}");
            }
        }
        if !r.broken_links.is_empty() {
            crate::outln!(
                "  note: {} broken link(s) on the site skipped, e.g. {}",
                r.broken_links.len(),
                r.broken_links[0]
            );
        }
        for s in &r.skipped {
            crate::outln!("  note: {s}");
        }
    }
}

/// What must be seen even with `--quiet` (the package docs stand in for the site, a damaged
/// mirror was rebuilt), on stderr.
pub fn print_warnings(reports: &[CollectionReport]) {
    for w in reports.iter().flat_map(|r| &r.warnings) {
        crate::errln!("incus-ai: warning: {w}");
    }
}

/// The first collection error as a failure.
pub fn first_failure(reports: &[CollectionReport]) -> Option<Failure> {
    reports
        .iter()
        .find_map(|r| r.error.as_ref().map(|e| Failure::new(exit::FAILURE, e)))
}

pub async fn run(ctx: &Context, args: &Args) -> Result<u8, Failure> {
    let _lock = ctx.data.lock(Duration::from_secs(args.wait))?;
    let opts = options(ctx, &args.source).await?;
    let reports = mirror::run(&ctx.data, &opts).await;
    print_warnings(&reports);
    if args.json {
        print_json(&reports);
    } else if !ctx.quiet {
        print_reports(&reports);
    }
    match first_failure(&reports) {
        Some(f) => Err(f),
        None => Ok(exit::OK),
    }
}
