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
    /// Only check that a server answers there with the local model (exit 0 if so, 2 if not)
    #[arg(long)]
    pub check: bool,
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
    if args.check {
        return check(addr, &embed::model_id(&dir)).await;
    }
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

/// `serve --check`: does a server answer at `addr` and list the model `id`?
async fn check(addr: SocketAddr, id: &str) -> Result<u8, Failure> {
    let url = format!("http://{addr}/v1/models");
    let client = crate::util::http::client_builder(std::time::Duration::from_secs(3))
        .build()
        .map_err(|e| Failure::new(exit::FAILURE, format!("serve --check: {e}")))?;
    let resp = client.get(&url).send().await.map_err(|_| {
        Failure::new(
            exit::FAILURE,
            format!("serve --check: nothing answers at {url}; start it with `incus-ai serve`"),
        )
    })?;
    if !resp.status().is_success() {
        return Err(Failure::new(
            exit::FAILURE,
            format!(
                "serve --check: {url} answered {}; it is not incus-ai serve",
                resp.status()
            ),
        ));
    }
    let body = crate::util::http::read_body(resp, 1 << 20, "the model list")
        .await
        .unwrap_or_default();
    let listed = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["data"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .any(|m| m["id"].as_str() == Some(id));
    if !listed {
        return Err(Failure::new(
            exit::FAILURE,
            format!("serve --check: {url} does not list {id}; another server holds the port"),
        ));
    }
    crate::outln!("{id} answering at http://{addr}/v1");
    Ok(exit::OK)
}
