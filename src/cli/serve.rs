//! `incus-ai serve`

use std::net::SocketAddr;

use super::{Context, Failure, exit};
use crate::aichat::serve::{self, DEFAULT_LISTEN, Served};
use crate::knowledge::embed;

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
    // One copy of the model: the reranker's searches embed their queries with it too.
    let model = embed::shared(&dir).map_err(|e| Failure::new(exit::FAILURE, e))?;
    let served =
        Served::new(model, embed::model_id(&dir)).with_index(ctx.data.index(), dir.clone());
    let quiet = ctx.quiet;
    serve::serve(addr, served, |bound| {
        if !quiet {
            crate::errln!(
                "incus-ai serve: embeddings of {} and the reranker on http://{bound}/v1",
                embed::model_id(&dir)
            );
        }
    })
    .await
    .map_err(|e| Failure::of(exit::FAILURE, &e))?;
    Ok(exit::OK)
}

/// How to start `serve`, for messages.
pub const HOW_TO_START: &str = "start it with `systemctl --user enable --now incus-ai-serve` (contrib/incus-ai-serve.service) or `incus-ai serve &`";

/// Whether `incus-ai serve` answers at `addr` with the model `id`; else why not, in one line
/// that says how to fix it.
pub async fn answers(addr: SocketAddr, id: &str) -> Result<(), String> {
    let url = format!("http://{addr}/v1/models");
    let client = crate::util::http::client_builder(std::time::Duration::from_secs(3))
        .build()
        .map_err(|e| e.to_string())?;
    let resp = client
        .get(&url)
        .send()
        .await
        .map_err(|_| format!("nothing answers at {url}; {HOW_TO_START}"))?;
    if !resp.status().is_success() {
        return Err(format!(
            "{url} answered {}; it is not incus-ai serve (another program holds the port: stop it or set [embeddings] listen)",
            resp.status()
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
        return Err(format!(
            "{url} does not list {id}; another server holds the port (stop it or set [embeddings] listen)"
        ));
    }
    Ok(())
}

/// `serve --check`: does a server answer at `addr` and list the model `id`?
async fn check(addr: SocketAddr, id: &str) -> Result<u8, Failure> {
    answers(addr, id)
        .await
        .map_err(|why| Failure::new(exit::FAILURE, format!("serve --check: {why}")))?;
    crate::outln!("{id} answering at http://{addr}/v1");
    Ok(exit::OK)
}
