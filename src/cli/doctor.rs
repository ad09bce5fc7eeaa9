//! `incus-ai doctor`

use super::remote::RemoteArgs;
use super::{Context, Failure, exit, print_json};
use crate::diagnosis::checks::Finding;
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
    let verdict = if r.findings.is_empty() && !r.complete {
        "could not check everything, so no verdict".to_string()
    } else if r.findings.is_empty() {
        "nothing wrong found".to_string()
    } else {
        format!("{} finding(s) ({})", r.findings.len(), by.join(", "))
    };
    let summary = Summary {
        remote: &r.remote,
        verdict,
        ran: format!("{} checks", r.checks.len()),
        requests: r.requests,
        elapsed_ms: r.elapsed_ms,
        unreadable: &r.unreadable,
    };
    render_findings(&r.findings) + &summary.lines()
}

/// The closing lines of `doctor` and `review`: what was found, how it was read, what was not.
pub struct Summary<'a> {
    /// The remote read.
    pub remote: &'a str,
    /// What was found, for people.
    pub verdict: String,
    /// How many checks or rules ran (`19 rules`).
    pub ran: String,
    /// API requests sent.
    pub requests: usize,
    /// Wall time.
    pub elapsed_ms: u64,
    /// Endpoints that could not be read.
    pub unreadable: &'a [EndpointError],
}

impl Summary<'_> {
    /// One line, and one more naming what could not be read.
    pub fn lines(&self) -> String {
        let mut out = format!(
            "{}: {} from {}, {} API requests, {:.2}s\n",
            self.remote,
            self.verdict,
            self.ran,
            self.requests,
            self.elapsed_ms as f64 / 1000.0
        );
        if let Some(line) = EndpointError::summary(self.unreadable) {
            out.push_str(&format!("{line}\n"));
        }
        out
    }
}

pub async fn run(ctx: &Context, args: &Args) -> Result<u8, Failure> {
    let client = args.remote.client()?;
    let searcher = ctx.doc_searcher();
    let judged = crate::app::judge(
        &client,
        &ctx.config.check_settings(),
        false,
        searcher.as_ref(),
    )
    .await?;
    let mut findings = judged.faults;
    if let Some(m) = args.member.as_deref() {
        findings.retain(|f| doctor::concerns_member(f, m));
    }
    let report = doctor::Report::of(&judged.state, findings);
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
