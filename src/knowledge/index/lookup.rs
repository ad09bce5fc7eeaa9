//! Lookups on an open index beside ranked search: the root of the docs site it was built
//! from, a section by its URL, and how near groups of sections are to a question.

use std::collections::HashMap;

use tantivy::collector::TopDocs;
use tantivy::query::TermQuery;
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{TantivyDocument, Term};

use super::query;
use super::search::Searcher;
use crate::knowledge::Collection;

impl Searcher {
    /// The root of the docs site the index was built from
    /// (`https://linuxcontainers.org/incus/docs/stable-6.0/`), read off a section's URL and
    /// page path; `None` without docs pages.
    pub fn docs_base(&self) -> Option<String> {
        let searcher = self.reader.searcher();
        let f = &self.fields;
        let q = TermQuery::new(
            Term::from_field_text(f.collection, Collection::Docs.as_str()),
            IndexRecordOption::Basic,
        );
        let top = searcher
            .search(&q, &TopDocs::with_limit(50).order_by_score())
            .ok()?;
        top.into_iter().find_map(|(_, addr)| {
            let d: TantivyDocument = searcher.doc(addr).ok()?;
            let text = |field| {
                d.get_first(field)
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            };
            let (url, path) = (text(f.url)?, text(f.doc_path)?);
            let page = path.trim_end_matches(".md");
            let at = url.find(&format!("/{page}/"))?;
            Some(url[..=at].to_string())
        })
    }

    /// The id of the section at `url` (canonical, with anchor), when the index has it.
    pub fn section_id(&self, url: &str) -> Option<u64> {
        self.section_ids
            .get_or_init(|| {
                let searcher = self.reader.searcher();
                let mut out = HashMap::new();
                for segment in searcher.segment_readers() {
                    let Ok(store) = segment.get_store_reader(64) else {
                        continue;
                    };
                    for doc in 0..segment.max_doc() {
                        let Ok(d) = store.get::<TantivyDocument>(doc) else {
                            continue;
                        };
                        let url = d.get_first(self.fields.url).and_then(|v| v.as_str());
                        let id = d.get_first(self.fields.section_id).and_then(|v| v.as_u64());
                        if let (Some(url), Some(id)) = (url, id) {
                            out.entry(url.to_string()).or_insert(id);
                        }
                    }
                }
                out
            })
            .get(url)
            .copied()
    }

    /// The cosine between `question` and the sections of each group (their mean vector), when
    /// dense search is available.
    pub fn similarity(&self, question: &str, groups: &[Vec<u64>]) -> Vec<Option<f32>> {
        match &self.dense {
            Some(d) => d.similarity(&query::modernize(question), groups),
            None => vec![None; groups.len()],
        }
    }
}
