//! The second stage of a search: the first candidates of the ranking re-scored with evidence
//! that is too costly to gather for every section, read from the whole section rather than
//! its opening: how much of the question a section covers, and how closely its words stand
//! together in the passage that holds most of them.

use std::collections::HashMap;

use tantivy::postings::{Postings, SegmentPostings};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocAddress, DocId, DocSet, Score, Term};

/// Calls `visit(hit, word, postings)` for each hit whose `field` holds a term of a word group
/// (a word and its synonyms), with the postings positioned on the hit's document.
fn occurrences(
    searcher: &tantivy::Searcher,
    field: Field,
    words: &[Vec<String>],
    hits: &[(Score, DocAddress)],
    record: IndexRecordOption,
    mut visit: impl FnMut(usize, usize, &mut SegmentPostings),
) -> tantivy::Result<()> {
    let mut by_segment: HashMap<u32, Vec<(DocId, usize)>> = HashMap::new();
    for (i, (_, addr)) in hits.iter().enumerate() {
        by_segment
            .entry(addr.segment_ord)
            .or_default()
            .push((addr.doc_id, i));
    }
    for (seg, mut docs) in by_segment {
        docs.sort_unstable();
        let inverted = searcher.segment_reader(seg).inverted_index(field)?;
        for (w, group) in words.iter().enumerate() {
            for t in group {
                let term = Term::from_field_text(field, t);
                let Some(mut postings) = inverted.read_postings(&term, record)? else {
                    continue;
                };
                for &(doc, i) in &docs {
                    if postings.doc() <= doc && postings.seek(doc) == doc {
                        visit(i, w, &mut postings);
                    }
                }
            }
        }
    }
    Ok(())
}

/// For each hit, the share of the question's words (each a group of a word and its
/// synonyms) that occur in its `field`.
pub(super) fn coverage(
    searcher: &tantivy::Searcher,
    field: Field,
    words: &[Vec<String>],
    hits: &[(Score, DocAddress)],
) -> tantivy::Result<Vec<f32>> {
    if words.is_empty() {
        return Ok(vec![1.0; hits.len()]);
    }
    let mut covered = vec![vec![false; words.len()]; hits.len()];
    occurrences(
        searcher,
        field,
        words,
        hits,
        IndexRecordOption::Basic,
        |i, w, _| covered[i][w] = true,
    )?;
    Ok(covered
        .into_iter()
        .map(|c| c.iter().filter(|x| **x).count() as f32 / words.len() as f32)
        .collect())
}

/// For each hit, the largest share of the question's words (groups) that occur together
/// within `window` consecutive positions of its `field`.
pub(super) fn proximity(
    searcher: &tantivy::Searcher,
    field: Field,
    words: &[Vec<String>],
    hits: &[(Score, DocAddress)],
    window: u32,
) -> tantivy::Result<Vec<f32>> {
    if words.is_empty() {
        return Ok(vec![0.0; hits.len()]);
    }
    let mut found: Vec<Vec<(u32, usize)>> = vec![Vec::new(); hits.len()];
    let mut positions = Vec::new();
    occurrences(
        searcher,
        field,
        words,
        hits,
        IndexRecordOption::WithFreqsAndPositions,
        |i, w, postings| {
            postings.positions(&mut positions);
            found[i].extend(positions.iter().map(|&p| (p, w)));
        },
    )?;
    Ok(found
        .into_iter()
        .map(|mut f| most_within(&mut f, words.len(), window) as f32 / words.len() as f32)
        .collect())
}

/// The most distinct words (of `words`) among `found` (position, word) that lie within
/// `window` consecutive positions.
fn most_within(found: &mut [(u32, usize)], words: usize, window: u32) -> usize {
    found.sort_unstable();
    let mut counts = vec![0u32; words];
    let (mut distinct, mut best, mut lo) = (0, 0, 0);
    for hi in 0..found.len() {
        let (pos, w) = found[hi];
        if counts[w] == 0 {
            distinct += 1;
        }
        counts[w] += 1;
        while pos - found[lo].0 >= window {
            let out = found[lo].1;
            counts[out] -= 1;
            if counts[out] == 0 {
                distinct -= 1;
            }
            lo += 1;
        }
        best = best.max(distinct);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::collector::TopDocs;
    use tantivy::query::QueryParser;
    use tantivy::schema::{Schema, TEXT};
    use tantivy::{Index, doc};

    #[test]
    fn the_most_words_within_a_window() {
        /// (position, word) pairs, the window, the distinct words within it.
        type Case<'a> = (&'a [(u32, usize)], u32, usize);
        let cases: &[Case] = &[
            (&[], 20, 0),
            (&[(5, 0)], 20, 1),
            (&[(0, 0), (19, 1)], 20, 2),
            (&[(0, 0), (20, 1)], 20, 1),
            // a word repeated counts once
            (&[(0, 0), (1, 0), (2, 0)], 20, 1),
            // the closest group wins, wherever it is
            (&[(0, 0), (50, 1), (90, 0), (95, 1), (99, 2)], 20, 3),
            (&[(99, 2), (0, 0), (95, 1), (50, 1), (90, 0)], 10, 3),
            (&[(0, 0), (50, 1), (100, 2)], 20, 1),
        ];
        for (found, window, want) in cases {
            let mut f = found.to_vec();
            assert_eq!(
                most_within(&mut f, 3, *window),
                *want,
                "{found:?} in {window}"
            );
        }
    }

    #[test]
    fn coverage_and_proximity_read_the_whole_section() {
        let mut schema = Schema::builder();
        let body = schema.add_text_field("body", TEXT);
        let index = Index::create_in_ram(schema.build());
        let mut writer = index.writer_with_num_threads(1, 15_000_000).unwrap();
        let filler = "lorem ipsum dolor sit amet ".repeat(20);
        // The words together, deep in the section.
        writer
            .add_document(doc!(body => format!("storage {filler} the pool quota is full here")))
            .unwrap();
        // The same words, far apart.
        writer
            .add_document(doc!(body => format!("pool {filler} quota {filler} full")))
            .unwrap();
        // Two of three.
        writer
            .add_document(doc!(body => format!("{filler} pool quota")))
            .unwrap();
        writer.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        let q = QueryParser::for_index(&index, vec![body])
            .parse_query("lorem")
            .unwrap();
        let mut hits = searcher
            .search(&q, &TopDocs::with_limit(3).order_by_score())
            .unwrap();
        hits.sort_by_key(|(_, a)| a.doc_id);
        let words: Vec<Vec<String>> = ["pool", "quota", "full"]
            .iter()
            .map(|w| vec![w.to_string()])
            .collect();
        let covered = coverage(&searcher, body, &words, &hits).unwrap();
        assert_eq!(covered, vec![1.0, 1.0, 2.0 / 3.0]);
        let near = proximity(&searcher, body, &words, &hits, 20).unwrap();
        assert_eq!(near, vec![1.0, 1.0 / 3.0, 2.0 / 3.0]);
        assert_eq!(
            proximity(&searcher, body, &[], &hits, 20).unwrap(),
            vec![0.0; 3]
        );
    }
}
