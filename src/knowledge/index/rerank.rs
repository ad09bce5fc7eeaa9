//! Reranking someone else's candidates with incus-ai's own ranking: AIChat finds candidate
//! chunks with its own BM25 and vectors, and asks `serve`'s `/v1/rerank` which to put in front
//! of the model. Each candidate names the sections it holds (their canonical URLs); the answer
//! is the order of those sections in incus-ai's search for the question (every signal:
//! fields, key matches, synonyms, page priors, dense similarity), so what AIChat injects is
//! what `incus-ai search` ranks first. Candidates incus-ai does not rank come last, by the
//! share of the question's words they hold (which also orders the parts of one long section).
//! Only the candidates worth the model's context come back: at most a few, within a byte
//! budget, and none far behind the best.

use std::collections::{HashMap, HashSet};

use super::search::{Scope, Searcher};
use super::{IndexError, schema};

/// Sections of incus-ai's own ranking a candidate is looked up in.
pub const POOL: usize = 100;

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
    /// A candidate comes back only when its score is at least this share (in percent) of the
    /// best one's.
    pub min_share_percent: u32,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            max_results: 5,
            max_bytes: 6000,
            min_share_percent: 20,
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

/// Scores candidates given the positions of sections in incus-ai's ranking (`rank_of`, by
/// URL) and the question's terms; then keeps what fits `budget`. Separate from the search, so
/// that it is tested on its own.
pub fn order(
    candidates: &[Candidate<'_>],
    rank_of: &HashMap<&str, usize>,
    terms: &HashSet<String>,
    budget: Budget,
) -> Vec<Ranked> {
    let mut ranked: Vec<Ranked> = candidates
        .iter()
        .enumerate()
        .map(|(index, c)| {
            let words = overlap(terms, c.text);
            let best = c.urls.iter().filter_map(|u| rank_of.get(u)).min();
            let score = match best {
                // Ranked by incus-ai: 1/2 for the first section, 1/3 for the second...; the
                // words only order parts of the same section.
                Some(&pos) => 1.0 / (pos as f32 + 2.0) + 0.001 * words,
                None => 0.001 * words,
            };
            Ranked { index, score }
        })
        .collect();
    ranked.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
    let Some(best) = ranked.first().map(|r| r.score) else {
        return ranked;
    };
    let floor = best * budget.min_share_percent as f32 / 100.0;
    let mut bytes = 0;
    let mut out: Vec<Ranked> = Vec::new();
    // The first always comes back; then in ranked order while each fits.
    for r in ranked {
        let len = candidates[r.index].text.len();
        let fits = out.len() < budget.max_results.max(1)
            && bytes + len <= budget.max_bytes
            && r.score >= floor
            && r.score > 0.0;
        if !out.is_empty() && !fits {
            break;
        }
        bytes += len;
        out.push(r);
    }
    out
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
        let hits = self.search(question, Scope::All, POOL)?;
        let mut rank_of: HashMap<&str, usize> = HashMap::new();
        for (i, h) in hits.iter().enumerate() {
            rank_of.entry(h.url.as_str()).or_insert(i);
        }
        let terms: HashSet<String> = schema::prose_terms(question).into_iter().collect();
        Ok(order(candidates, &rank_of, &terms, budget))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c<'a>(urls: &'a [&'a str], text: &'a str) -> Candidate<'a> {
        Candidate { urls, text }
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
            c(&["u#z", "u#b"], "merged chunk with b"),
        ];
        let budget = Budget {
            max_results: 10,
            max_bytes: 10_000,
            min_share_percent: 0,
        };
        let got: Vec<usize> = order(&cands, &rank_of, &terms, budget)
            .iter()
            .map(|r| r.index)
            .collect();
        assert_eq!(got, vec![4, 3, 2, 5, 0, 1]);
    }

    #[test]
    fn only_what_is_worth_the_context_comes_back() {
        let rank_of: HashMap<&str, usize> = (0..20).map(|i| (URLS[i], i)).collect();
        let terms = HashSet::new();
        let text = "x".repeat(1000);
        let cands: Vec<Candidate> = (0..20).map(|i| c(&URLS[i..=i], &text)).collect();
        // Five at most.
        let b = Budget::default();
        assert_eq!(order(&cands, &rank_of, &terms, b).len(), 5);
        // Bytes: three of 1,000 fit in 3,500.
        let b = Budget {
            max_bytes: 3500,
            ..Budget::default()
        };
        assert_eq!(order(&cands, &rank_of, &terms, b).len(), 3);
        // Far behind the best: 1/2 first, 1/12 for the 11th is under 20 % of it.
        let b = Budget {
            max_results: 20,
            max_bytes: 100_000,
            min_share_percent: 20,
        };
        let n = order(&cands, &rank_of, &terms, b).len();
        assert_eq!(n, 9, "1/2 down to 1/10 are at least a fifth of 1/2");
        // The first comes back whatever its size; nothing ranked and no word: just one.
        let huge = "y".repeat(50_000);
        let one = [c(&["nowhere"], &huge), c(&["elsewhere"], "z")];
        assert_eq!(order(&one, &rank_of, &terms, b).len(), 1);
    }

    const URLS: [&str; 20] = [
        "p#0", "p#1", "p#2", "p#3", "p#4", "p#5", "p#6", "p#7", "p#8", "p#9", "p#10", "p#11",
        "p#12", "p#13", "p#14", "p#15", "p#16", "p#17", "p#18", "p#19",
    ];
}
