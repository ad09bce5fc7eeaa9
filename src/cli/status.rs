//! `incus-ai status`

use super::remote::RemoteArgs;
use super::{Context, Failure, exit, print_json};
use crate::diagnosis::cluster::{GatherOptions, gather};
use crate::diagnosis::status::{render, summarize};

/// Options of `status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub remote: RemoteArgs,
    /// Print the status as JSON
    #[arg(long)]
    pub json: bool,
}

pub async fn run(_ctx: &Context, args: &Args) -> Result<u8, Failure> {
    let client = args.remote.client()?;
    let state = gather(&client, &GatherOptions::default()).await?;
    let status = summarize(&state);
    if args.json {
        print_json(&status);
    } else {
        crate::out!("{}", render(&status));
    }
    Ok(exit::OK)
}
