//! Reranking someone else's candidates with incus-ai's own ranking: AIChat finds candidate
//! chunks with its own BM25 and vectors, and asks `serve`'s `/v1/rerank` which to put in front
//! of the model. Each candidate names the sections it holds (their canonical URLs). Two
//! rankings of the candidates are fused (reciprocal ranks, incus-ai's search weighted
//! [`SEARCH_WEIGHT`]):
//! - where their sections stand in incus-ai's search for the question (every signal: fields,
//!   key matches, synonyms, page priors, dense similarity): a candidate scores the sum of
//!   `1 / (position + 2)` over its sections, so a chunk holding several good sections beats one
//!   holding one; candidates incus-ai does not rank come after, by the share of the question's
//!   words they hold (which also orders the parts of one long section);
//! - how near the candidate as a whole is to the question: the cosine with the mean of its
//!   sections' vectors (a chunk is more than its best section).
//!
//! Only what fits the model's context comes back: at most a few candidates, within a byte
//! budget (`make eval` measures the median context AIChat injects).

use std::collections::{HashMap, HashSet};

use super::search::{Scope, Searcher};
use super::{IndexError, schema};

/// Sections of incus-ai's own ranking a candidate is looked up in.
pub const POOL: usize = 100;
/// How much incus-ai's search weighs against the candidates' nearness in the fusion (measured
/// on the dev and real sets by `make eval`: 2 and 3 tie, 1 loses 0.04 on the real set).
pub const SEARCH_WEIGHT: f32 = 2.0;
/// The reciprocal-rank constant of the fusion.
const RRF_K: f32 = 60.0;

/// A candidate: the canonical URLs of the sections it holds, and its text.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    /// Section URLs (with anchors), as the candidate names them.
    pub urls: &'a [&'a str],
    /// Its text.
    pub text: &'a str,
}

/// How much may come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Candidates at most.
    pub max_results: usize,
    /// Bytes of candidate text at most (the first candidate always comes back).
    pub max_bytes: usize,
}

/// At most 12 chunks (AIChat's chunks of the local model are 1,000 bytes) within 7,900
/// bytes: the median context `aichat --rag incus` injects stays under 8 KB (7.5 KB measured by
/// `make eval`).
impl Default for Budget {
    fn default() -> Self {
        Budget {
            max_results: 12,
            max_bytes: 7900,
        }
    }
}

/// One candidate's place: its index in the request and its relevance score (higher first).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranked {
    /// Index of the candidate in the request.
    pub index: usize,
    /// Relevance, in (0, 1].
    pub score: f32,
}

/// The share of `terms` found in `text` (0 when there are none).
fn overlap(terms: &HashSet<String>, text: &str) -> f32 {
    if terms.is_empty() {
        return 0.0;
    }
    let words: HashSet<String> = schema::prose_terms(text).into_iter().collect();
    terms.iter().filter(|t| words.contains(*t)).count() as f32 / terms.len() as f32
}

/// Orders candidates given the positions of sections in incus-ai's ranking (`rank_of`, by URL),
/// each candidate's nearness to the question (`near`, `None` when unknown) and the question's
/// terms; then keeps what fits `budget`. Separate from the search, so that it is tested on its
/// own.
pub fn order(
    candidates: &[Candidate<'_>],
    rank_of: &HashMap<&str, usize>,
    near: &[Option<f32>],
    terms: &HashSet<String>,
    budget: Budget,
) -> Vec<Ranked> {
    // incus-ai's search: the sections' places, summed; the question's words break ties.
    let searched: Vec<f32> = candidates
        .iter()
        .map(|c| {
            let places: f32 = c
                .urls
                .iter()
                .filter_map(|u| rank_of.get(u))
                .map(|&p| 1.0 / (p as f32 + 2.0))
                .sum();
            places + 0.001 * overlap(terms, c.text)
        })
        .collect();
    let position = |scores: &dyn Fn(usize) -> Option<f32>| -> Vec<Option<usize>> {
        let mut idx: Vec<usize> = (0..candidates.len())
            .filter(|&i| scores(i).is_some())
            .collect();
        idx.sort_by(|&a, &b| scores(b).total_cmp_opt(scores(a)).then(a.cmp(&b)));
        let mut pos = vec![None; candidates.len()];
        for (p, i) in idx.into_iter().enumerate() {
            pos[i] = Some(p);
        }
        pos
    };
    let by_search = position(&|i| Some(searched[i]).filter(|s| *s > 0.0));
    let by_nearness = position(&|i| near.get(i).copied().flatten());
    let mut ranked: Vec<Ranked> = (0..candidates.len())
        .map(|index| {
            let rrf = |p: Option<usize>, w: f32| p.map_or(0.0, |p| w / (RRF_K + p as f32 + 1.0));
            Ranked {
                index,
                score: rrf(by_search[index], SEARCH_WEIGHT) + rrf(by_nearness[index], 1.0),
            }
        })
        .collect();
    ranked.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
    let best = ranked
        .first()
        .map_or(0.0, |r| r.score)
        .max(f32::MIN_POSITIVE);
    let mut bytes = 0;
    let mut out: Vec<Ranked> = Vec::new();
    // The first always comes back; then in ranked order while each fits.
    for mut r in ranked {
        let len = candidates[r.index].text.len();
        let fits = out.len() < budget.max_results.max(1)
            && bytes + len <= budget.max_bytes
            && r.score > 0.0;
        if !out.is_empty() && !fits {
            break;
        }
        bytes += len;
        r.score /= best;
        out.push(r);
    }
    out
}

/// `Option<f32>` compared with `None` first (for sorting best-last lists).
trait CmpOpt {
    fn total_cmp_opt(self, other: Self) -> std::cmp::Ordering;
}

impl CmpOpt for Option<f32> {
    fn total_cmp_opt(self, other: Self) -> std::cmp::Ordering {
        match (self, other) {
            (Some(a), Some(b)) => a.total_cmp(&b),
            (a, b) => a.is_some().cmp(&b.is_some()),
        }
    }
}

impl Searcher {
    /// Reranks `candidates` for `question` with incus-ai's own ranking (see the module), at
    /// most `budget`.
    pub fn rerank(
        &self,
        question: &str,
        candidates: &[Candidate<'_>],
        budget: Budget,
    ) -> Result<Vec<Ranked>, IndexError> {
        let hits = self.search_passages(question, Scope::All, POOL)?;
        let mut rank_of: HashMap<&str, usize> = HashMap::new();
        for (i, h) in hits.iter().enumerate() {
            rank_of.entry(h.url.as_str()).or_insert(i);
        }
        let terms: HashSet<String> = schema::prose_terms(question).into_iter().collect();
        let groups: Vec<Vec<u64>> = candidates
            .iter()
            .map(|c| c.urls.iter().filter_map(|u| self.section_id(u)).collect())
            .collect();
        let near = self.similarity(question, &groups);
        Ok(order(candidates, &rank_of, &near, &terms, budget))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c<'a>(urls: &'a [&'a str], text: &'a str) -> Candidate<'a> {
        Candidate { urls, text }
    }

    fn wide() -> Budget {
        Budget {
            max_results: 10,
            max_bytes: 10_000,
        }
    }

    #[test]
    fn incus_ais_order_decides_and_words_order_parts_of_a_section() {
        let rank_of: HashMap<&str, usize> = [("u#a", 0), ("u#b", 1), ("u#c", 7)].into();
        let terms: HashSet<String> = schema::prose_terms("evacuate member").into_iter().collect();
        let cands = [
            c(&["u#c"], "c text"),
            c(&["x#unranked"], "evacuate member words"),
            c(&["u#b"], "b text"),
            c(&["u#a"], "a part one"),
            c(&["u#a"], "a part two evacuate"),
            c(&["u#z", "u#b", "u#c"], "merged chunk with b and c"),
        ];
        let none = vec![None; cands.len()];
        let got: Vec<usize> = order(&cands, &rank_of, &none, &terms, wide())
            .iter()
            .map(|r| r.index)
            .collect();
        // The merged chunk (b and c) beats b alone.
        assert_eq!(got, vec![4, 3, 5, 2, 0, 1]);
    }

    #[test]
    fn nearness_to_the_question_joins_the_search_order() {
        let rank_of: HashMap<&str, usize> = [("u#a", 0), ("u#b", 1), ("u#c", 2)].into();
        let cands = [c(&["u#a"], "a"), c(&["u#b"], "b"), c(&["u#c"], "c")];
        // c is by far the nearest, b the farthest: b drops behind c; a, first in both, stays.
        let near = [Some(0.6), Some(0.1), Some(0.9)];
        let got: Vec<usize> = order(&cands, &rank_of, &near, &HashSet::new(), wide())
            .iter()
            .map(|r| r.index)
            .collect();
        assert_eq!(got, vec![0, 2, 1]);
    }

    #[test]
    fn only_what_fits_the_budget_comes_back() {
        let rank_of: HashMap<&str, usize> = (0..20).map(|i| (URLS[i], i)).collect();
        let terms = HashSet::new();
        let text = "x".repeat(1000);
        let cands: Vec<Candidate> = (0..20).map(|i| c(&URLS[i..=i], &text)).collect();
        let none = vec![None; cands.len()];
        let b = Budget::default();
        assert_eq!(
            order(&cands, &rank_of, &none, &terms, b).len(),
            7,
            "7,000 of 7,900 bytes"
        );
        let b = Budget {
            max_results: 3,
            ..Budget::default()
        };
        let got = order(&cands, &rank_of, &none, &terms, b);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].score, 1.0, "scores are relative to the best");
        // The first comes back whatever its size; nothing ranked and no word: just one.
        let huge = "y".repeat(50_000);
        let one = [c(&["nowhere"], &huge), c(&["elsewhere"], "z")];
        assert_eq!(
            order(&one, &rank_of, &[None, None], &terms, wide()).len(),
            1
        );
    }

    const URLS: [&str; 20] = [
        "p#0", "p#1", "p#2", "p#3", "p#4", "p#5", "p#6", "p#7", "p#8", "p#9", "p#10", "p#11",
        "p#12", "p#13", "p#14", "p#15", "p#16", "p#17", "p#18", "p#19",
    ];
}
