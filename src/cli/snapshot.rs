//! `incus-ai snapshot`

use std::path::PathBuf;

use super::remote::RemoteArgs;
use super::{Context, Failure, exit};
use crate::diagnosis::cluster::{GatherOptions, gather};

/// Options of `snapshot`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub remote: RemoteArgs,
    /// Folder to write into [default: incus-ai's notes folder, indexed as `local`]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

pub async fn run(ctx: &Context, args: &Args) -> Result<u8, Failure> {
    let client = args.remote.client()?;
    let state = gather(&client, &GatherOptions::default()).await?;
    let text = crate::diagnosis::snapshot::render(
        &state,
        &crate::util::time::date_time(crate::util::time::now()),
    );
    let dir = args.out.clone().unwrap_or_else(|| ctx.data.notes());
    std::fs::create_dir_all(&dir).map_err(|e| {
        Failure::new(
            exit::FAILURE,
            format!("cannot create {}: {e}", dir.display()),
        )
    })?;
    let name: String = state
        .remote
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = dir.join(format!("installation-{name}.md"));
    let tmp = dir.join(format!(".installation-{name}.md.tmp"));
    std::fs::write(&tmp, text)
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|e| {
            Failure::new(
                exit::FAILURE,
                format!("cannot write {}: {e}", path.display()),
            )
        })?;
    if !ctx.quiet {
        crate::outln!(
            "wrote {} ({} API requests); the next refresh indexes it as local notes",
            path.display(),
            state.requests
        );
    }
    Ok(exit::OK)
}
