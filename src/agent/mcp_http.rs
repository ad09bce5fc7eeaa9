//! `incus-ai mcp --listen 127.0.0.1:PORT`: the same MCP server over streamable HTTP (rmcp's
//! tower service on hyper), one session per client. It listens on loopback only: the tools
//! read the cluster with this user's credentials and MCP over HTTP has no authentication here.

use std::net::SocketAddr;
use std::sync::Arc;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};

use super::mcp::Server;
use super::tools::Toolbox;

/// Why the HTTP server could not run.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Not a loopback address.
    #[error(
        "mcp --listen {0}: only loopback addresses (127.0.0.1, ::1) are served; put a reverse proxy with authentication in front for anything else"
    )]
    NotLoopback(SocketAddr),
    /// The port could not be bound.
    #[error("mcp --listen {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Serves MCP over streamable HTTP on `addr` until the process ends; `toolbox` makes the
/// toolbox of each new session. `ready` is told the bound address (port 0 picks one).
pub async fn serve(
    addr: SocketAddr,
    toolbox: impl Fn() -> Toolbox + Send + Sync + 'static,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), HttpError> {
    if !addr.ip().is_loopback() {
        return Err(HttpError::NotLoopback(addr));
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| HttpError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| HttpError::Bind { addr, source })?;
    ready(bound);
    let host = bound.to_string();
    let config = StreamableHttpServerConfig::default().with_allowed_hosts([
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
        host,
    ]);
    let toolbox = Arc::new(toolbox);
    let pending = Arc::default();
    let service = StreamableHttpService::new(
        move || Ok(Server::sharing(toolbox(), Arc::clone(&pending))),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("mcp --listen: accept failed: {e}");
                continue;
            }
        };
        let svc = TowerToHyperService::new(service.clone());
        tokio::spawn(async move {
            if let Err(e) = Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), svc)
                .await
            {
                tracing::debug!("mcp --listen: connection ended: {e}");
            }
        });
    }
}
