//! `incus-ai export aichat`: the index's collections as AIChat RAG files, ready for
//! `aichat --rag incus` without any rebuild inside AIChat.
//!
//! `<rags dir>/incus.yaml` holds the docs, `<rags dir>/incus-local.yaml` the site's notes and
//! installation snapshot. Each file's documents point at the mirrored markdown with its exact
//! hash, and `document_paths` lists those files, so `aichat --rebuild-rag` finds nothing to do.
//! An export is staged in temporary files and published by renaming them, so a failing
//! endpoint or a killed run leaves the previous RAG files as they were.

pub mod agent;
pub mod aichat_config;
pub mod chunk;
pub mod embed;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::document::Page;
use crate::mirror::store::{Store, StoreError};
use crate::paths::DataDir;
use aichat_config::{AichatConfig, AichatError, AichatPaths};
use chunk::chunk_page;
use embed::{Cache, EmbedError, Embedder};

/// The AIChat role incus-ai installs (`aichat --role incus`).
pub const ROLE: &str = include_str!("../../prompts/aichat-role.md");
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
    /// Nothing mirrored yet.
    #[error(
        "nothing to export: the mirror at {0} is empty; run `incus-ai mirror` (or `incus-ai refresh`) first"
    )]
    EmptyMirror(PathBuf),
    /// Writing the files.
    #[error("cannot write {path}: {detail}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
}

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
}

/// AIChat's `RagData`, as it reads it.
#[derive(Debug, Serialize, Deserialize)]
pub struct RagData {
    /// `client:model`.
    pub embedding_model: String,
    /// Splitter chunk size.
    pub chunk_size: usize,
    /// Splitter overlap.
    pub chunk_overlap: usize,
    /// Reranker, if any.
    pub reranker_model: Option<String>,
    /// Chunks per query.
    pub top_k: usize,
    /// Embedding batch size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    /// Next file id for AIChat's own additions.
    pub next_file_id: usize,
    /// What `--rebuild-rag` reloads.
    pub document_paths: Vec<String>,
    /// Files by id (integer YAML keys).
    pub files: BTreeMap<usize, RagFile>,
    /// `F-C` → base64 of the little-endian f32 vector.
    pub vectors: BTreeMap<String, String>,
}

/// One source file of a RAG.
#[derive(Debug, Serialize, Deserialize)]
pub struct RagFile {
    /// sha256 of the file's text.
    pub hash: String,
    /// Absolute path.
    pub path: String,
    /// Its chunks.
    pub documents: Vec<RagDocument>,
}

/// One chunk.
#[derive(Debug, Serialize, Deserialize)]
pub struct RagDocument {
    /// The text AIChat shows the model.
    pub page_content: String,
    /// Kept by AIChat, not shown.
    pub metadata: BTreeMap<String, String>,
}

/// One written RAG file.
#[derive(Debug, Clone, Serialize)]
pub struct RagReport {
    /// RAG name (`aichat --rag NAME`).
    pub name: String,
    /// Collection.
    pub collection: String,
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
    /// Chunk size used.
    pub chunk_size: usize,
    /// Chunks embedded now.
    pub embedded: usize,
    /// Chunks taken from the cache.
    pub cached: usize,
    /// Requests to the embeddings endpoint.
    pub embedding_calls: usize,
    /// The AIChat role file, when it was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<PathBuf>,
    /// A command to try.
    pub try_command: String,
    /// Wall time in milliseconds.
    pub elapsed_ms: u64,
}

/// An export written to temporary files, not yet visible to AIChat.
pub struct Staged {
    /// (temporary file, final path) pairs.
    renames: Vec<(PathBuf, PathBuf)>,
    cache: Cache,
    keep: HashSet<[u8; 32]>,
    /// The report.
    pub report: ExportReport,
}

impl Staged {
    /// Makes the new RAG files visible (each by an atomic rename) and saves the cache.
    pub fn publish(mut self) -> Result<ExportReport, ExportError> {
        for (tmp, path) in &self.renames {
            std::fs::rename(tmp, path).map_err(|e| ExportError::Write {
                path: path.clone(),
                detail: e.to_string(),
            })?;
        }
        if let Err(e) = self.cache.save(&self.keep) {
            tracing::warn!("embedding cache not saved: {e}");
        }
        Ok(self.report)
    }

    /// Throws the staged files away.
    pub fn discard(self) {
        for (tmp, _) in &self.renames {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

struct Collection {
    rag: String,
    collection: &'static str,
    pages: usize,
    files: Vec<(String, String, Vec<chunk::Chunk>)>, // (path, hash, chunks)
}

fn collect(
    data: &DataDir,
    collection: &'static str,
    rag: String,
    chunk_size: usize,
    overlap: usize,
) -> Result<Option<Collection>, ExportError> {
    let store = Store::new(data.mirror().join(collection));
    let Some(generation) = store.current()? else {
        return Ok(None);
    };
    let pages_dir = store.current_link().join("pages");
    let mut files = Vec::new();
    for (file, rec) in &generation.manifest.pages {
        // Generated CLI man pages stay in the search index; AIChat gets the documentation.
        if collection == "docs" && file.starts_with("reference/manpages/") {
            continue;
        }
        let text = generation.read(file)?;
        let chunks = chunk_page(&Page::parse(&text), chunk_size, overlap);
        if chunks.is_empty() {
            continue;
        }
        files.push((
            pages_dir.join(file).display().to_string(),
            rec.hash.clone(),
            chunks,
        ));
    }
    Ok(Some(Collection {
        rag,
        collection,
        pages: files.len(),
        files,
    }))
}

fn encode(v: &[f32]) -> String {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Writes `text` to `path` through a temporary file and a rename.
pub fn write_atomically(path: &Path, text: &str) -> Result<(), ExportError> {
    let tmp = write_tmp(path, text)?;
    std::fs::rename(&tmp, path).map_err(|e| ExportError::Write {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })
}

/// Writes `text` next to `path` in a temporary file, to be renamed into place later.
fn write_tmp(path: &Path, text: &str) -> Result<PathBuf, ExportError> {
    let err = |e: std::io::Error| ExportError::Write {
        path: path.to_path_buf(),
        detail: e.to_string(),
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(err)?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    std::fs::write(&tmp, text).map_err(err)?;
    Ok(tmp)
}

/// Prepares the export: chunks, embeddings (new chunks only), RAG files in temporary files.
pub async fn stage(data: &DataDir, opts: &ExportOptions) -> Result<Staged, ExportError> {
    let start = Instant::now();
    let paths = AichatPaths::discover();
    let cfg = AichatConfig::load(&paths.config_file)?;
    let model = opts
        .embedding_model
        .clone()
        .or(cfg.rag_embedding_model.clone())
        .ok_or_else(|| AichatError::NoEmbeddingModel {
            path: paths.config_file.clone(),
        })?;
    let endpoint = cfg.endpoint(&model, Some("embedding"), &paths.config_file)?;
    let chunk_size = opts
        .chunk_size
        .or(cfg.rag_chunk_size)
        .or(endpoint.model.default_chunk_size)
        .unwrap_or(DEFAULT_CHUNK_SIZE);
    let overlap = cfg.rag_chunk_overlap.unwrap_or(chunk_size / 20);
    let name = if opts.name.is_empty() {
        "incus".to_string()
    } else {
        opts.name.clone()
    };
    let rags_dir = opts.rags_dir.clone().unwrap_or(paths.rags_dir.clone());

    let mut collections = Vec::new();
    for (collection, rag) in [("docs", name.clone()), ("local", format!("{name}-local"))] {
        if let Some(c) = collect(data, collection, rag, chunk_size, overlap)?
            && !c.files.is_empty()
        {
            collections.push(c);
        }
    }
    if collections.iter().all(|c| c.collection != "docs") {
        return Err(ExportError::EmptyMirror(data.mirror()));
    }

    // Embed what the cache does not have.
    let embedder = Embedder::new(endpoint.clone(), chunk_size);
    let mut cache = Cache::open(&data.cache().join("embeddings"), &model);
    let mut keep = HashSet::new();
    let mut missing: Vec<String> = Vec::new();
    let mut total = 0;
    for c in &collections {
        for (_, _, chunks) in &c.files {
            for ch in chunks {
                total += 1;
                let k = embed::key(&ch.text);
                if keep.insert(k) && cache.get(&k).is_none() {
                    missing.push(ch.text.clone());
                }
            }
        }
    }
    let embedded = missing.len();
    if !missing.is_empty() {
        let vectors = embedder.embed(missing.clone()).await?;
        for (t, v) in missing.iter().zip(vectors) {
            cache.insert(embed::key(t), v);
        }
    }

    let mut renames = Vec::new();
    let mut rags = Vec::new();
    for c in &collections {
        let mut data_out = RagData {
            embedding_model: model.clone(),
            chunk_size,
            chunk_overlap: overlap,
            reranker_model: cfg.rag_reranker_model.clone(),
            top_k: cfg.rag_top_k.unwrap_or(5),
            batch_size: endpoint.model.max_batch_size,
            next_file_id: c.files.len(),
            document_paths: c.files.iter().map(|(p, _, _)| p.clone()).collect(),
            files: BTreeMap::new(),
            vectors: BTreeMap::new(),
        };
        let mut chunks = 0;
        for (id, (path, hash, file_chunks)) in c.files.iter().enumerate() {
            let mut documents = Vec::new();
            for (i, ch) in file_chunks.iter().enumerate() {
                let v = cache
                    .get(&embed::key(&ch.text))
                    .expect("every chunk was embedded");
                data_out.vectors.insert(format!("{id}-{i}"), encode(v));
                documents.push(RagDocument {
                    page_content: ch.text.clone(),
                    metadata: BTreeMap::from([
                        ("url".to_string(), ch.url.clone()),
                        ("section".to_string(), ch.section.clone()),
                    ]),
                });
                chunks += 1;
            }
            data_out.files.insert(
                id,
                RagFile {
                    hash: hash.clone(),
                    path: path.clone(),
                    documents,
                },
            );
        }
        let yaml = serde_yaml::to_string(&data_out).expect("RAG data serializes");
        let path = rags_dir.join(format!("{}.yaml", c.rag));
        let changed = std::fs::read_to_string(&path).map_or(true, |old| old != yaml);
        if changed {
            renames.push((write_tmp(&path, &yaml)?, path.clone()));
        }
        rags.push(RagReport {
            name: c.rag.clone(),
            collection: c.collection.to_string(),
            path,
            pages: c.pages,
            chunks,
            changed,
        });
    }

    // The role: installed when missing, updated when it is still incus-ai's own.
    let role_path = paths.roles_dir.join(format!("{name}.md"));
    let role = match std::fs::read_to_string(&role_path) {
        Ok(old) if old == ROLE => Some(role_path.clone()),
        Ok(old) if !old.contains(ROLE_MARKER) => None,
        _ => {
            renames.push((write_tmp(&role_path, ROLE)?, role_path.clone()));
            Some(role_path)
        }
    };

    let report = ExportReport {
        rags,
        embedding_model: model,
        chunk_size,
        embedded,
        cached: total - embedded,
        embedding_calls: embedder.calls(),
        role: role.clone(),
        try_command: format!(
            "aichat --rag {name}{} \"how do I remove a dead cluster member?\"",
            if role.is_some() {
                format!(" --role {name}")
            } else {
                String::new()
            }
        ),
        elapsed_ms: start.elapsed().as_millis() as u64,
    };
    Ok(Staged {
        renames,
        cache,
        keep,
        report,
    })
}

/// Stages and publishes an export.
pub async fn export(data: &DataDir, opts: &ExportOptions) -> Result<ExportReport, ExportError> {
    stage(data, opts).await?.publish()
}
