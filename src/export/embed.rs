//! Embeddings from any OpenAI-compatible endpoint (OpenAI, Ollama, llama.cpp, vLLM) with
//! async-openai: batches run concurrently within limits, failed batches are retried with
//! backoff, and a cache keyed by (model, chunk text) means unchanged chunks are never
//! embedded again.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::types::embeddings::{CreateEmbeddingRequest, EmbeddingInput};
use futures::stream::{self, StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};

use super::aichat_config::Endpoint;

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
    #[error("embedding model {model} returned vectors of {a} and {b} dimensions")]
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

/// An embeddings client for one model.
pub struct Embedder {
    client: Client<OpenAIConfig>,
    endpoint: Endpoint,
    batch: usize,
    calls: Arc<AtomicUsize>,
}

impl Embedder {
    /// A client for `endpoint`; inputs are about `chunk_size` bytes each.
    pub fn new(endpoint: Endpoint, chunk_size: usize) -> Embedder {
        let mut config = OpenAIConfig::new().with_api_base(endpoint.api_base.clone());
        // An empty key would still send "Authorization: Bearer "; AIChat sends none then.
        config = config.with_api_key(endpoint.api_key.clone().unwrap_or_default());
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .connect_timeout(Duration::from_secs(10))
            .no_proxy()
            .build()
            .expect("HTTP client");
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
            client: Client::with_config(config).with_http_client(http),
            endpoint,
            batch,
            calls: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Embeddings requests made so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }

    /// The model's `client:model` id.
    pub fn model_id(&self) -> &str {
        &self.endpoint.id
    }

    async fn batch_once(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, (bool, String)> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let request = CreateEmbeddingRequest {
            model: self.endpoint.wire_name.clone(),
            input: EmbeddingInput::StringArray(texts.to_vec()),
            encoding_format: None,
            user: None,
            dimensions: None,
        };
        match self.client.embeddings().create(request).await {
            Ok(mut r) => {
                r.data.sort_by_key(|e| e.index);
                Ok(r.data.into_iter().map(|e| e.embedding).collect())
            }
            Err(OpenAIError::ApiError(e)) => {
                let c = e.status_code.as_u16();
                let retry = c == 429 || c >= 500;
                Err((retry, e.to_string()))
            }
            Err(OpenAIError::Reqwest(e)) => Err((true, e.without_url().to_string())),
            Err(e) => Err((false, e.to_string())),
        }
    }

    async fn batch(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            match self.batch_once(&texts).await {
                Ok(v) if v.len() == texts.len() => return Ok(v),
                Ok(v) => {
                    return Err(EmbedError::Shape {
                        api_base: self.endpoint.api_base.clone(),
                        sent: texts.len(),
                        got: v.len(),
                    });
                }
                Err((retry, detail)) => {
                    last = detail;
                    if !retry || attempt == ATTEMPTS {
                        return Err(EmbedError::Endpoint {
                            api_base: self.endpoint.api_base.clone(),
                            model: self.endpoint.wire_name.clone(),
                            attempts: attempt,
                            detail: last.replace('\n', " "),
                        });
                    }
                    tokio::time::sleep(Duration::from_millis(500 << (attempt - 1))).await;
                }
            }
        }
        unreachable!("the loop returns: {last}")
    }

    /// Embeds `texts` in batches, `IN_FLIGHT` batches at once, in input order.
    pub async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        let batches: Vec<Vec<String>> = texts.chunks(self.batch).map(<[String]>::to_vec).collect();
        let results: Vec<Vec<Vec<f32>>> = stream::iter(batches.into_iter().map(|b| self.batch(b)))
            .buffered(IN_FLIGHT)
            .try_collect()
            .await?;
        let vectors: Vec<Vec<f32>> = results.into_iter().flatten().collect();
        if let Some(first) = vectors.first()
            && let Some(other) = vectors.iter().find(|v| v.len() != first.len())
        {
            return Err(EmbedError::Dimensions {
                model: self.endpoint.id.clone(),
                a: first.len(),
                b: other.len(),
            });
        }
        Ok(vectors)
    }
}

/// Vectors of chunk texts already embedded with one model.
pub struct Cache {
    path: PathBuf,
    vectors: HashMap<[u8; 32], Vec<f32>>,
}

const MAGIC: &[u8; 8] = b"IAIEMB1\n";

/// The cache key of a chunk text.
pub fn key(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

impl Cache {
    /// The cache of `model` under `dir` (empty when missing or unreadable).
    pub fn open(dir: &Path, model: &str) -> Cache {
        let name: String = model
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = dir.join(format!("{name}.bin"));
        let vectors = read_cache(&path).unwrap_or_default();
        Cache { path, vectors }
    }

    /// A cached vector.
    pub fn get(&self, key: &[u8; 32]) -> Option<&Vec<f32>> {
        self.vectors.get(key)
    }

    /// Adds a vector.
    pub fn insert(&mut self, key: [u8; 32], v: Vec<f32>) {
        self.vectors.insert(key, v);
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.vectors.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.vectors.is_empty()
    }

    /// Keeps only the vectors of `keep`, then writes the cache (temp file, then rename).
    pub fn save(&mut self, keep: &std::collections::HashSet<[u8; 32]>) -> std::io::Result<()> {
        self.vectors.retain(|k, _| keep.contains(k));
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = self.path.with_extension("bin.tmp");
        let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        f.write_all(MAGIC)?;
        for (k, v) in &self.vectors {
            f.write_all(k)?;
            f.write_all(&(v.len() as u32).to_le_bytes())?;
            for x in v {
                f.write_all(&x.to_le_bytes())?;
            }
        }
        f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, &self.path)
    }
}

fn read_cache(path: &Path) -> std::io::Result<HashMap<[u8; 32], Vec<f32>>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.read_to_end(&mut bytes)?;
    let mut out = HashMap::new();
    if !bytes.starts_with(MAGIC) {
        return Ok(out);
    }
    let mut i = MAGIC.len();
    while i + 36 <= bytes.len() {
        let mut k = [0u8; 32];
        k.copy_from_slice(&bytes[i..i + 32]);
        let n = u32::from_le_bytes(bytes[i + 32..i + 36].try_into().expect("4 bytes")) as usize;
        i += 36;
        if i + n * 4 > bytes.len() {
            break;
        }
        let v = bytes[i..i + n * 4]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        i += n * 4;
        out.insert(k, v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_round_trips_and_prunes() {
        let d = tempfile::tempdir().unwrap();
        let mut c = Cache::open(d.path(), "local:stub-embed");
        assert!(c.is_empty());
        c.insert(key("a"), vec![1.0, 2.0]);
        c.insert(key("b"), vec![3.0, 4.0]);
        c.save(&[key("a")].into_iter().collect()).unwrap();
        let c = Cache::open(d.path(), "local:stub-embed");
        assert_eq!(c.len(), 1);
        assert_eq!(c.get(&key("a")), Some(&vec![1.0, 2.0]));
        assert!(Cache::open(d.path(), "other:model").is_empty());
    }
}
