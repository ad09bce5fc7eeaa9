//! The dense half of a search and how it joins the lexical half: the query embedded with the
//! local model (loaded on the first query), the sections nearest to it, and reciprocal-rank
//! fusion with the BM25 ranking.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use tantivy::{DocAddress, Searcher as TantivySearcher};

use super::vectors::Vectors;
use crate::knowledge::Collection;
use crate::knowledge::embed::{self, LocalModel};

/// Sections each half contributes to the fusion.
pub const CANDIDATES: usize = 50;
/// Cosine below which a section is not near the question at all (all-MiniLM-L6-v2 gives
/// unrelated texts about -0.1 to 0.15, paraphrases 0.3 and more): it takes no rank, so a
/// question about nothing in the docs finds nothing rather than the least unrelated sections.
const MIN_SIMILARITY: f32 = 0.15;
/// The RRF constant (rank offset). The original paper's 60 flattens the heads of lists as short
/// as ours (50 each); 35 lets a section first in one list count more. Measured by `make eval`
/// (10, 20, 35, 60, 120): recall@5 +0.025 to +0.05 on the dev, real and hard sets, MRR@10 as
/// good or better everywhere within one question.
const RRF_K: f32 = 35.0;
/// Queries whose vectors are kept, the oldest dropped first (1.5 KiB each, 1.5 MiB at most): a
/// reranked AIChat question is needed for the dense list and again for its candidates'
/// nearness, and `make eval` asks each of its 306 questions under some twenty configurations
/// in turn (a cache smaller than one round keeps nothing of it).
const RECENT_QUERIES: usize = 1024;

/// The vectors of an index generation, the model that embeds queries, and where each vector's
/// section document is.
pub struct Dense {
    vectors: Vectors,
    docs: HashMap<u64, DocAddress>,
    /// Each section's row in `vectors`.
    rows: HashMap<u64, usize>,
    model_dir: PathBuf,
    model: OnceLock<Option<Arc<LocalModel>>>,
    /// A running `incus-ai serve` to embed queries with before the model is loaded here;
    /// cleared when it does not answer.
    server: Mutex<Option<SocketAddr>>,
    /// The last queries' vectors, newest last (a query is embedded once, not once per use).
    recent: Mutex<VecDeque<(String, Vec<f32>)>>,
}

impl Dense {
    /// The dense index of a generation whose vectors are `vectors`; `searcher` is read once for
    /// each section's document address.
    pub fn new(vectors: Vectors, searcher: &TantivySearcher, model_dir: PathBuf) -> Dense {
        let wanted: std::collections::HashSet<u64> =
            vectors.entries.iter().map(|e| e.section_id).collect();
        let mut docs = HashMap::with_capacity(wanted.len());
        for (ord, segment) in searcher.segment_readers().iter().enumerate() {
            let Ok(col) = segment.fast_fields().u64("section_id") else {
                continue;
            };
            let col = col.first_or_default_col(0);
            let alive = segment.alive_bitset();
            for doc in 0..segment.max_doc() {
                if alive.is_some_and(|a| !a.is_alive(doc)) {
                    continue;
                }
                let id = col.get_val(doc);
                if wanted.contains(&id) {
                    docs.insert(id, DocAddress::new(ord as u32, doc));
                }
            }
        }
        let rows = vectors
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.section_id, i))
            .collect();
        Dense {
            vectors,
            docs,
            rows,
            model_dir,
            model: OnceLock::new(),
            server: Mutex::new(None),
            recent: Mutex::new(VecDeque::with_capacity(RECENT_QUERIES)),
        }
    }

    /// Embeds queries with the `incus-ai serve` at `addr` while it answers with this index's
    /// model, instead of loading the model (for short-lived processes: one `search`).
    pub fn use_server(&mut self, addr: SocketAddr) {
        if embed::model_id(&self.model_dir) == self.vectors.model {
            *self
                .server
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner) = Some(addr);
        }
    }

    /// The query's vector: computed once for the last few queries, else embedded.
    fn query_vector(&self, query: &str) -> Option<Vec<f32>> {
        let recent = || self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, v)) = recent().iter().find(|(q, _)| q == query) {
            return Some(v.clone());
        }
        // Not held while embedding: another query may be embedded meanwhile.
        let v = self.embed_queries(&[query])?.pop()?;
        let mut recent = recent();
        if recent.len() == RECENT_QUERIES {
            recent.pop_front();
        }
        recent.push_back((query.to_string(), v.clone()));
        Some(v)
    }

    /// The queries' vectors: from the server while it answers, else from the model here.
    fn embed_queries(&self, queries: &[&str]) -> Option<Vec<Vec<f32>>> {
        // The lock is held only to read or clear the address, not across the request.
        let server = || self.server.lock().unwrap_or_else(PoisonError::into_inner);
        let addr = if self.model.get().is_none() {
            *server()
        } else {
            None
        };
        if let Some(addr) = addr {
            match embed::remote::embed_queries(addr, &self.vectors.model, self.vectors.dim, queries)
            {
                Some(v) => {
                    tracing::debug!("query embedded by incus-ai serve at {addr}");
                    return Some(v);
                }
                None => {
                    tracing::debug!(
                        "incus-ai serve at {addr} did not embed the query; loading the model"
                    );
                    *server() = None;
                }
            }
        }
        self.model()?.embed(queries).ok()
    }

    /// The model, loaded on first use; `None` (said once) when its folder cannot be used.
    fn model(&self) -> Option<&LocalModel> {
        self.model
            .get_or_init(|| {
                let m = embed::shared(&self.model_dir).ok()?;
                if m.dimensions() == self.vectors.dim {
                    Some(m)
                } else {
                    tracing::warn!(
                        "embedding model {} gives {} dimensions, the index holds {}: run `incus-ai index`; searching with BM25 only",
                        self.model_dir.display(),
                        m.dimensions(),
                        self.vectors.dim
                    );
                    None
                }
            })
            .as_deref()
    }

    /// The sections nearest to `query`, best first, as document addresses with their cosine.
    pub fn search(
        &self,
        query: &str,
        collection: Option<Collection>,
        k: usize,
    ) -> Vec<(DocAddress, f32)> {
        let Some(q) = self.query_vector(query) else {
            return Vec::new();
        };
        self.vectors
            .top(&q, collection, k)
            .into_iter()
            .filter(|(_, s)| *s >= MIN_SIMILARITY)
            .filter_map(|(id, s)| Some((*self.docs.get(&id)?, s)))
            .collect()
    }

    /// The cosine between `query` and each group of sections (their mean vector); `None` for
    /// a group none of whose sections has a vector, and for all when the query cannot be
    /// embedded.
    pub fn similarity(&self, query: &str, groups: &[Vec<u64>]) -> Vec<Option<f32>> {
        let Some(q) = self.query_vector(query) else {
            return vec![None; groups.len()];
        };
        groups
            .iter()
            .map(|ids| {
                let rows: Vec<usize> = ids
                    .iter()
                    .filter_map(|id| self.rows.get(id).copied())
                    .collect();
                if rows.is_empty() {
                    return None;
                }
                let mut mean = vec![0f32; self.vectors.dim];
                for &r in &rows {
                    for (m, x) in mean.iter_mut().zip(self.vectors.vector(r)) {
                        *m += x;
                    }
                }
                let norm = mean.iter().map(|x| x * x).sum::<f32>().sqrt();
                (norm > 0.0).then(|| mean.iter().zip(&q).map(|(a, b)| a * b).sum::<f32>() / norm)
            })
            .collect()
    }

    /// Whether the model loads (for reports).
    pub fn available(&self) -> bool {
        self.model().is_some()
    }
}

/// Says (once per process) why an index without vectors is searched with BM25 alone: the
/// model is missing, or the index was built without it.
pub fn say_no_vectors(model_dir: &Path) {
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        if model_dir.join("model.safetensors").is_file() {
            tracing::warn!(
                "the index has no vectors (it was built without the embedding model): run `incus-ai index`; searching with BM25 only"
            );
        } else {
            // Loading says why the folder cannot be used.
            let _ = embed::shared(model_dir);
        }
    });
}

/// What a place in a ranking adds to a document's fused score: `weight / (k + rank)`, `rank`
/// counted from 0.
pub(super) fn reciprocal_rank(rank: usize, weight: f32) -> f32 {
    weight / (RRF_K + rank as f32 + 1.0)
}

/// Reciprocal-rank fusion of two rankings (best first): each document scores
/// `w / (k + rank)` in each list it is in; `lexical_weight` weighs the BM25 list.
pub fn fuse(
    lexical: &[DocAddress],
    dense: &[DocAddress],
    lexical_weight: f32,
) -> Vec<(DocAddress, f32)> {
    let mut scores: HashMap<DocAddress, f32> = HashMap::new();
    for (rank, d) in lexical.iter().enumerate() {
        *scores.entry(*d).or_default() += reciprocal_rank(rank, lexical_weight);
    }
    for (rank, d) in dense.iter().enumerate() {
        *scores.entry(*d).or_default() += reciprocal_rank(rank, 1.0);
    }
    let mut out: Vec<(DocAddress, f32)> = scores.into_iter().collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fusion_rewards_agreement_and_keeps_each_list_order() {
        let d = |n| DocAddress::new(0, n);
        let out = fuse(&[d(1), d(2), d(3)], &[d(3), d(4), d(1)], 1.0);
        let order: Vec<u32> = out.iter().map(|(a, _)| a.doc_id).collect();
        assert_eq!(order[..2], [1, 3], "in both lists beats in one");
        assert_eq!(order.len(), 4);
        let lex_heavy = fuse(&[d(1)], &[d(2)], 2.0);
        assert_eq!(lex_heavy[0].0, d(1));
    }
}
