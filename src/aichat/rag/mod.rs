//! `incus-ai export aichat`: the index's collections as AIChat RAG files, ready for
//! `aichat --rag incus` without any rebuild inside AIChat.
//!
//! `<rags dir>/incus.yaml` holds the docs, `<rags dir>/incus-local.yaml` the site's notes and
//! installation snapshot. Each file's documents point at the mirrored markdown with its exact
//! hash, and `document_paths` lists those files, so `aichat --rebuild-rag` finds nothing to do.
//! An export is staged ([`stage`]: chunks, embeddings of new chunks only, a new generation of
//! files) and published in one rename ([`publish`]), so a failing endpoint or a killed run
//! leaves the previous RAG files as they were.

mod collect;
pub mod format;
pub mod publish;
mod stage;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::aichat::config::AichatError;
use crate::aichat::embed::EmbedError;
use crate::knowledge::Collection;
use crate::knowledge::mirror::store::StoreError;
use crate::util::paths::DataDir;
pub use format::{RagData, RagDocument, RagFile, encode, valid_rag_name};
pub use publish::{Published, Staged};
pub use stage::stage;

/// The AIChat role incus-ai installs (`aichat --role incus`).
pub const ROLE: &str = include_str!("../../../prompts/aichat-role.md");
/// Marks a role file as incus-ai's, so that it may be updated.
const ROLE_MARKER: &str = "<!-- installed by incus-ai";

/// Default chunk size when AIChat's configuration sets none (bytes).
pub const DEFAULT_CHUNK_SIZE: usize = 2000;

/// Why an export failed. The previous RAG files are untouched.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// AIChat's configuration.
    #[error(transparent)]
    Aichat(#[from] AichatError),
    /// The embedding endpoint.
    #[error(transparent)]
    Embed(#[from] EmbedError),
    /// The mirror.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The index (the export reads its sections and vectors).
    #[error(transparent)]
    Index(#[from] crate::knowledge::index::IndexError),
    /// `--use-local-model` with the model turned off or not loading.
    #[error("--use-local-model: {0}")]
    LocalModel(String),
    /// Nothing mirrored yet.
    #[error(
        "nothing to export: the mirror at {0} is empty; run `incus-ai mirror` (or `incus-ai refresh`) first"
    )]
    EmptyMirror(PathBuf),
    /// A RAG name that cannot be a file name.
    #[error("bad RAG name {0:?}: use letters, digits, '-', '_' and '.' (not first)")]
    BadName(String),
    /// Writing the files.
    #[error("cannot write {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The RAG data could not be written as YAML.
    #[error("cannot serialize the RAG {name}: {detail}")]
    Serialize {
        /// The RAG.
        name: String,
        /// Why.
        detail: String,
    },
}

/// The RAG's `top_k` when incus-ai reranks: AIChat's vector and keyword searches each find
/// this many candidates, and the reranker sends back the few worth the model's context.
pub const RERANK_TOP_K: usize = 40;

/// What to export.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// RAG name (`incus` gives `incus.yaml` and `incus-local.yaml`).
    pub name: String,
    /// Where to write, instead of AIChat's rags dir.
    pub rags_dir: Option<PathBuf>,
    /// `client:model`, instead of AIChat's `rag_embedding_model`.
    pub embedding_model: Option<String>,
    /// Chunk size in bytes, instead of AIChat's settings.
    pub chunk_size: Option<usize>,
    /// incus-ai's own embedding model and where `incus-ai serve` serves it (`None`: turned
    /// off). An AIChat model on that endpoint is run in process.
    pub local_model: Option<LocalModel>,
    /// When AIChat names no embedding model: add incus-ai's client to its `config.yaml` and
    /// use the local model.
    pub use_local_model: bool,
}

/// incus-ai's own embedding model, as the export sees it.
#[derive(Debug, Clone)]
pub struct LocalModel {
    /// The model folder.
    pub dir: PathBuf,
    /// `http://ADDR:PORT/v1` of `incus-ai serve`.
    pub api_base: String,
}

/// One written RAG file.
#[derive(Debug, Clone, Serialize)]
pub struct RagReport {
    /// RAG name (`aichat --rag NAME`).
    pub name: String,
    /// Collection.
    pub collection: Collection,
    /// File written.
    pub path: PathBuf,
    /// Source pages.
    pub pages: usize,
    /// Chunks.
    pub chunks: usize,
    /// Whether the file's content changed.
    pub changed: bool,
}

/// What an export did.
#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    /// The RAG files.
    pub rags: Vec<RagReport>,
    /// `client:model`.
    pub embedding_model: String,
    /// The RAG's reranker (`incus-ai:rerank` when incus-ai ranks AIChat's candidates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reranker: Option<String>,
    /// Chunk size used.
    pub chunk_size: usize,
    /// Chunks embedded now.
    pub embedded: usize,
    /// Chunks taken from the cache.
    pub cached: usize,
    /// Requests to the embeddings endpoint.
    pub embedding_calls: usize,
    /// The vectors were computed in process (the endpoint is `incus-ai serve`).
    pub in_process: bool,
    /// The AIChat role file, when it was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<PathBuf>,
    /// A command to try.
    pub try_command: String,
    /// What the user should know (the embedding model changed size, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Wall time in milliseconds.
    pub elapsed_ms: u64,
}

impl ExportReport {
    /// Whether AIChat needs `incus-ai serve` to use these RAG files (it embeds the question or
    /// reranks).
    pub fn needs_serve(&self) -> bool {
        let ours = |m: &str| m.starts_with(&format!("{}:", crate::aichat::local_client::CLIENT));
        ours(&self.embedding_model) || self.reranker.as_deref().is_some_and(ours)
    }
}

/// Writes `text` to `path` through a temporary file and a rename.
pub fn write_atomically(path: &Path, text: &str) -> Result<(), ExportError> {
    crate::util::fsx::write_atomic(path, text.as_bytes()).map_err(publish::write_err(path))
}

/// Stages and publishes an export of the current index.
pub async fn export(data: &DataDir, opts: &ExportOptions) -> Result<ExportReport, ExportError> {
    let index = crate::knowledge::index::build::current_dir(&data.index())
        .ok_or_else(|| crate::knowledge::index::IndexError::NoIndex(data.index()))?;
    Ok(stage(data, &index, opts).await?.publish()?.report)
}
