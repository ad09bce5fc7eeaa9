//! `incus-ai export aichat`: the index's collections as AIChat RAG files, ready for
//! `aichat --rag incus` without any rebuild inside AIChat.
//!
//! `<rags dir>/incus.yaml` holds the docs, `<rags dir>/incus-local.yaml` the site's notes and
//! installation snapshot. Each file's documents point at the mirrored markdown with its exact
//! hash, and `document_paths` lists those files, so `aichat --rebuild-rag` finds nothing to do.
//! An export is staged in temporary files and published by renaming them, so a failing
//! endpoint or a killed run leaves the previous RAG files as they were.


use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::knowledge::document::Page;
use crate::knowledge::Collection;
use crate::knowledge::mirror::store::{Store, StoreError};
use crate::util::generations::Generations;
use crate::util::paths::DataDir;
use crate::aichat::config::{AichatConfig, AichatError, AichatPaths};
use crate::aichat::chunk::{self, chunk_page};
use crate::aichat::embed::{self, Cache, EmbedError, Embedder};

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
    /// Nothing mirrored yet.
    #[error(
        "nothing to export: the mirror at {0} is empty; run `incus-ai mirror` (or `incus-ai refresh`) first"
    )]
    EmptyMirror(PathBuf),
    /// A RAG name that cannot be a file name.
    #[error("bad RAG name {0:?}: use letters, digits, '-', '_' and '.' (not first)")]
    BadName(String),
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
    /// What the user should know (the embedding model changed size, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Wall time in milliseconds.
    pub elapsed_ms: u64,
}

/// An export written to a new generation of RAG files, not yet visible to AIChat.
///
/// The RAG files of one name live in `<data dir>/aichat/<name>/gen-N/` and AIChat's
/// `<rags dir>/<name>.yaml` and `<name>-local.yaml` are links to `current/`, so publishing
/// switches both files at once with one rename, and [`Published::rollback`] switches back.
pub struct Staged {
    gens: Generations,
    /// The new generation (name, temporary folder), when a file changed.
    pending: Option<(String, PathBuf)>,
    /// `<rags dir>/<file>` links to make, with their targets.
    links: Vec<(PathBuf, PathBuf)>,
    /// The role file, when it is to be written.
    role: Option<(PathBuf, tempfile::NamedTempFile)>,
    cache: Cache,
    keep: HashSet<[u8; 32]>,
    /// The report.
    pub report: ExportReport,
}

/// A published export, which can still be switched back to the previous RAG files.
pub struct Published {
    gens: Generations,
    previous: Option<String>,
    switched: bool,
    /// The report.
    pub report: ExportReport,
}

impl Published {
    /// Makes the previous RAG files current again (when publishing what goes with them
    /// failed). The role and the embedding cache stay as written.
    pub fn rollback(self) {
        if let (true, Some(prev)) = (self.switched, &self.previous) {
            let _ = self.gens.relink(prev);
        }
    }
}

fn write_err(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
    move |e| ExportError::Write {
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}

impl Staged {
    /// Makes the new RAG files visible (one rename switches them all), links them into
    /// AIChat's rags dir, installs the role and saves the cache.
    pub fn publish(mut self) -> Result<Published, ExportError> {
        let previous = self.gens.current_name();
        let mut switched = false;
        if let Some((name, tmp)) = self.pending.take() {
            self.gens
                .publish(&name, &tmp)
                .map_err(write_err(self.gens.root()))?;
            switched = true;
        }
        for (link, target) in &self.links {
            if std::fs::read_link(link).is_ok_and(|t| t == *target) {
                continue;
            }
            let tmp = link.with_file_name(format!(
                ".{}.link.tmp",
                link.file_name().unwrap_or_default().to_string_lossy()
            ));
            let _ = std::fs::remove_file(&tmp);
            if let Some(dir) = link.parent() {
                std::fs::create_dir_all(dir).map_err(write_err(dir))?;
            }
            std::os::unix::fs::symlink(target, &tmp).map_err(write_err(link))?;
            std::fs::rename(&tmp, link).map_err(write_err(link))?;
        }
        if let Some((path, tmp)) = self.role.take() {
            tmp.persist(&path).map_err(|e| write_err(&path)(e.error))?;
        }
        if let Err(e) = self.cache.save(&self.keep) {
            tracing::warn!("embedding cache not saved: {e}");
        }
        Ok(Published {
            gens: self.gens,
            previous,
            switched,
            report: self.report,
        })
    }

    /// Throws the staged files away.
    pub fn discard(mut self) {
        if let Some((_, tmp)) = self.pending.take() {
            let _ = std::fs::remove_dir_all(tmp);
        }
    }
}

struct Part {
    rag: String,
    collection: Collection,
    pages: usize,
    files: Vec<(String, String, Vec<chunk::Chunk>)>, // (path, hash, chunks)
}

fn collect(
    data: &DataDir,
    collection: Collection,
    rag: String,
    chunk_size: usize,
    overlap: usize,
) -> Result<Option<Part>, ExportError> {
    let store = Store::new(data.mirror().join(collection.as_str()));
    let Some(generation) = store.current()? else {
        return Ok(None);
    };
    let pages_dir = store.current_link().join("pages");
    let mut files = Vec::new();
    for (file, rec) in &generation.manifest.pages {
        // Generated CLI man pages stay in the search index; AIChat gets the documentation.
        if collection == Collection::Docs && file.starts_with("reference/manpages/") {
            continue;
        }
        let text = generation.read_verified(file)?;
        let mut chunks = chunk_page(&Page::parse(&text), chunk_size, overlap);
        for ch in &mut chunks {
            if let std::borrow::Cow::Owned(t) = crate::util::text::defuse_prompt_tags(&ch.text) {
                ch.text = t;
            }
        }
        if chunks.is_empty() {
            continue;
        }
        files.push((
            pages_dir.join(file).display().to_string(),
            rec.hash.clone(),
            chunks,
        ));
    }
    Ok(Some(Part {
        rag,
        collection,
        pages: files.len(),
        files,
    }))
}

/// A RAG name is a plain file name: `incus`, `incus-test`, `docs_6.0`.
pub fn valid_rag_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn encode(v: &[f32]) -> String {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Writes `text` to `path` through a temporary file and a rename.
pub fn write_atomically(path: &Path, text: &str) -> Result<(), ExportError> {
    crate::util::fsx::write_atomic(path, text.as_bytes()).map_err(write_err(path))
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
    if !valid_rag_name(&name) {
        return Err(ExportError::BadName(name));
    }
    let rags_dir = opts.rags_dir.clone().unwrap_or(paths.rags_dir.clone());

    let mut collections = Vec::new();
    for (collection, rag) in [
        (Collection::Docs, name.clone()),
        (Collection::Local, format!("{name}-local")),
    ] {
        if let Some(c) = collect(data, collection, rag, chunk_size, overlap)?
            && !c.files.is_empty()
        {
            collections.push(c);
        }
    }
    if collections.iter().all(|c| c.collection != Collection::Docs) {
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
    let mut embedded = missing.len();
    let mut dims_changed = None;
    if !missing.is_empty() {
        let vectors = embedder.embed(missing.clone()).await?;
        let dim = vectors.first().map_or(0, Vec::len);
        // Cached vectors of another size: the model behind this name changed. Everything is
        // embedded again with it, or nothing is published.
        let stale = keep
            .iter()
            .filter_map(|k| cache.get(k))
            .find(|v| v.len() != dim)
            .map(Vec::len);
        for (t, v) in missing.iter().zip(vectors) {
            cache.insert(embed::key(t), v);
        }
        if let Some(old) = stale {
            tracing::warn!(
                "embedding model {model} now answers {dim}-dimension vectors (the cache holds {old}): embedding every chunk again"
            );
            dims_changed = Some(format!(
                "embedding model {model} changed from {old} to {dim} dimensions: every chunk was embedded again"
            ));
            let mut again: Vec<String> = Vec::new();
            let mut seen = HashSet::new();
            for c in &collections {
                for (_, _, chunks) in &c.files {
                    for ch in chunks {
                        let k = embed::key(&ch.text);
                        if seen.insert(k) && cache.get(&k).is_some_and(|v| v.len() != dim) {
                            again.push(ch.text.clone());
                        }
                    }
                }
            }
            let vectors = embedder.embed(again.clone()).await?;
            embedded += again.len();
            for (t, v) in again.iter().zip(vectors) {
                cache.insert(embed::key(t), v);
            }
        }
    }
    // Never a RAG AIChat cannot load: one size for every vector it holds.
    embed::check_dimensions(
        &model,
        keep.iter().filter_map(|k| cache.get(k)).map(Vec::len),
    )?;

    let gens = Generations::new(data.aichat().join(&name));
    let current = gens.current();
    let mut staged_files: Vec<(String, String)> = Vec::new();
    let mut links = Vec::new();
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
                let Some(v) = cache.get(&embed::key(&ch.text)) else {
                    continue;
                };
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
        let yaml = serde_yaml::to_string(&data_out).map_err(|e| ExportError::Write {
            path: rags_dir.clone(),
            detail: format!("cannot serialize the RAG: {e}"),
        })?;
        let file = format!("{}.yaml", c.rag);
        let path = rags_dir.join(&file);
        let changed = current
            .as_ref()
            .and_then(|d| std::fs::read_to_string(d.join(&file)).ok())
            .is_none_or(|old| old != yaml);
        let target = gens.current_link().join(&file);
        links.push((path.clone(), std::path::absolute(&target).unwrap_or(target)));
        staged_files.push((file, yaml));
        rags.push(RagReport {
            name: c.rag.clone(),
            collection: c.collection,
            path,
            pages: c.pages,
            chunks,
            changed,
        });
    }
    // A new generation holds every file of this name, changed or not.
    let pending = if rags.iter().any(|r| r.changed) {
        let (gen_name, tmp) = gens.begin().map_err(write_err(gens.root()))?;
        std::fs::create_dir_all(&tmp).map_err(write_err(&tmp))?;
        for (file, yaml) in &staged_files {
            let p = tmp.join(file);
            std::fs::write(&p, yaml).map_err(write_err(&p))?;
        }
        Some((gen_name, tmp))
    } else {
        None
    };

    // The role: installed when missing, updated when it is still incus-ai's own.
    let role_path = paths.roles_dir.join(format!("{name}.md"));
    let mut role_tmp = None;
    let role = match std::fs::read_to_string(&role_path) {
        Ok(old) if old == ROLE => Some(role_path.clone()),
        Ok(old) if !old.contains(ROLE_MARKER) => None,
        _ => {
            let tmp = crate::util::fsx::write_temp(&role_path, ROLE.as_bytes())
                .map_err(write_err(&role_path))?;
            role_tmp = Some((role_path.clone(), tmp));
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
        notes: dims_changed.into_iter().collect(),
        elapsed_ms: start.elapsed().as_millis() as u64,
    };
    Ok(Staged {
        gens,
        pending,
        links,
        role: role_tmp,
        cache,
        keep,
        report,
    })
}

/// Stages and publishes an export.
pub async fn export(data: &DataDir, opts: &ExportOptions) -> Result<ExportReport, ExportError> {
    Ok(stage(data, opts).await?.publish()?.report)
}
