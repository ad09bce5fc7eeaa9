//! The last steps of a fused ranking: page-type priors, then the first places spread over
//! pages.

use std::collections::{HashMap, HashSet};

use tantivy::Score;

use super::columns::Columns;
use super::query::Features;

/// The fused ranking weighed by page type (the dense half knows no priors). A section that
/// defines a key the question names (`named`) keeps its place whatever its page type.
pub(super) fn settle(
    columns: &Columns,
    fused: Vec<(tantivy::DocAddress, f32)>,
    features: Features,
    named: &HashSet<tantivy::DocAddress>,
) -> Vec<(Score, tantivy::DocAddress)> {
    let mut scored: Vec<_> = fused
        .into_iter()
        .map(|(addr, score)| {
            let prior = if features.priors && !named.contains(&addr) {
                columns.prior(addr)
            } else {
                1.0
            };
            (score * prior, addr)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    scored
}

/// A ranking spread over pages: a page's later sections wait behind other pages' sections
/// (one page that repeats the question's words must not fill the whole top): each page
/// has at most `per_page` of the first places.
pub(super) fn spread(
    columns: &Columns,
    ranked: Vec<(Score, tantivy::DocAddress)>,
    per_page: usize,
) -> Vec<(Score, tantivy::DocAddress)> {
    let mut seen: HashMap<u64, usize> = HashMap::new();
    let (mut head, mut tail) = (Vec::new(), Vec::new());
    for (score, addr) in ranked {
        let n = seen.entry(columns.page(addr)).or_default();
        *n += 1;
        if *n <= per_page {
            head.push((score, addr));
        } else {
            tail.push((score, addr));
        }
    }
    head.extend(tail);
    head
}
