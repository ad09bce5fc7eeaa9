//! Meaning for search: a sentence-embedding model run in process ([`model`]), the text of a
//! section it embeds, where the model lives, and the cache of vectors already computed.

mod bert;
pub mod cache;
pub mod model;
pub mod remote;
mod words;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use cache::Cache;
pub use model::{LocalModel, ModelError, cosine};

use crate::knowledge::document::{Page, Section};

/// The model in `dir`, loaded once per process and shared (an MCP server reopens its index
/// after each refresh; `serve`, search and the AIChat export share one copy). A folder that
/// does not load is said once (a warning naming it and the fix); every call then gives the
/// same error, so callers fall back to BM25.
pub fn shared(dir: &Path) -> Result<Arc<LocalModel>, String> {
    type Loaded = HashMap<PathBuf, Result<Arc<LocalModel>, String>>;
    static LOADED: Mutex<Option<Loaded>> = Mutex::new(None);
    let mut guard = LOADED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let map = guard.get_or_insert_with(HashMap::new);
    map.entry(dir.to_path_buf())
        .or_insert_with(|| match LocalModel::load(dir) {
            Ok(m) => Ok(Arc::new(m)),
            Err(e) => {
                tracing::warn!("{e}; searching with BM25 only");
                Err(e.to_string())
            }
        })
        .clone()
}

/// Fixes the model's thread count for the whole process: `RAYON_NUM_THREADS` set to the
/// machine's physical cores, the number candle would choose, unless it (or candle's own
/// `CANDLE_NUM_THREADS`) is already set. Without it candle works that number out again for
/// every matrix product by reading `/proc/cpuinfo`: 48 times for a one-line query, a fifth of
/// its time (a dev-set question embedded in 24.5 ms, 18.9 ms with the count fixed).
///
/// # Safety
/// Changes the environment: call it before the process starts any other thread.
pub unsafe fn fix_thread_count() {
    if std::env::var_os("RAYON_NUM_THREADS").is_none()
        && std::env::var_os("CANDLE_NUM_THREADS").is_none()
    {
        let n = num_cpus::get_physical().max(1);
        // SAFETY: the caller guarantees no other thread runs.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", n.to_string()) };
    }
}

/// The model incus-ai installs and uses by default.
pub const DEFAULT_MODEL: &str = "all-MiniLM-L6-v2";

/// Words of a section's prose that are embedded (its opening: what the section is about).
/// Measured (`make eval`, real questions, HTML site): 48 words 0.76 recall@5, 100 words 0.78,
/// 150 words 0.80, 220 words 0.80; first embedding of the site 96 s at 100, 109 s at 150.
const OPENING_WORDS: usize = 150;

/// Where the model is: `INCUS_AI_MODEL_DIR`, else `configured` (`[embeddings] model_dir`),
/// else `$XDG_DATA_HOME/incus-ai/models/all-MiniLM-L6-v2` (independent of `--data-dir`).
pub fn model_dir(configured: Option<&Path>) -> PathBuf {
    if let Some(d) = std::env::var_os("INCUS_AI_MODEL_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(d) = configured {
        return d.to_path_buf();
    }
    crate::util::paths::xdg_data_home()
        .join("incus-ai")
        .join("models")
        .join(DEFAULT_MODEL)
}

/// Where vectors already computed are kept: `$XDG_CACHE_HOME/incus-ai/embeddings` (shared by
/// every data dir of the user, so the same text is embedded once).
pub fn cache_dir() -> PathBuf {
    crate::util::paths::xdg_cache_home()
        .join("incus-ai")
        .join("embeddings")
}

/// The model's id: the name of its folder.
pub fn model_id(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| DEFAULT_MODEL.to_string())
}

/// What is embedded for a section: where it is (page title, breadcrumb) and how it opens.
/// A generated man page counts by its synopsis only. Tokens are the budget (a 2-core machine
/// embeds about 800 per second), so the whole section is not sent.
pub fn section_text(page: &Page, s: &Section) -> String {
    let manpage = page
        .meta
        .doc_path
        .as_deref()
        .is_some_and(|p| p.starts_with("reference/manpages/"));
    let words = if manpage { 16 } else { OPENING_WORDS };
    let mut where_ = s.breadcrumb.clone();
    if where_.first() != Some(&page.meta.title) {
        where_.insert(0, page.meta.title.clone());
    }
    where_.dedup();
    let opening: Vec<&str> = s.text.split_whitespace().take(words).collect();
    let keys = if s.keys.is_empty() {
        String::new()
    } else {
        format!(" ({})", s.keys.join(", "))
    };
    format!("{}{keys}. {}", where_.join(" > "), opening.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_is_embedded_by_its_place_and_opening() {
        let page = Page::parse(
            "---\ntitle: How to manage a cluster\nurl: u\ndoc_path: howto/cluster_manage.md\n---\n\n# How to manage a cluster\n\n## Evacuate and restore\n\nTo do maintenance on a member, evacuate it first. It moves every instance away.\n",
        );
        let t = section_text(&page, &page.sections[0]);
        assert_eq!(
            t,
            "How to manage a cluster > Evacuate and restore. To do maintenance on a member, evacuate it first. It moves every instance away."
        );
    }
}
