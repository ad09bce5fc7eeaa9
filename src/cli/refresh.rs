//! `incus-ai refresh`

use std::time::Duration;

use super::export::AichatOptions;
use super::mirror::SourceArgs;
use super::{Context, Failure, exit, print_json};
use crate::knowledge::sources::server_config::ServerReference;
use crate::refresh::{self, RefreshError};

impl From<RefreshError> for Failure {
    fn from(e: RefreshError) -> Self {
        Failure::of(exit::FAILURE, &e)
    }
}

/// Options of `refresh`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Skip the AIChat export
    #[arg(long)]
    pub no_export: bool,
    #[command(flatten)]
    pub aichat: AichatOptions,
    /// Wait this many seconds for another run to finish instead of exiting with 75
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    pub wait: u64,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}

pub async fn run(ctx: &Context, args: &Args) -> Result<u8, Failure> {
    let _lock = ctx.data.lock(Duration::from_secs(args.wait))?;
    // The installation as it is now, into the notes this run indexes, and the server's own
    // configuration reference, into the docs (when a server answers).
    let (snapshot, reference) = read_installation(ctx).await;
    let mut mirror = super::mirror::options(ctx, &args.source).await?;
    mirror.server_reference = reference;
    let export = if args.no_export {
        None
    } else {
        Some(args.aichat.options(ctx)?)
    };
    let mut report =
        refresh::run(&ctx.data, &mirror, export.as_ref(), &ctx.index_options()).await?;
    report.snapshot = Some(snapshot);
    super::mirror::print_warnings(&report.mirror);
    if let Some(h) = &report.index.healed {
        crate::errln!("incus-ai: warning: {h}");
    }
    if let Some(why) = &report.index.dense.unavailable {
        crate::errln!("incus-ai: warning: {why}");
    }
    for n in report.export.iter().flat_map(|e| &e.notes) {
        crate::errln!("incus-ai: warning: {n}");
    }
    if args.json {
        print_json(&report);
    } else if !ctx.quiet {
        crate::outln!("{}", report.summary());
        for r in &report.mirror {
            for s in &r.sources {
                if let Some(n) = &s.note {
                    crate::outln!("  note: {n}");
                }
            }
        }
        if let Some(s) = &report.snapshot {
            crate::outln!("  installation: {s}");
        }
        if let Some(e) = &report.export {
            crate::outln!("try: {}", e.try_command);
        }
    }
    if let Some(e) = &report.export {
        super::export::warn_without_serve(ctx, e).await;
    }
    match &report.failed {
        Some(e) => Err(Failure::new(
            exit::FAILURE,
            format!(
                "{e} (kept its last good mirror; the index and AIChat files were updated from it)"
            ),
        )),
        None => Ok(exit::OK),
    }
}

/// Takes the installation snapshot of the default remote (as `incus-ai snapshot` does) and
/// reads its configuration reference; says what happened to the snapshot in one line. No
/// server answering is a note, not a failure.
async fn read_installation(ctx: &Context) -> (String, Option<ServerReference>) {
    let remote = super::remote::RemoteArgs {
        remote: None,
        timeout: 5,
    };
    let client = match remote.client() {
        Ok(client) => client,
        Err(e) => return (snapshot_line(Err(e)), None),
    };
    let taken = super::snapshot::take(&client, &ctx.data.notes()).await;
    let reference = match &taken {
        Ok(_) => crate::app::server_reference(&client).await.ok(),
        Err(_) => None,
    };
    (snapshot_line(taken), reference)
}

fn snapshot_line(taken: Result<(std::path::PathBuf, usize, Option<String>), Failure>) -> String {
    match taken {
        Ok((path, requests, None)) => {
            format!("snapshot {} ({requests} API requests)", path.display())
        }
        Ok((path, requests, Some(line))) => format!(
            "snapshot {} ({requests} API requests), incomplete: {line}",
            path.display()
        ),
        Err(e) => format!(
            "no snapshot taken ({}); the last one, if any, is kept",
            e.message
        ),
    }
}
