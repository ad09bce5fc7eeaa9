//! The last steps of a fused ranking: page-type priors, then the first places spread over
//! pages.

use std::collections::{HashMap, HashSet};

use tantivy::Score;

use super::IndexError;
use super::query::Features;
use super::search::Searcher;

impl Searcher {
    /// The fused ranking weighed by page type (the dense half knows no priors). A section that
    /// defines a key the question names (`named`) keeps its place whatever its page type.
    pub(super) fn settle(
        &self,
        searcher: &tantivy::Searcher,
        fused: Vec<(tantivy::DocAddress, f32)>,
        features: Features,
        named: &HashSet<tantivy::DocAddress>,
    ) -> Result<Vec<(Score, tantivy::DocAddress)>, IndexError> {
        let err = |e: tantivy::TantivyError| self.error(e);
        let mut scored = Vec::with_capacity(fused.len());
        for (addr, score) in fused {
            let prior = if features.priors && !named.contains(&addr) {
                searcher
                    .segment_reader(addr.segment_ord)
                    .fast_fields()
                    .f64("prior")
                    .map_err(err)?
                    .first_or_default_col(1.0)
                    .get_val(addr.doc_id) as f32
            } else {
                1.0
            };
            scored.push((score * prior, addr));
        }
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        Ok(scored)
    }

    /// A ranking spread over pages: a page's later sections wait behind other pages' sections
    /// (one page that repeats the question's words must not fill the whole top): each page
    /// has at most `per_page` of the first places.
    pub(super) fn spread(
        &self,
        searcher: &tantivy::Searcher,
        ranked: Vec<(Score, tantivy::DocAddress)>,
        per_page: usize,
    ) -> Result<Vec<(Score, tantivy::DocAddress)>, IndexError> {
        let mut seen: HashMap<u64, usize> = HashMap::new();
        let (mut head, mut tail) = (Vec::new(), Vec::new());
        for (score, addr) in ranked {
            let n = seen.entry(self.page_of(searcher, addr)?).or_default();
            *n += 1;
            if *n <= per_page {
                head.push((score, addr));
            } else {
                tail.push((score, addr));
            }
        }
        head.extend(tail);
        Ok(head)
    }

    /// The page a document belongs to (its `page_id`).
    pub(super) fn page_of(
        &self,
        searcher: &tantivy::Searcher,
        addr: tantivy::DocAddress,
    ) -> Result<u64, IndexError> {
        Ok(searcher
            .segment_reader(addr.segment_ord)
            .fast_fields()
            .u64("page_id")
            .map_err(|e| self.error(e))?
            .first_or_default_col(0)
            .get_val(addr.doc_id))
    }
}
