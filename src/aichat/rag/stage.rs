//! Staging an export: the settings from AIChat's configuration, the chunks of each collection,
//! the embeddings of the chunks the cache does not have (all of them again when the model
//! changed size), and a new generation of RAG files and the role, not yet visible.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::RagReport;
use super::collect::{ChunkVectors, Part, part};
use super::format::{RagData, RagDocument, RagFile, encode, valid_rag_name};
use super::publish::{Staged, write_err};
use super::{DEFAULT_CHUNK_SIZE, ExportError, ExportOptions, ExportReport, ROLE, ROLE_MARKER};
use crate::aichat::config::{AichatConfig, AichatError, AichatPaths, Endpoint};
use crate::aichat::embed::{self, Cache, Embedder};
use crate::aichat::local_client;
use crate::knowledge::Collection;
use crate::util::generations::Generations;
use crate::util::paths::DataDir;

/// What the export uses, resolved from the options and AIChat's configuration.
struct Settings {
    name: String,
    model: String,
    endpoint: Endpoint,
    chunk_size: usize,
    overlap: usize,
    rags_dir: PathBuf,
    roles_dir: PathBuf,
    reranker: Option<String>,
    top_k: usize,
    /// The model run in process, when the endpoint is incus-ai's own.
    local: Option<std::sync::Arc<crate::knowledge::embed::LocalModel>>,
    /// What the user should know about the settings.
    notes: Vec<String>,
}

fn settings(opts: &ExportOptions) -> Result<Settings, ExportError> {
    let paths = AichatPaths::discover();
    let mut cfg = AichatConfig::load(&paths.config_file)?;
    let mut notes = Vec::new();
    if opts.use_local_model {
        let local = opts.local_model.as_ref().ok_or_else(|| {
            ExportError::LocalModel(
                "the embedding model is turned off ([embeddings] enabled = false)".into(),
            )
        })?;
        crate::knowledge::embed::shared(&local.dir).map_err(ExportError::LocalModel)?;
        let admins = opts
            .embedding_model
            .clone()
            .or(cfg.rag_embedding_model.clone());
        let added = local_client::install(
            &paths.config_file,
            &local.api_base,
            &crate::knowledge::embed::model_id(&local.dir),
            crate::aichat::serve::MAX_BATCH,
            admins.is_none(),
        )?;
        if let Some(b) = &added.backup {
            notes.push(format!(
                "AIChat's {} now has the {} client ({}backup in {}); `incus-ai serve` must be running when you use `aichat --rag`",
                paths.config_file.display(),
                local_client::CLIENT,
                if added.set_default {
                    format!("embedding model {}, ", added.model)
                } else {
                    String::new()
                },
                b.display()
            ));
        }
        cfg = AichatConfig::load(&paths.config_file)?;
        match admins {
            None if cfg.rag_embedding_model.is_none() => {
                cfg.rag_embedding_model = Some(added.model);
            }
            None => {}
            Some(m) => notes.push(format!(
                "--use-local-model: AIChat's embedding model {m} is kept; incus-ai's reranker orders what it finds"
            )),
        }
    }
    let model = opts
        .embedding_model
        .clone()
        .or(cfg.rag_embedding_model.clone())
        .ok_or_else(|| AichatError::NoEmbeddingModel {
            path: paths.config_file.clone(),
        })?;
    let endpoint = cfg.endpoint(&model, Some("embedding"), &paths.config_file)?;
    // The endpoint of `incus-ai serve` with the model it serves: computed here, in process.
    let local = opts
        .local_model
        .as_ref()
        .filter(|l| {
            let client = model.split_once(':').map_or("", |(c, _)| c);
            (endpoint.api_base == l.api_base.trim_end_matches('/')
                || client == local_client::CLIENT)
                && endpoint.wire_name == crate::knowledge::embed::model_id(&l.dir)
        })
        .map(|l| crate::knowledge::embed::shared(&l.dir).map_err(ExportError::LocalModel))
        .transpose()?;
    let chunk_size = opts
        .chunk_size
        .or(cfg.rag_chunk_size)
        .or(endpoint.model.default_chunk_size)
        .unwrap_or(DEFAULT_CHUNK_SIZE);
    let name = if opts.name.is_empty() {
        "incus".to_string()
    } else {
        opts.name.clone()
    };
    if !valid_rag_name(&name) {
        return Err(ExportError::BadName(name));
    }
    // An admin's own reranker is kept; with incus-ai's client in AIChat, incus-ai reranks.
    let ours = format!("{}:{}", local_client::CLIENT, local_client::RERANKER);
    let has_client = cfg
        .clients
        .iter()
        .any(|c| c.name.as_deref() == Some(local_client::CLIENT));
    let reranker = cfg
        .rag_reranker_model
        .clone()
        .or(has_client.then_some(ours.clone()));
    let ours_reranks = reranker.as_deref() == Some(ours.as_str());
    Ok(Settings {
        name,
        model,
        endpoint,
        chunk_size,
        overlap: cfg.rag_chunk_overlap.unwrap_or(chunk_size / 20),
        rags_dir: opts.rags_dir.clone().unwrap_or(paths.rags_dir.clone()),
        roles_dir: paths.roles_dir.clone(),
        reranker: reranker.clone(),
        // incus-ai's reranker gets a wide pool and sends back only what is worth the context.
        top_k: if ours_reranks {
            super::RERANK_TOP_K
        } else {
            cfg.rag_top_k.unwrap_or(5)
        },
        local,
        notes,
    })
}

/// The chunk texts of every part, each once, in order.
fn texts(parts: &[Part]) -> Vec<&str> {
    let mut seen = HashSet::new();
    parts
        .iter()
        .flat_map(|p| &p.files)
        .flat_map(|(_, _, chunks)| chunks)
        .map(|ch| ch.text.as_str())
        .filter(|t| seen.insert(embed::key(t)))
        .collect()
}

/// What embedding did.
struct Embedded {
    keep: HashSet<[u8; 32]>,
    embedded: usize,
    /// Set when the model changed size and everything was embedded again.
    note: Option<String>,
}

/// Embeds the chunks the cache lacks; when the model now answers vectors of another size than
/// the cache holds, embeds every chunk again. Fails unless every vector has one size.
async fn embed_missing(
    parts: &[Part],
    embedder: &Embedder,
    cache: &mut Cache,
    model: &str,
) -> Result<Embedded, ExportError> {
    let all = texts(parts);
    let keep: HashSet<[u8; 32]> = all.iter().map(|t| embed::key(t)).collect();
    let missing: Vec<String> = all
        .iter()
        .filter(|t| cache.get(&embed::key(t)).is_none())
        .map(|t| t.to_string())
        .collect();
    let mut out = Embedded {
        embedded: missing.len(),
        keep,
        note: None,
    };
    if missing.is_empty() {
        return Ok(out);
    }
    let vectors = embedder.embed(missing.clone()).await?;
    let dim = vectors.first().map_or(0, Vec::len);
    let stale = out
        .keep
        .iter()
        .filter_map(|k| cache.get(k))
        .find(|v| v.len() != dim)
        .map(Vec::len);
    for (t, v) in missing.iter().zip(vectors) {
        cache.insert(embed::key(t), v);
    }
    if let Some(old) = stale {
        tracing::warn!(
            "embedding model {model} now answers {dim} dimensions (the cache holds {old}): embedding every chunk again"
        );
        out.note = Some(format!(
            "embedding model {model} changed from {old} to {dim} dimensions: every chunk was embedded again"
        ));
        let again: Vec<String> = all
            .iter()
            .filter(|t| cache.get(&embed::key(t)).is_some_and(|v| v.len() != dim))
            .map(|t| t.to_string())
            .collect();
        let vectors = embedder.embed(again.clone()).await?;
        out.embedded += again.len();
        for (t, v) in again.iter().zip(vectors) {
            cache.insert(embed::key(t), v);
        }
    }
    // Never a RAG AIChat cannot load: one size for every vector it holds.
    embed::check_dimensions(
        model,
        out.keep.iter().filter_map(|k| cache.get(k)).map(Vec::len),
    )?;
    Ok(out)
}

/// The RAG file of one part, and its number of chunks.
fn rag_of(part: &Part, s: &Settings, vectors: &ChunkVectors) -> (RagData, usize) {
    let mut data = RagData {
        embedding_model: s.model.clone(),
        chunk_size: s.chunk_size,
        chunk_overlap: s.overlap,
        reranker_model: s.reranker.clone(),
        top_k: s.top_k,
        batch_size: s.endpoint.model.max_batch_size,
        next_file_id: part.files.len(),
        document_paths: part.files.iter().map(|(p, _, _)| p.clone()).collect(),
        files: BTreeMap::new(),
        vectors: BTreeMap::new(),
    };
    let mut chunks = 0;
    for (id, (path, hash, file_chunks)) in part.files.iter().enumerate() {
        let mut documents = Vec::new();
        for (i, ch) in file_chunks.iter().enumerate() {
            // A chunk without a vector (a later part of a long section) is found by its words.
            if let Some(v) = vectors.of(ch) {
                data.vectors.insert(format!("{id}-{i}"), encode(&v));
            }
            documents.push(RagDocument {
                page_content: ch.text.clone(),
                metadata: BTreeMap::from([
                    ("url".to_string(), ch.url.clone()),
                    ("section".to_string(), ch.section.clone()),
                ]),
            });
            chunks += 1;
        }
        data.files.insert(
            id,
            RagFile {
                hash: hash.clone(),
                path: path.clone(),
                documents,
            },
        );
    }
    (data, chunks)
}

/// Writes every part's RAG file into a new generation when any changed; the reports and the
/// links AIChat's rags dir needs.
type Written = (
    Option<(String, PathBuf)>,
    Vec<(PathBuf, PathBuf)>,
    Vec<RagReport>,
);

fn write_generation(
    parts: &[Part],
    s: &Settings,
    vectors: &ChunkVectors,
    gens: &Generations,
) -> Result<Written, ExportError> {
    let current = gens.current();
    let mut files = Vec::new();
    let mut links = Vec::new();
    let mut rags = Vec::new();
    for part in parts {
        let (data, chunks) = rag_of(part, s, vectors);
        let yaml = serde_norway::to_string(&data).map_err(|e| ExportError::Serialize {
            name: part.rag.clone(),
            detail: e.to_string(),
        })?;
        let file = format!("{}.yaml", part.rag);
        let path = s.rags_dir.join(&file);
        let changed = current
            .as_ref()
            .and_then(|d| std::fs::read_to_string(d.join(&file)).ok())
            .is_none_or(|old| old != yaml);
        let target = gens.current_link().join(&file);
        links.push((path.clone(), std::path::absolute(&target).unwrap_or(target)));
        files.push((file, yaml));
        rags.push(RagReport {
            name: part.rag.clone(),
            collection: part.collection,
            path,
            pages: part.pages,
            chunks,
            changed,
        });
    }
    if !rags.iter().any(|r| r.changed) {
        return Ok((None, links, rags));
    }
    // A new generation holds every file of this name, changed or not.
    let (gen_name, tmp) = gens.begin().map_err(write_err(gens.root()))?;
    std::fs::create_dir_all(&tmp).map_err(write_err(&tmp))?;
    for (file, yaml) in &files {
        let p = tmp.join(file);
        std::fs::write(&p, yaml).map_err(write_err(&p))?;
    }
    Ok((Some((gen_name, tmp)), links, rags))
}

/// The role: installed when missing, updated while it is still incus-ai's own. Returns its
/// path when it is (or will be) installed, and the staged file when it is to be written.
type StagedRole = (Option<PathBuf>, Option<(PathBuf, tempfile::NamedTempFile)>);

fn stage_role(s: &Settings) -> Result<StagedRole, ExportError> {
    let path = s.roles_dir.join(format!("{}.md", s.name));
    match std::fs::read_to_string(&path) {
        Ok(old) if old == ROLE => Ok((Some(path), None)),
        Ok(old) if !old.contains(ROLE_MARKER) => Ok((None, None)),
        _ => {
            let tmp =
                crate::util::fsx::write_temp(&path, ROLE.as_bytes()).map_err(write_err(&path))?;
            Ok((Some(path.clone()), Some((path, tmp))))
        }
    }
}

/// Prepares the export from the index in `index_dir` (the one a refresh is about to publish):
/// chunks of its sections, their vectors (the index's own with the local model, else embedded,
/// new chunks only), RAG files in a new generation.
pub async fn stage(
    data: &DataDir,
    index_dir: &Path,
    opts: &ExportOptions,
) -> Result<Staged, ExportError> {
    let start = Instant::now();
    let s = settings(opts)?;
    let sections = crate::knowledge::index::sections::read_all(index_dir)?;
    let mut parts = Vec::new();
    for (collection, rag) in [
        (Collection::Docs, s.name.clone()),
        (Collection::Local, format!("{}-local", s.name)),
    ] {
        if let Some(p) = part(data, collection, rag, &sections, s.chunk_size, s.overlap)?
            && !p.files.is_empty()
        {
            parts.push(p);
        }
    }
    if parts.iter().all(|p| p.collection != Collection::Docs) {
        return Err(ExportError::EmptyMirror(data.mirror()));
    }
    // With the local model, the index's section vectors are the chunks' (computed once, by
    // the index); otherwise (or an index without them) the chunk texts are embedded.
    let from_index = s
        .local
        .as_ref()
        .and_then(|_| ChunkVectors::from_index(index_dir, &s.endpoint.wire_name));
    let total: usize = parts
        .iter()
        .flat_map(|p| &p.files)
        .map(|(_, _, c)| c.len())
        .sum();
    let (vectors, embedder, emb, cache) = match from_index {
        Some(v) => (v, None, None, None),
        None => {
            // The local model's vectors are shared with the index and every data dir of the user.
            let (embedder, mut cache, shared_cache) = match &s.local {
                Some(m) => (
                    Embedder::in_process(s.endpoint.clone(), m.clone()),
                    Cache::open(
                        &crate::knowledge::embed::cache_dir(),
                        &format!("local-{}", s.endpoint.wire_name),
                    ),
                    true,
                ),
                None => (
                    Embedder::new(s.endpoint.clone(), s.chunk_size),
                    Cache::open(&data.cache().join("embeddings"), &s.model),
                    false,
                ),
            };
            let emb = embed_missing(&parts, &embedder, &mut cache, &s.model).await?;
            let keep = (!shared_cache).then(|| emb.keep.clone());
            let vectors = ChunkVectors::Cache(cache);
            (vectors, Some(embedder), Some(emb), Some(keep))
        }
    };
    let gens = Generations::new(data.aichat().join(&s.name));
    let (pending, links, rags) = write_generation(&parts, &s, &vectors, &gens)?;
    let (role, role_tmp) = stage_role(&s)?;
    let name = &s.name;
    let embedded = emb.as_ref().map_or(0, |e| e.embedded);
    let report = ExportReport {
        rags,
        embedding_model: s.model.clone(),
        reranker: s.reranker.clone(),
        chunk_size: s.chunk_size,
        embedded,
        cached: total - embedded,
        embedding_calls: embedder.as_ref().map_or(0, Embedder::calls),
        in_process: embedder.as_ref().is_none_or(Embedder::is_in_process),
        role: role.clone(),
        try_command: format!(
            "aichat --rag {name}{} \"how do I remove a dead cluster member?\"",
            if role.is_some() {
                format!(" --role {name}")
            } else {
                String::new()
            }
        ),
        notes: s
            .notes
            .iter()
            .cloned()
            .chain(emb.and_then(|e| e.note))
            .collect(),
        elapsed_ms: start.elapsed().as_millis() as u64,
    };
    let cache = match (vectors, cache) {
        (ChunkVectors::Cache(c), Some(keep)) => Some((c, keep)),
        _ => None,
    };
    Ok(Staged {
        gens,
        pending,
        links,
        role: role_tmp,
        cache,
        report,
    })
}
