//! `incus-ai mcp --listen 127.0.0.1:PORT`: the same MCP server over streamable HTTP (rmcp's
//! tower service behind [`crate::util::httpd`]), one session per client. It listens on
//! loopback only and serves this machine's programs, not web pages (`Host` and `Origin` are
//! checked, as the MCP specification asks). A loopback port has no owner: any local user can
//! connect. So with `--allow-changes` the change tools are offered only to requests that carry
//! the admin's token (`Authorization: Bearer`, from a 0600 file in the data dir); every other
//! request gets the read-only tools, and a wrong token is refused.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};

use super::mcp::Server;
use super::tools::Toolbox;

/// Sessions open at once per kind (read-only, may change); idle ones close after 5 minutes.
pub const MAX_SESSIONS: usize = 64;

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

type Mcp = StreamableHttpService<Server, LocalSessionManager>;

/// One MCP endpoint: its sessions and the service over them.
struct Endpoint {
    sessions: Arc<LocalSessionManager>,
    service: Mcp,
}

impl Endpoint {
    fn new(make: impl Fn() -> Toolbox + Send + Sync + 'static) -> Endpoint {
        let sessions = Arc::new(LocalSessionManager::default());
        let pending = Arc::default();
        let service = StreamableHttpService::new(
            move || Ok(Server::sharing(make(), Arc::clone(&pending))),
            Arc::clone(&sessions),
            // Host and Origin are checked before rmcp sees the request.
            StreamableHttpServerConfig::default().disable_allowed_hosts(),
        );
        Endpoint { sessions, service }
    }

    /// Whether one more session may start.
    async fn has_room(&self) -> bool {
        self.sessions.sessions.read().await.len() < MAX_SESSIONS
    }
}

/// Who may change things: requests with this bearer token.
struct Gate {
    token: String,
    changes: Endpoint,
}

fn plain(status: StatusCode, text: String) -> Response<BoxBody<Bytes, Infallible>> {
    let mut r = Response::new(Full::new(Bytes::from(text)).boxed());
    *r.status_mut() = status;
    r
}

/// Compares two byte strings in time that depends on their length only.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

async fn route(
    read_only: Arc<Endpoint>,
    gate: Option<Arc<Gate>>,
    bound: SocketAddr,
    req: Request<Incoming>,
) -> Response<BoxBody<Bytes, Infallible>> {
    if let Err(crate::util::httpd::Foreign(why)) = crate::util::httpd::check_local(&req, bound) {
        return plain(StatusCode::FORBIDDEN, why);
    }
    let bearer = req.headers().get(hyper::header::AUTHORIZATION).map(|v| {
        v.as_bytes()
            .strip_prefix(b"Bearer ")
            .unwrap_or(b"")
            .to_vec()
    });
    let endpoint: &Endpoint = match (&gate, bearer) {
        (_, None) => &read_only,
        (Some(g), Some(t)) if same(&t, g.token.as_bytes()) => &g.changes,
        (Some(_), Some(_)) => {
            return plain(
                StatusCode::UNAUTHORIZED,
                "wrong token: changes over HTTP need the token in the data dir's mcp-token file"
                    .into(),
            );
        }
        (None, Some(_)) => &read_only,
    };
    let opens_session =
        req.method() == hyper::Method::POST && !req.headers().contains_key("mcp-session-id");
    if opens_session && !endpoint.has_room().await {
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{MAX_SESSIONS} MCP sessions are open; close one or try again later"),
        );
    }
    endpoint.service.handle(req).await
}

/// Serves MCP over streamable HTTP on `addr` until the process ends. `read_only` makes the
/// toolbox of each new session; with `changes` (a token and the toolbox maker), requests that
/// carry the token get toolboxes that may propose changes. `ready` is told the bound address
/// (port 0 picks one).
pub async fn serve(
    addr: SocketAddr,
    read_only: impl Fn() -> Toolbox + Send + Sync + 'static,
    changes: Option<(String, Box<dyn Fn() -> Toolbox + Send + Sync>)>,
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
    let read_only = Arc::new(Endpoint::new(read_only));
    let gate = changes.map(|(token, make)| {
        Arc::new(Gate {
            token,
            changes: Endpoint::new(make),
        })
    });
    let service = hyper::service::service_fn(move |req| {
        let (read_only, gate) = (Arc::clone(&read_only), gate.clone());
        async move { Ok::<_, Infallible>(route(read_only, gate, bound, req).await) }
    });
    crate::util::httpd::run(
        listener,
        crate::util::httpd::Limits::default(),
        "mcp --listen",
        service,
    )
    .await;
    Ok(())
}
