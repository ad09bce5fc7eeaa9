//! `incus-ai serve`: the local embedding model behind an OpenAI-compatible endpoint, so AIChat
//! embeds its users' questions with the model that embedded the RAG's chunks, and no other
//! model server is needed; and incus-ai's own ranking as AIChat's reranker, so that what AIChat
//! injects is what `incus-ai search` ranks first. `POST /v1/embeddings`, `POST /v1/rerank`
//! and `GET /v1/models`; loopback only, for
//! this machine's programs (not web pages: `Host` and `Origin` are checked); connections,
//! queued requests, bodies, batches and inputs are bounded; bad requests get a 4xx with an
//! OpenAI-style error.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde::Deserialize;
use tokio::sync::Semaphore;

use crate::knowledge::embed::LocalModel;
use crate::knowledge::index::{IndexError, Searcher};

mod rerank;
use rerank::rerank;

/// Where `serve` listens unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8765";
/// Largest request body (a batch of long chunks is far below this).
pub const MAX_BODY: usize = 2 << 20;
/// Bytes of a too-large body read (and dropped) before answering 413.
const MAX_DRAIN: usize = 64 << 20;
/// Most inputs in one request (AIChat sends `max_batch_size`, declared as [`MAX_BATCH`]).
pub const MAX_BATCH: usize = 64;
/// Longest single input, in bytes (the model reads 256 tokens; the rest is cut anyway).
pub const MAX_INPUT_BYTES: usize = 64 << 10;
/// Most documents in one rerank request (AIChat sends at most twice the RAG's `top_k`).
pub const MAX_DOCUMENTS: usize = 256;
/// Longest rerank query, in bytes.
pub const MAX_QUERY_BYTES: usize = 16 << 10;

/// Requests admitted at once (one embeds, the others wait with their bodies read); one more
/// is answered 503 before its body is read, so waiting work holds at most this many bodies.
pub const MAX_QUEUED: usize = 8;

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Not a loopback address.
    #[error(
        "serve --listen {0}: only loopback addresses (127.0.0.1, ::1) are served; the endpoint has no authentication"
    )]
    NotLoopback(SocketAddr),
    /// The port could not be bound.
    #[error(
        "serve --listen {addr}: {source}; is `incus-ai serve` already running? (try another port with --listen)"
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The model served, under its stable id.
pub struct Served {
    model: Arc<LocalModel>,
    id: String,
    /// One embedding at a time: the model already uses every core.
    busy: Semaphore,
    /// Requests admitted (waiting or embedding).
    admitted: Semaphore,
    /// The docs index the reranker ranks with (the newest generation a refresh published).
    index: Option<Reranker>,
}

/// The index behind `/v1/rerank`, opened on the first request and again whenever a refresh
/// publishes a new generation.
struct Reranker {
    root: std::path::PathBuf,
    model_dir: std::path::PathBuf,
    open: std::sync::Mutex<Option<Arc<Searcher>>>,
}

impl Reranker {
    fn searcher(&self) -> Result<Arc<Searcher>, IndexError> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let current = crate::knowledge::index::build::current_dir(&self.root)
            .ok_or_else(|| IndexError::NoIndex(self.root.clone()))?;
        if let Some(s) = open.as_ref().filter(|s| s.dir() == current) {
            return Ok(s.clone());
        }
        let s = Arc::new(Searcher::open(&self.root, Some(&self.model_dir))?);
        *open = Some(s.clone());
        Ok(s)
    }
}

impl Served {
    /// Serves `model` as `id` (the model folder's name, e.g. `all-MiniLM-L6-v2`).
    pub fn new(model: Arc<LocalModel>, id: String) -> Served {
        Served {
            model,
            id,
            busy: Semaphore::new(1),
            admitted: Semaphore::new(MAX_QUEUED),
            index: None,
        }
    }

    /// Also reranks, with the index under `root` (its queries embedded by the model in
    /// `model_dir`, the one served).
    pub fn with_index(mut self, root: std::path::PathBuf, model_dir: std::path::PathBuf) -> Served {
        self.index = Some(Reranker {
            root,
            model_dir,
            open: std::sync::Mutex::new(None),
        });
        self
    }
}

/// `input` as OpenAI takes it: one string or a list of strings.
#[derive(Deserialize)]
#[serde(untagged)]
enum Input {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct EmbeddingsRequest {
    input: Input,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    encoding_format: Option<String>,
}

/// An error answer: `{"error": {"message", "type", "code"}}`.
fn error(status: StatusCode, kind: &str, message: impl Into<String>) -> Response<Full<Bytes>> {
    json(
        status,
        &serde_json::json!({"error": {"message": message.into(), "type": kind, "code": status.as_u16()}}),
    )
}

fn json(status: StatusCode, v: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(v.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

/// What one request gets.
async fn answer(
    served: Arc<Served>,
    bound: SocketAddr,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    if let Err(crate::util::httpd::Foreign(why)) = crate::util::httpd::check_local(&req, bound) {
        return error(StatusCode::FORBIDDEN, "invalid_request_error", why);
    }
    let path = req.uri().path().trim_end_matches('/').to_string();
    match (req.method(), path.as_str()) {
        (&Method::GET, "/v1/models" | "/models") => json(
            StatusCode::OK,
            &serde_json::json!({"object": "list", "data": [
                {"id": served.id, "object": "model", "owned_by": "incus-ai"},
                {"id": crate::aichat::local_client::RERANKER, "object": "model", "owned_by": "incus-ai"}
            ]}),
        ),
        (&Method::POST, "/v1/embeddings" | "/embeddings") => embeddings(served, req).await,
        (&Method::POST, "/v1/rerank" | "/rerank") => rerank(served, req).await,
        (
            _,
            "/v1/models" | "/models" | "/v1/embeddings" | "/embeddings" | "/v1/rerank" | "/rerank",
        ) => error(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request_error",
            "use GET /v1/models, POST /v1/embeddings or POST /v1/rerank",
        ),
        _ => error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!(
                "no route {path}: this server has GET /v1/models, POST /v1/embeddings and POST /v1/rerank"
            ),
        ),
    }
}

/// Checks a request's inputs: 1 to [`MAX_BATCH`] non-empty strings of at most
/// [`MAX_INPUT_BYTES`].
fn inputs(input: Input) -> Result<Vec<String>, String> {
    let texts = match input {
        Input::One(s) => vec![s],
        Input::Many(v) => v,
    };
    if texts.is_empty() {
        return Err("input is empty: give a string or a list of strings".into());
    }
    if texts.len() > MAX_BATCH {
        return Err(format!(
            "{} inputs in one request; send at most {MAX_BATCH}",
            texts.len()
        ));
    }
    if let Some(i) = texts.iter().position(|t| t.trim().is_empty()) {
        return Err(format!("input {i} is empty"));
    }
    if let Some(i) = texts.iter().position(|t| t.len() > MAX_INPUT_BYTES) {
        return Err(format!(
            "input {i} has {} bytes; send at most {MAX_INPUT_BYTES} (the model reads only its first tokens)",
            texts[i].len()
        ));
    }
    Ok(texts)
}

/// Reads a body of at most [`MAX_BODY`] bytes. A larger one is read on (up to [`MAX_DRAIN`]
/// and thrown away) so that the client, still sending, gets the 413 rather than a broken
/// pipe; `Err(None)` then.
async fn read_body(mut body: Incoming) -> Result<Vec<u8>, Option<hyper::Error>> {
    let mut out = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(Some)?;
        if let Ok(data) = frame.into_data() {
            seen += data.len();
            if seen <= MAX_BODY {
                out.extend_from_slice(&data);
            } else if seen > MAX_DRAIN {
                break;
            }
        }
    }
    if seen > MAX_BODY { Err(None) } else { Ok(out) }
}

/// A 503 that says to come back shortly.
fn busy() -> Response<Full<Bytes>> {
    let mut r = error(
        StatusCode::SERVICE_UNAVAILABLE,
        "server_error",
        format!("{MAX_QUEUED} requests are waiting for the model; try again shortly"),
    );
    r.headers_mut().insert(
        hyper::header::RETRY_AFTER,
        hyper::header::HeaderValue::from_static("1"),
    );
    r
}

/// The body of an admitted request, or the 4xx it gets.
async fn body_of(req: Request<Incoming>) -> Result<Vec<u8>, Response<Full<Bytes>>> {
    match read_body(req.into_body()).await {
        Ok(b) => Ok(b),
        Err(None) => Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            format!("request body over {MAX_BODY} bytes; send fewer or shorter inputs"),
        )),
        Err(Some(e)) => Err(error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            format!("request body could not be read: {e}"),
        )),
    }
}

async fn embeddings(served: Arc<Served>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let bad = |m: String| error(StatusCode::BAD_REQUEST, "invalid_request_error", m);
    let Ok(_admitted) = served.admitted.try_acquire() else {
        return busy();
    };
    let body = match body_of(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let request: EmbeddingsRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return bad(format!(
                "not an embeddings request ({e}); send {{\"model\": \"{}\", \"input\": [\"text\", ...]}}",
                served.id
            ));
        }
    };
    if let Some(m) = request.model.as_deref().filter(|m| *m != served.id) {
        return error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!("model {m:?} is not served here; use {:?}", served.id),
        );
    }
    if request
        .encoding_format
        .as_deref()
        .is_some_and(|f| f != "float")
    {
        return bad("only encoding_format \"float\" is served".into());
    }
    let texts = match inputs(request.input) {
        Ok(t) => t,
        Err(m) => return bad(m),
    };
    let Ok(_permit) = served.busy.acquire().await else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "shutting down",
        );
    };
    let model = served.model.clone();
    let run = tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let tokens: usize = refs
            .iter()
            .map(|t| model.count_tokens(t).min(model.max_tokens()))
            .sum();
        model.embed(&refs).map(|v| (v, tokens))
    })
    .await;
    match run {
        Ok(Ok((vectors, tokens))) => {
            let data: Vec<serde_json::Value> = vectors
                .into_iter()
                .enumerate()
                .map(
                    |(i, v)| serde_json::json!({"object": "embedding", "index": i, "embedding": v}),
                )
                .collect();
            json(
                StatusCode::OK,
                &serde_json::json!({
                    "object": "list",
                    "data": data,
                    "model": served.id,
                    "usage": {"prompt_tokens": tokens, "total_tokens": tokens}
                }),
            )
        }
        Ok(Err(e)) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            e.to_string(),
        ),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            e.to_string(),
        ),
    }
}

/// Serves `served` on `addr` until the process ends. `ready` is told the bound address (port 0
/// picks one).
pub async fn serve(
    addr: SocketAddr,
    served: Served,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    if !addr.ip().is_loopback() {
        return Err(ServeError::NotLoopback(addr));
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;
    ready(bound);
    let served = Arc::new(served);
    let service = hyper::service::service_fn(move |req| {
        let served = served.clone();
        async move { Ok::<_, Infallible>(answer(served, bound, req).await) }
    });
    crate::util::httpd::run(
        listener,
        crate::util::httpd::Limits::default(),
        "serve",
        service,
    )
    .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_bounded() {
        assert_eq!(inputs(Input::One("a".into())).unwrap(), vec!["a"]);
        assert!(inputs(Input::Many(vec![])).unwrap_err().contains("empty"));
        assert!(
            inputs(Input::One(" ".into()))
                .unwrap_err()
                .contains("input 0 is empty")
        );
        let many = Input::Many(vec!["x".into(); MAX_BATCH + 1]);
        assert!(inputs(many).unwrap_err().contains("at most 64"));
        let long = Input::One("x".repeat(MAX_INPUT_BYTES + 1));
        assert!(inputs(long).unwrap_err().contains("bytes"));
    }
}
