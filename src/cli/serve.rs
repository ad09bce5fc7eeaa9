//! `incus-ai serve`

use std::net::SocketAddr;

use super::{Context, Failure, exit};
use crate::aichat::serve::{self, DEFAULT_LISTEN, Served};
use crate::knowledge::embed::{self, LocalModel};

/// Options of `serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Loopback address to listen on [default: [embeddings] listen, else 127.0.0.1:8765]
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
}

/// The address `serve` listens on with this configuration.
pub fn listen_addr(ctx: &Context, given: Option<SocketAddr>) -> Result<SocketAddr, Failure> {
    if let Some(a) = given {
        return Ok(a);
    }
    let text = ctx
        .config
        .embeddings
        .listen
        .as_deref()
        .unwrap_or(DEFAULT_LISTEN);
    text.parse().map_err(|_| {
        Failure::new(
            exit::FAILURE,
            format!("[embeddings] listen = {text:?} is not an address; write it as 127.0.0.1:8765"),
        )
    })
}

pub async fn run(ctx: &Context, args: &Args) -> Result<u8, Failure> {
    let addr = listen_addr(ctx, args.listen)?;
    let dir = ctx.model_dir().ok_or_else(|| {
        Failure::new(
            exit::FAILURE,
            "the embedding model is turned off ([embeddings] enabled = false); turn it on to serve it",
        )
    })?;
    let model = LocalModel::load(&dir).map_err(|e| Failure::of(exit::FAILURE, &e))?;
    let served = Served::new(std::sync::Arc::new(model), embed::model_id(&dir));
    let quiet = ctx.quiet;
    serve::serve(addr, served, |bound| {
        if !quiet {
            crate::errln!(
                "incus-ai serve: embeddings of {} on http://{bound}/v1",
                embed::model_id(&dir)
            );
        }
    })
    .await
    .map_err(|e| Failure::of(exit::FAILURE, &e))?;
    Ok(exit::OK)
}
