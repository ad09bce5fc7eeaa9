//! The dense half of the index: a vector per section, from the local embedding model, kept
//! with the index generation. Only sections of pages that changed are embedded, and a text
//! already embedded (in any data dir of the user) comes from the cache. Without a model
//! folder the index is BM25 alone, and says so.

use std::collections::HashSet;
use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use super::IndexError;
use super::schema;
use super::vectors::{Entry, Vectors};
use crate::knowledge::Collection;
use crate::knowledge::document::Page;
use crate::knowledge::embed::{self, Cache, LocalModel};

/// What the dense half did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct DenseReport {
    /// The model, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Sections with a vector in the index now.
    pub vectors: usize,
    /// Texts embedded by this update.
    pub embedded: usize,
    /// Texts taken from the cache.
    pub cached: usize,
    /// Tokens embedded.
    pub tokens: usize,
    /// Time spent embedding, in milliseconds.
    pub embed_ms: u64,
    /// Why search is BM25 alone (no or a damaged model folder).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

/// The pages the index holds after the update: key, collection and a way to read the page.
pub struct PageSource<'a> {
    /// `<collection>/<file>` of each page.
    pub keys: Vec<(String, Collection)>,
    /// Reads the page of a key.
    pub read: &'a dyn Fn(&str) -> Result<Page, IndexError>,
}

/// Builds the vectors of the new generation in `tmp`: the previous generation's vectors of
/// unchanged pages (when they come from the same model), new ones for `changed` pages.
/// `model_dir` is `None` when dense search is off; `quiet` hides the progress bar.
pub fn update(
    model_dir: Option<&Path>,
    quiet: bool,
    previous: Option<&Path>,
    tmp: &Path,
    pages: &PageSource,
    changed: &[String],
) -> Result<DenseReport, IndexError> {
    let mut report = DenseReport::default();
    let Some(dir) = model_dir else {
        return Ok(report);
    };
    let model = match LocalModel::load(dir) {
        Ok(m) => m,
        Err(e) => {
            report.unavailable = Some(format!("{e}; search uses BM25 only"));
            let _ = std::fs::remove_file(tmp.join(super::vectors::FILE));
            return Ok(report);
        }
    };
    let id = embed::model_id(dir);
    report.model = Some(id.clone());
    let old = previous
        .and_then(Vectors::read)
        .filter(|v| v.model == id && v.dim == model.dimensions());
    let changed: HashSet<&str> = changed.iter().map(String::as_str).collect();
    let keep: HashSet<u64> = pages
        .keys
        .iter()
        .filter(|(k, _)| !changed.contains(k.as_str()))
        .map(|(k, _)| schema::page_id(k))
        .collect();
    let (mut vectors, todo): (Vectors, Vec<&(String, Collection)>) = match old {
        Some(mut v) => {
            v.retain_pages(|p| keep.contains(&p));
            let have: HashSet<u64> = v.entries.iter().map(|e| e.page_id).collect();
            let todo = pages
                .keys
                .iter()
                .filter(|(k, _)| !have.contains(&schema::page_id(k)))
                .collect();
            (v, todo)
        }
        None => (
            Vectors::new(&id, model.dimensions()),
            pages.keys.iter().collect(),
        ),
    };
    let mut texts: Vec<(Entry, String)> = Vec::new();
    for (key, collection) in todo {
        let page = (pages.read)(key)?;
        for (ordinal, s) in page.sections.iter().enumerate() {
            let entry = Entry {
                page_id: schema::page_id(key),
                section_id: schema::section_id(key, ordinal),
                collection: *collection,
            };
            texts.push((entry, embed::section_text(&page, s)));
        }
    }
    let mut cache = Cache::open(&embed::cache_dir(), &format!("local-{id}"));
    // A vector of another size is not this model's (a replaced folder under the same name).
    let dim = model.dimensions();
    let usable = |cache: &Cache, t: &str| {
        cache
            .get(&embed::cache::key(t))
            .filter(|v| v.len() == dim)
            .is_some()
    };
    let missing: Vec<&str> = {
        let mut seen = HashSet::new();
        texts
            .iter()
            .map(|(_, t)| t.as_str())
            .filter(|t| !usable(&cache, t) && seen.insert(*t))
            .collect()
    };
    report.embedded = missing.len();
    report.cached = texts.len() - missing.len();
    if !missing.is_empty() {
        let start = Instant::now();
        report.tokens = missing
            .iter()
            .map(|t| model.count_tokens(t).min(model.max_tokens()))
            .sum();
        let run = |e: embed::ModelError| IndexError::Embed {
            path: dir.to_path_buf(),
            detail: e.to_string(),
        };
        let bar = crate::util::progress::Progress::new("embedding", quiet);
        bar.set_length(missing.len() as u64);
        let out = model
            .embed_with(&missing, &mut |n| bar.inc(n as u64))
            .map_err(run)?;
        bar.finish();
        for (t, v) in missing.iter().zip(out) {
            cache.insert(embed::cache::key(t), v);
        }
        report.embed_ms = start.elapsed().as_millis() as u64;
        if let Err(e) = cache.save_all(embed::cache::MAX_SHARED) {
            tracing::warn!("embedding cache not saved: {e}");
        }
    }
    for (entry, t) in &texts {
        if let Some(v) = cache.get(&embed::cache::key(t)) {
            vectors.push(*entry, v);
        }
    }
    report.vectors = vectors.entries.len();
    vectors.write(tmp).map_err(|source| IndexError::Io {
        path: tmp.join(super::vectors::FILE),
        source,
    })?;
    Ok(report)
}

/// The report of an update that changed nothing: the vectors the current generation holds.
pub fn unchanged(current: &Path) -> DenseReport {
    match Vectors::read(current) {
        Some(v) => DenseReport {
            model: Some(v.model.clone()),
            vectors: v.entries.len(),
            ..DenseReport::default()
        },
        None => DenseReport::default(),
    }
}

/// Whether the current generation's vectors are complete for the model in `model_dir`: then
/// an update with no page changed needs no new generation.
pub fn up_to_date(model_dir: Option<&Path>, current: Option<&Path>) -> bool {
    let Some(dir) = model_dir else { return true };
    if !dir.join("model.safetensors").is_file() {
        // No model: whatever vectors exist stay as they are.
        return true;
    }
    current
        .and_then(Vectors::read)
        .is_some_and(|v| v.model == embed::model_id(dir))
}
