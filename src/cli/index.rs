//! `incus-ai index`

use std::time::Duration;

use super::{Context, Failure, exit, print_json};
use crate::knowledge::index::build::{IndexReport, update};
use crate::knowledge::index::dense::DenseReport;

/// Options of `index`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Wait this many seconds for another run to finish instead of failing at once
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    pub wait: u64,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}

/// One line for humans.
pub fn describe(r: &IndexReport) -> String {
    if r.pages_added + r.pages_updated + r.pages_removed == 0 && !r.rebuilt {
        return format!(
            "index: up to date, {} pages, {} sections",
            r.pages_total, r.sections_total
        );
    }
    format!(
        "index: {} pages, {} sections ({}{} added, {} updated, {} removed; {} sections written) in {:.2}s{}",
        r.pages_total,
        r.sections_total,
        if r.rebuilt { "rebuilt; " } else { "" },
        r.pages_added,
        r.pages_updated,
        r.pages_removed,
        r.sections_written,
        r.elapsed_ms as f64 / 1000.0,
        describe_dense(&r.dense)
    )
}

/// The dense half in a few words: vectors and what they cost, or why there are none.
fn describe_dense(d: &DenseReport) -> String {
    match &d.model {
        Some(m) => format!(
            "; {} vectors by {m} ({} embedded in {:.1}s, {} from the cache)",
            d.vectors,
            d.embedded,
            d.embed_ms as f64 / 1000.0,
            d.cached
        ),
        None if d.unavailable.is_some() => "; BM25 only (no embedding model)".to_string(),
        None => String::new(),
    }
}

pub fn run(ctx: &Context, args: &Args) -> Result<u8, Failure> {
    let _lock = ctx.data.lock(Duration::from_secs(args.wait))?;
    let report = update(&ctx.data, &ctx.index_options())?;
    if let Some(h) = &report.healed {
        crate::errln!("incus-ai: warning: {h}");
    }
    if let Some(why) = &report.dense.unavailable {
        crate::errln!("incus-ai: warning: {why}");
    }
    if args.json {
        print_json(&report);
    } else if !ctx.quiet {
        crate::outln!("{}", describe(&report));
    }
    Ok(exit::OK)
}
