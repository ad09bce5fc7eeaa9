//! The chunks of each collection, made of the index's sections (no page is parsed again), and
//! their vectors: the sections' own vectors from the index when the RAG uses the local model
//! (nothing is embedded twice), else the chunk texts embedded through AIChat's endpoint.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::aichat::chunk::{Chunk, chunk_sections};
use crate::aichat::embed::{self, Cache};
use crate::knowledge::Collection;
use crate::knowledge::index::sections::StoredSection;
use crate::knowledge::index::vectors::Vectors;
use crate::knowledge::mirror::store::Store;
use crate::util::paths::DataDir;

use super::ExportError;

/// The chunks of one collection, for one RAG file.
pub(super) struct Part {
    pub rag: String,
    pub collection: Collection,
    pub pages: usize,
    /// (mirrored file path, its hash, its chunks)
    pub files: Vec<(String, String, Vec<Chunk>)>,
}

/// The chunks of `collection`'s pages (from `sections`, the index read back), with the mirrored
/// file and hash of each page (so that `aichat --rebuild-rag` changes nothing).
pub(super) fn part(
    data: &DataDir,
    collection: Collection,
    rag: String,
    sections: &BTreeMap<String, Vec<StoredSection>>,
    chunk_size: usize,
    overlap: usize,
) -> Result<Option<Part>, ExportError> {
    let store = Store::new(data.mirror().join(collection.as_str()));
    let Some(generation) = store.current()? else {
        return Ok(None);
    };
    let pages_dir = store.current_link().join("pages");
    let prefix = format!("{}/", collection.as_str());
    let mut files = Vec::new();
    for (file, rec) in &generation.manifest.pages {
        // Generated CLI man pages stay in the search index; AIChat gets the documentation.
        if collection == Collection::Docs && file.starts_with("reference/manpages/") {
            continue;
        }
        let Some(page) = sections.get(&format!("{prefix}{file}")) else {
            continue;
        };
        let mut chunks = chunk_sections(page, chunk_size, overlap);
        for ch in &mut chunks {
            if let std::borrow::Cow::Owned(t) = crate::util::text::defuse_prompt_tags(&ch.text) {
                ch.text = t;
            }
            // The site's notes go to an embedding endpoint and a model: without secrets.
            if collection == Collection::Local
                && let std::borrow::Cow::Owned(t) = crate::util::redact::text(&ch.text)
            {
                ch.text = t;
            }
        }
        if !chunks.is_empty() {
            files.push((
                pages_dir.join(file).display().to_string(),
                rec.hash.clone(),
                chunks,
            ));
        }
    }
    Ok(Some(Part {
        rag,
        collection,
        pages: files.len(),
        files,
    }))
}

/// Where the chunks' vectors come from.
pub(super) enum ChunkVectors {
    /// The index's section vectors (the local model made them): a chunk's vector is the mean
    /// of the vectors of the sections whose opening it holds; a later part of a long section
    /// has none (AIChat finds it by its words).
    Index(HashMap<u64, Vec<f32>>),
    /// Vectors of the chunk texts, embedded through the RAG's endpoint.
    Cache(Cache),
}

impl ChunkVectors {
    /// The index's vectors in `dir` when they were made by `model` (the folder's name).
    pub fn from_index(dir: &Path, model: &str) -> Option<ChunkVectors> {
        let v = Vectors::read(dir).filter(|v| v.model == model && v.dim > 0)?;
        let by_section = v
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.section_id, v.vector(i).to_vec()))
            .collect();
        Some(ChunkVectors::Index(by_section))
    }

    /// The vector of `chunk`, when it has one.
    pub fn of(&self, chunk: &Chunk) -> Option<Vec<f32>> {
        match self {
            ChunkVectors::Cache(c) => c.get(&embed::key(&chunk.text)).cloned(),
            ChunkVectors::Index(by_section) => {
                let vs: Vec<&Vec<f32>> = chunk
                    .openings
                    .iter()
                    .filter_map(|id| by_section.get(id))
                    .collect();
                let first = vs.first()?;
                let mut sum = vec![0f32; first.len()];
                for v in &vs {
                    for (s, x) in sum.iter_mut().zip(v.iter()) {
                        *s += x;
                    }
                }
                let norm = sum.iter().map(|x| x * x).sum::<f32>().sqrt();
                (norm > 0.0).then(|| sum.iter().map(|x| x / norm).collect())
            }
        }
    }
}
