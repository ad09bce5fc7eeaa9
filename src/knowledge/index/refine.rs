//! The second stage of a search: the first candidates of the ranking re-scored with evidence
//! that is too costly to gather for every section (how much of the question a section covers).

use std::collections::HashMap;

use tantivy::Term;
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, Score};

/// For each hit, the share of the question's words (each a group of a word and its
/// synonyms) that occur in its `field`.
pub(super) fn coverage(
    searcher: &tantivy::Searcher,
    field: tantivy::schema::Field,
    words: &[Vec<String>],
    hits: &[(Score, tantivy::DocAddress)],
) -> tantivy::Result<Vec<f32>> {
    if words.is_empty() {
        return Ok(vec![1.0; hits.len()]);
    }
    let mut by_segment: HashMap<u32, Vec<(DocId, usize)>> = HashMap::new();
    for (i, (_, addr)) in hits.iter().enumerate() {
        by_segment
            .entry(addr.segment_ord)
            .or_default()
            .push((addr.doc_id, i));
    }
    let mut covered = vec![vec![false; words.len()]; hits.len()];
    for (seg, mut docs) in by_segment {
        docs.sort_unstable();
        let inverted = searcher.segment_reader(seg).inverted_index(field)?;
        for (w, group) in words.iter().enumerate() {
            for t in group {
                let term = Term::from_field_text(field, t);
                let Some(mut postings) = inverted.read_postings(&term, IndexRecordOption::Basic)?
                else {
                    continue;
                };
                for &(doc, i) in &docs {
                    if postings.doc() <= doc && postings.seek(doc) == doc {
                        covered[i][w] = true;
                    }
                }
            }
        }
    }
    Ok(covered
        .into_iter()
        .map(|c| c.iter().filter(|x| **x).count() as f32 / words.len() as f32)
        .collect())
}
