//! `incus-ai review`

use super::remote::RemoteArgs;
use super::{Context, Failure, exit, print_json};
use crate::diagnosis::cluster::EndpointError;
use crate::diagnosis::review::{self, Report};

/// Options of `review`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub remote: RemoteArgs,
    /// Only findings about this project (and the cluster as a whole)
    #[arg(long, value_name = "PROJECT")]
    pub project: Option<String>,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}

/// The human rendering.
pub fn render(r: &Report) -> String {
    let summary = super::doctor::Summary {
        remote: &r.remote,
        verdict: if r.findings.is_empty() {
            "nothing to improve found".to_string()
        } else {
            format!("{} suggestion(s)", r.findings.len())
        },
        ran: format!("{} rules", r.rules.len()),
        requests: r.requests,
        elapsed_ms: r.elapsed_ms,
        unreadable: &r.unreadable,
    };
    super::doctor::render_findings(&r.findings) + &summary.lines()
}

pub async fn run(ctx: &Context, args: &Args) -> Result<u8, Failure> {
    let client = args.remote.client()?;
    let searcher = ctx.doc_searcher();
    let judged = crate::app::judge(
        &client,
        &ctx.config.check_settings(),
        true,
        searcher.as_ref(),
    )
    .await?;
    let mut advice = judged.advice;
    if let Some(p) = args.project.as_deref() {
        advice.retain(|f| f.project.as_deref().is_none_or(|fp| fp == p));
    }
    let report = review::Report::of(&judged.state, advice);
    if args.json {
        print_json(&report);
    } else if !ctx.quiet || !report.findings.is_empty() {
        crate::out!("{}", render(&report));
    }
    // Advice, not a verdict: findings exit 0. What could not be read is a failure.
    match EndpointError::summary(&report.unreadable) {
        Some(line) => Err(Failure::new(
            exit::FAILURE,
            format!("review could not read all of {}: {line}", report.remote),
        )),
        None => Ok(exit::OK),
    }
}
