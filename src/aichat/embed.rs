//! Embeddings from any OpenAI-compatible endpoint (OpenAI, Ollama, llama.cpp, vLLM): batches
//! run concurrently within limits, failed batches are retried with backoff, every answer is
//! read up to a size limit and checked (one vector per input, one dimension for all), and a
//! cache keyed by (model, chunk text) means unchanged chunks are never embedded again.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Deserialize;

use super::config::Endpoint;
use crate::util::http::{BodyError, read_body};

/// Why embedding failed. Names the endpoint.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The endpoint failed after the retries.
    #[error(
        "embedding endpoint {api_base} (model {model}) failed after {attempts} attempts: {detail}"
    )]
    Endpoint {
        /// The endpoint.
        api_base: String,
        /// The model.
        model: String,
        /// Attempts made.
        attempts: usize,
        /// The last error.
        detail: String,
    },
    /// The answer did not fit the request.
    #[error("embedding endpoint {api_base} answered {got} vectors for {sent} inputs")]
    Shape {
        /// The endpoint.
        api_base: String,
        /// Inputs sent.
        sent: usize,
        /// Vectors received.
        got: usize,
    },
    /// Vectors of different lengths.
    #[error(
        "embedding model {model} returned vectors of {a} and {b} dimensions; the previous RAG files are kept (AIChat cannot load mixed sizes)"
    )]
    Dimensions {
        /// The model.
        model: String,
        /// One length.
        a: usize,
        /// Another.
        b: usize,
    },
}

const ATTEMPTS: usize = 3;
const IN_FLIGHT: usize = 4;
/// Answer size allowed per input (a 4096-dimension vector is about 90 KB of JSON).
const MAX_BYTES_PER_INPUT: usize = 512 << 10;
/// Longest vector accepted.
pub const MAX_DIMENSIONS: usize = 16_384;

#[derive(Deserialize)]
struct EmbeddingsAnswer {
    data: Vec<EmbeddingItem>,
}

#[derive(Deserialize)]
struct EmbeddingItem {
    embedding: Vec<f32>,
    #[serde(default)]
    index: Option<usize>,
}

/// An embeddings client for one model: an HTTP endpoint, or incus-ai's own model run in
/// process when the endpoint is `incus-ai serve` (no HTTP to itself, the same vectors).
pub struct Embedder {
    http: reqwest::Client,
    endpoint: Endpoint,
    batch: usize,
    calls: Arc<AtomicUsize>,
    local: Option<Arc<crate::knowledge::embed::LocalModel>>,
}

impl Embedder {
    /// A client for `endpoint`; inputs are about `chunk_size` bytes each.
    pub fn new(endpoint: Endpoint, chunk_size: usize) -> Embedder {
        let http = crate::util::http::client_builder(Duration::from_secs(120))
            .build()
            .unwrap_or_default();
        let by_tokens = endpoint
            .model
            .max_input_tokens
            .map(|t| (t / (chunk_size / 3).max(1)).max(1))
            .unwrap_or(usize::MAX);
        let batch = endpoint
            .model
            .max_batch_size
            .unwrap_or(64)
            .min(by_tokens)
            .max(1);
        Embedder {
            http,
            endpoint,
            batch,
            calls: Arc::new(AtomicUsize::new(0)),
            local: None,
        }
    }

    /// The endpoint's model run here: `model` is what `incus-ai serve` serves at `endpoint`.
    pub fn in_process(
        endpoint: Endpoint,
        model: Arc<crate::knowledge::embed::LocalModel>,
    ) -> Embedder {
        Embedder {
            local: Some(model),
            ..Embedder::new(endpoint, 1)
        }
    }

    /// Whether vectors are computed in process.
    pub fn is_in_process(&self) -> bool {
        self.local.is_some()
    }

    /// Embeddings requests made so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }

    /// The model's `client:model` id.
    pub fn model_id(&self) -> &str {
        &self.endpoint.id
    }

    /// One request; the error says whether trying again may help.
    async fn batch_once(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, (bool, String)> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let url = format!(
            "{}/embeddings",
            self.endpoint.api_base.trim_end_matches('/')
        );
        let mut req = self.http.post(url).json(&serde_json::json!({
            "model": self.endpoint.wire_name,
            "input": texts,
        }));
        if let Some(k) = self.endpoint.api_key.as_deref().filter(|k| !k.is_empty()) {
            req = req.bearer_auth(k);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| (true, crate::util::text::error_chain(&e.without_url())))?;
        let status = resp.status();
        let limit = (1 << 20) + texts.len() * MAX_BYTES_PER_INPUT;
        let body = read_body(resp, limit, "the embeddings answer")
            .await
            .map_err(|e| match e {
                BodyError::TooLarge { .. } => (false, e.to_string()),
                BodyError::Transport(t) => (true, crate::util::text::error_chain(&t.without_url())),
            })?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
            let retry = status.as_u16() == 429 || status.is_server_error();
            return Err((retry, format!("HTTP {}: {}", status.as_u16(), text.trim())));
        }
        let mut answer: EmbeddingsAnswer = serde_json::from_slice(&body)
            .map_err(|e| (false, format!("not an embeddings answer: {e}")))?;
        answer.data.sort_by_key(|e| e.index.unwrap_or(usize::MAX));
        Ok(answer.data.into_iter().map(|e| e.embedding).collect())
    }

    async fn batch(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.batch_once(&texts).await {
                Ok(v) if v.len() == texts.len() => return Ok(v),
                Ok(v) => {
                    return Err(EmbedError::Shape {
                        api_base: self.endpoint.api_base.clone(),
                        sent: texts.len(),
                        got: v.len(),
                    });
                }
                Err((retry, detail)) if !retry || attempt == ATTEMPTS => {
                    return Err(EmbedError::Endpoint {
                        api_base: self.endpoint.api_base.clone(),
                        model: self.endpoint.wire_name.clone(),
                        attempts: attempt,
                        detail: crate::util::out::one_line(&detail),
                    });
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(500 << (attempt - 1))).await,
            }
        }
    }

    /// Embeds `texts` in batches, `IN_FLIGHT` batches at once, in input order. Every vector has
    /// the same, non-zero number of dimensions, or this fails.
    pub async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        if let Some(model) = self.local.clone() {
            let id = self.endpoint.id.clone();
            let api_base = self.endpoint.api_base.clone();
            let failed = move |detail: String| EmbedError::Endpoint {
                api_base: api_base.clone(),
                model: id.clone(),
                attempts: 1,
                detail,
            };
            let f2 = failed.clone();
            let vectors = tokio::task::spawn_blocking(move || {
                let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                model.embed(&refs)
            })
            .await
            .map_err(|e| f2(e.to_string()))?
            .map_err(|e| failed(e.to_string()))?;
            check_dimensions(&self.endpoint.id, vectors.iter().map(Vec::len))?;
            return Ok(vectors);
        }
        let batches: Vec<Vec<String>> = texts.chunks(self.batch).map(<[String]>::to_vec).collect();
        let results: Vec<Vec<Vec<f32>>> = stream::iter(batches.into_iter().map(|b| self.batch(b)))
            .buffered(IN_FLIGHT)
            .try_collect()
            .await?;
        let vectors: Vec<Vec<f32>> = results.into_iter().flatten().collect();
        check_dimensions(&self.endpoint.id, vectors.iter().map(Vec::len))?;
        Ok(vectors)
    }
}

/// All lengths equal, non-zero and at most [`MAX_DIMENSIONS`].
pub fn check_dimensions(
    model: &str,
    mut lens: impl Iterator<Item = usize>,
) -> Result<Option<usize>, EmbedError> {
    let Some(first) = lens.next() else {
        return Ok(None);
    };
    let err = |a, b| EmbedError::Dimensions {
        model: model.to_string(),
        a,
        b,
    };
    if first == 0 || first > MAX_DIMENSIONS {
        return Err(err(first, first));
    }
    match lens.find(|l| *l != first) {
        Some(other) => Err(err(first, other)),
        None => Ok(Some(first)),
    }
}

pub use crate::knowledge::embed::cache::{Cache, key};
