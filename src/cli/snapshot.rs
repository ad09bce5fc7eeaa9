//! `incus-ai snapshot`

use std::path::{Path, PathBuf};

use super::remote::RemoteArgs;
use super::{Context, Failure, exit};
use crate::diagnosis::cluster::{GatherOptions, gather};
use crate::diagnosis::incus::Client;

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
    let dir = args.out.clone().unwrap_or_else(|| ctx.data.notes());
    let (path, requests, incomplete) = take(&client, &dir).await?;
    if let Some(line) = incomplete {
        crate::errln!("incus-ai: warning: the snapshot is incomplete: {line}");
    }
    if !ctx.quiet {
        crate::outln!(
            "wrote {} ({requests} API requests); the next refresh indexes it as local notes",
            path.display(),
        );
    }
    Ok(exit::OK)
}

/// Reads the installation behind `client` (what `review` reads too, for its section) and
/// writes its snapshot into `dir`: the path, the API requests it took, and what could not be
/// read.
pub async fn take(
    client: &Client,
    dir: &Path,
) -> Result<(PathBuf, usize, Option<String>), Failure> {
    let opts = GatherOptions {
        review: true,
        ..GatherOptions::default()
    };
    let state = gather(client, &opts).await?;
    let taken = crate::util::time::date_time(crate::util::time::now());
    let (path, _) = crate::diagnosis::snapshot::write(dir, &state, &taken).map_err(|e| {
        Failure::new(
            exit::FAILURE,
            format!(
                "cannot write the installation snapshot into {}: {e}",
                dir.display()
            ),
        )
    })?;
    Ok((
        path,
        state.requests,
        crate::diagnosis::cluster::EndpointError::summary(&state.errors),
    ))
}
