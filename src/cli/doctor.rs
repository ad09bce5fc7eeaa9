//! `incus-ai doctor`

use super::remote::RemoteArgs;
use super::{Context, Failure, exit, print_json};
use crate::diagnosis::checks::{Finding, Settings};
use crate::diagnosis::cluster::EndpointError;
use crate::diagnosis::doctor::{self, Report};

/// Options of `doctor`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub remote: RemoteArgs,
    /// Only findings about this cluster member (and the cluster as a whole)
    #[arg(long, value_name = "NAME")]
    pub member: Option<String>,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}

/// Findings for people, one block each (doctor's and review's).
pub fn render_findings(findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        out.push_str(&f.render_text());
        out.push('\n');
    }
    out
}

/// The human rendering.
pub fn render(r: &Report) -> String {
    let mut out = render_findings(&r.findings);
    let mut by: Vec<String> = Vec::new();
    for sev in ["critical", "high", "moderate", "low"] {
        let n = r
            .findings
            .iter()
            .filter(|f| f.severity.as_str() == sev)
            .count();
        if n > 0 {
            by.push(format!("{n} {sev}"));
        }
    }
    out.push_str(&format!(
        "{}: {} from {} checks, {} API requests, {:.2}s\n",
        r.remote,
        if r.findings.is_empty() && !r.complete {
            "could not check everything, so no verdict".to_string()
        } else if r.findings.is_empty() {
            "nothing wrong found".to_string()
        } else {
            format!("{} finding(s) ({})", r.findings.len(), by.join(", "))
        },
        r.checks.len(),
        r.requests,
        r.elapsed_ms as f64 / 1000.0
    ));
    if let Some(line) = EndpointError::summary(&r.unreadable) {
        out.push_str(&format!("{line}\n"));
    }
    out
}

pub async fn run(ctx: &Context, args: &Args) -> Result<u8, Failure> {
    let client = args.remote.client()?;
    let searcher = ctx.doc_searcher();
    let (report, _) = doctor::run(
        &client,
        searcher.as_ref(),
        Settings::default(),
        args.member.as_deref(),
    )
    .await?;
    if searcher.is_none() && !report.findings.is_empty() && !ctx.quiet && !args.json {
        crate::errln!(
            "incus-ai: no docs index yet, findings come without doc links (run `incus-ai refresh`)"
        );
    }
    if args.json {
        print_json(&report);
    } else if !ctx.quiet || !report.findings.is_empty() {
        crate::out!("{}", render(&report));
    }
    if !report.findings.is_empty() {
        return Ok(exit::FINDINGS);
    }
    // Unread endpoints are not health: a cron job must not read this as "all is well".
    match EndpointError::summary(&report.unreadable) {
        Some(line) => Err(Failure::new(
            exit::FAILURE,
            format!("doctor could not check {}: {line}", report.remote),
        )),
        None => Ok(exit::OK),
    }
}
