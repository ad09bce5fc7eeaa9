//! Pages ranked by their whole text, a third list of the fusion. The words of an admin's long
//! question are often spread over several sections of the page that answers it (the symptom in
//! one, the option that fixes it in another), so no one section matches them all while the
//! page does. Each section gains what its page's place in that ranking is worth.

use std::collections::HashMap;

use tantivy::DocAddress;

use super::columns::Columns;
use super::query::Features;
use super::search::{Scope, Searcher};
use super::{IndexError, hybrid};

/// Pages ranked by their whole text; a section of a page further down gains nothing
/// (`make eval`: 15 pages lost recall on the hard set, 30 and 50 within a question of each
/// other).
const PAGES: usize = 30;
/// The weight of the page list in the fusion (the BM25 list weighs 2, the dense one 1).
/// Measured by `make eval` at 0.5, 1 and 2: the larger weights lift MRR@10 on the real
/// questions a little more but lose recall@5 on them and MRR@10 on the dev set.
const WEIGHT: f32 = 0.5;

impl Searcher {
    /// Adds to each fused section's score its page's place among the pages whose whole text
    /// best matches `question`; the order is left to [`Searcher::settle`], which sorts once
    /// after the page priors.
    pub(super) fn add_whole_pages(
        &self,
        searcher: &tantivy::Searcher,
        columns: &Columns,
        fused: &mut [(DocAddress, f32)],
        question: &str,
        scope: Scope,
        features: Features,
    ) -> Result<(), IndexError> {
        let ranks = self.whole_pages(searcher, columns, question, scope, features)?;
        for (addr, score) in fused.iter_mut() {
            if let Some(&rank) = ranks.get(&columns.page(*addr)) {
                *score += hybrid::reciprocal_rank(rank, WEIGHT);
            }
        }
        Ok(())
    }

    /// The first [`PAGES`] pages by their whole text: each page's id and rank (from 0).
    fn whole_pages(
        &self,
        searcher: &tantivy::Searcher,
        columns: &Columns,
        question: &str,
        scope: Scope,
        features: Features,
    ) -> Result<HashMap<u64, usize>, IndexError> {
        let pages = self.top_pages(
            searcher,
            self.fields.page_text,
            question,
            scope,
            features,
            PAGES,
        )?;
        let mut out = HashMap::with_capacity(pages.len());
        for (rank, (_, addr)) in pages.into_iter().enumerate() {
            out.entry(columns.page(addr)).or_insert(rank);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::Collection;
    use crate::knowledge::index::build::add_page;
    use crate::knowledge::index::schema;
    use tantivy::{Index, IndexWriter};

    fn page(path: &str, sections: &[(&str, &str)]) -> String {
        let mut md = format!(
            "---\ntitle: {path}\nurl: https://example.org/docs/{path}/\ndoc_path: {path}.md\n---\n\n# {path}\n\nIntro.\n"
        );
        for (heading, text) in sections {
            md.push_str(&format!("\n## {heading}\n\n{text}\n"));
        }
        md
    }

    /// A searcher over three pages: one whose two sections each hold one of the question's
    /// words, one that repeats the first word in its only section, one that has the second.
    fn searcher() -> Searcher {
        let (s, fields) = schema::build();
        let index = Index::create_in_ram(s);
        schema::register(&index);
        let mut writer: IndexWriter = index.writer_with_num_threads(1, 15_000_000).unwrap();
        let pages = [
            (
                "spread",
                page(
                    "spread",
                    &[
                        ("Alpha", "A pool on zfs holds the volumes."),
                        ("Beta", "Set a quota on each volume."),
                    ],
                ),
            ),
            (
                "repeats",
                page(
                    "repeats",
                    &[("Gamma", "zfs zfs zfs: the zfs driver and zfs datasets.")],
                ),
            ),
            (
                "other",
                page("other", &[("Delta", "A project quota limits instances.")]),
            ),
        ];
        for (key, md) in &pages {
            add_page(
                &writer,
                &fields,
                Collection::Docs,
                &format!("docs/{key}.md"),
                md,
            )
            .unwrap();
        }
        writer.commit().unwrap();
        Searcher {
            reader: index.reader().unwrap(),
            fields,
            dir: std::path::PathBuf::from("/nonexistent"),
            dense: None,
            section_ids: std::sync::OnceLock::new(),
        }
    }

    #[test]
    fn the_page_holding_all_of_the_question_leads_the_page_list() {
        let s = searcher();
        let searcher = s.reader.searcher();
        let cases = [
            ("zfs quota on a volume", "docs/spread.md"),
            ("zfs datasets of the driver", "docs/repeats.md"),
            ("project quota on instances", "docs/other.md"),
        ];
        for (question, want) in cases {
            let columns = Columns::open(&searcher).unwrap();
            let ranks = s
                .whole_pages(&searcher, &columns, question, Scope::Docs, Features::ALL)
                .unwrap();
            let first = ranks.iter().find(|(_, r)| **r == 0).map(|(id, _)| *id);
            assert_eq!(first, Some(schema::page_id(want)), "{question}");
        }
    }

    #[test]
    fn sections_gain_their_pages_place() {
        let s = searcher();
        let searcher = s.reader.searcher();
        // Every section alike in the fusion: the page list alone decides.
        let docs = searcher
            .search(
                &tantivy::query::AllQuery,
                &tantivy::collector::DocSetCollector,
            )
            .unwrap();
        let mut fused: Vec<(DocAddress, f32)> = docs.into_iter().map(|a| (a, 0.0)).collect();
        fused.sort_by_key(|(a, _)| *a);
        let columns = Columns::open(&searcher).unwrap();
        s.add_whole_pages(
            &searcher,
            &columns,
            &mut fused,
            "zfs quota on a volume",
            Scope::Docs,
            Features::ALL,
        )
        .unwrap();
        // Each page's sections gain alike, by the page's place: `spread` holds the whole
        // question, `repeats` and `other` one word each.
        let mut gain: HashMap<u64, f32> = HashMap::new();
        for (addr, score) in &fused {
            let page = columns.page(*addr);
            let was = *gain.entry(page).or_insert(*score);
            assert_eq!(was, *score, "every section of a page gains alike");
        }
        let of = |path: &str| gain[&schema::page_id(path)];
        for other in ["docs/repeats.md", "docs/other.md"] {
            assert!(of("docs/spread.md") > of(other), "{gain:?}");
            assert!(of(other) > 0.0, "{gain:?}");
        }
    }
}
