//! `POST /v1/rerank` (and `/rerank`): AIChat's reranker call, answered with incus-ai's own
//! ranking. AIChat sends `{"model", "query", "documents": [texts], "top_n"}` with the union
//! of its vector and keyword candidates, and keeps the first `top_n` of
//! `{"results": [{"index", "relevance_score"}]}`; fewer come back when fewer are worth the
//! model's context (see [`crate::knowledge::index::rerank`]).

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde::Deserialize;

use super::{MAX_DOCUMENTS, MAX_INPUT_BYTES, MAX_QUERY_BYTES, Served, body_of, busy, error, json};
use crate::aichat::chunk::sources;
use crate::aichat::local_client::RERANKER;
use crate::knowledge::index::rerank::{Budget, Candidate};

/// A document as rerank APIs take it: a string, or an object with its `text`.
#[derive(Deserialize)]
#[serde(untagged)]
enum Document {
    Text(String),
    Object { text: String },
}

impl Document {
    fn text(&self) -> &str {
        match self {
            Document::Text(t) | Document::Object { text: t } => t,
        }
    }
}

#[derive(Deserialize)]
struct RerankRequest {
    query: String,
    documents: Vec<Document>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    top_n: Option<usize>,
    #[serde(default)]
    return_documents: bool,
}

/// Checks a request's size: a query, and 1 to [`MAX_DOCUMENTS`] documents of at most
/// [`MAX_INPUT_BYTES`].
fn check(r: &RerankRequest) -> Result<(), String> {
    if r.query.trim().is_empty() {
        return Err("query is empty".into());
    }
    if r.query.len() > MAX_QUERY_BYTES {
        return Err(format!("query over {MAX_QUERY_BYTES} bytes"));
    }
    if r.documents.is_empty() || r.documents.len() > MAX_DOCUMENTS {
        return Err(format!(
            "{} documents; send 1 to {MAX_DOCUMENTS}",
            r.documents.len()
        ));
    }
    if let Some(i) = r
        .documents
        .iter()
        .position(|d| d.text().len() > MAX_INPUT_BYTES)
    {
        return Err(format!("document {i} is over {MAX_INPUT_BYTES} bytes"));
    }
    Ok(())
}

pub(super) async fn rerank(served: Arc<Served>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let bad = |m: String| error(StatusCode::BAD_REQUEST, "invalid_request_error", m);
    if served.index.is_none() {
        return error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "this server has no index to rerank with",
        );
    }
    let Ok(_admitted) = served.admitted.try_acquire() else {
        return busy();
    };
    let body = match body_of(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let request: RerankRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return bad(format!(
                "not a rerank request ({e}); send {{\"model\": \"{RERANKER}\", \"query\": \"...\", \"documents\": [\"text\", ...]}}"
            ));
        }
    };
    if let Some(m) = request.model.as_deref().filter(|m| *m != RERANKER) {
        return error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!("model {m:?} is not served here; rerank with {RERANKER:?}"),
        );
    }
    if let Err(m) = check(&request) {
        return bad(m);
    }
    let Ok(_permit) = served.busy.acquire().await else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "shutting down",
        );
    };
    let served2 = served.clone();
    let run = tokio::task::spawn_blocking(move || {
        let searcher = served2.index.as_ref().expect("checked above").searcher()?;
        let urls: Vec<Vec<&str>> = request
            .documents
            .iter()
            .map(|d| sources(d.text()).collect())
            .collect();
        let candidates: Vec<Candidate> = request
            .documents
            .iter()
            .zip(&urls)
            .map(|(d, u)| Candidate {
                urls: u,
                text: d.text(),
            })
            .collect();
        let budget = Budget {
            max_results: request
                .top_n
                .unwrap_or(usize::MAX)
                .min(Budget::default().max_results),
            ..Budget::default()
        };
        let ranked = searcher.rerank(&request.query, &candidates, budget)?;
        Ok::<_, crate::knowledge::index::IndexError>(
            ranked
                .iter()
                .map(|r| {
                    let mut v = serde_json::json!({"index": r.index, "relevance_score": r.score});
                    if request.return_documents {
                        v["document"] =
                            serde_json::json!({"text": request.documents[r.index].text()});
                    }
                    v
                })
                .collect::<Vec<_>>(),
        )
    })
    .await;
    match run {
        Ok(Ok(results)) => json(
            StatusCode::OK,
            &serde_json::json!({"object": "list", "model": RERANKER, "results": results,
                "usage": {"total_tokens": 0}}),
        ),
        Ok(Err(e)) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            crate::util::text::error_chain(&e),
        ),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            e.to_string(),
        ),
    }
}
