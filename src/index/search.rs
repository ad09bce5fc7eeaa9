//! Searching the index: ranked heading sections.

use std::path::Path;

use serde::Serialize;
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, ConstScoreQuery, Occur, Query, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{Index, IndexReader, ReloadPolicy, TantivyDocument, Term};

use super::IndexError;
use super::build::{current_dir, open_dir};
use super::query::{self, Features};
use super::schema::{self, Fields};

/// Which collection to search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Collection {
    /// The Incus documentation.
    Docs,
    /// The site's own notes.
    Local,
    /// Both.
    All,
}

/// One ranked section.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    /// 1-based rank.
    pub rank: usize,
    /// Relevance score (higher is better; comparable only within one search).
    pub score: f32,
    /// `docs` or `local`.
    pub collection: String,
    /// Canonical URL with `#anchor`.
    pub url: String,
    /// The page's path relative to the docs' `doc/` folder, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub doc_path: Option<String>,
    /// Page title.
    pub title: String,
    /// Breadcrumb of the section.
    pub section: String,
    /// The section's markdown.
    pub text: String,
}

/// An open index, ready for many searches.
pub struct Searcher {
    index: Index,
    reader: IndexReader,
    fields: Fields,
}

impl Searcher {
    /// Opens the current index under `index_root`.
    pub fn open(index_root: &Path) -> Result<Searcher, IndexError> {
        let dir =
            current_dir(index_root).ok_or_else(|| IndexError::NoIndex(index_root.to_path_buf()))?;
        Self::open_dir(&dir)
    }

    /// Opens one index folder.
    pub fn open_dir(dir: &Path) -> Result<Searcher, IndexError> {
        let index = open_dir(dir)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|e: tantivy::TantivyError| IndexError::Tantivy {
                path: dir.to_path_buf(),
                detail: e.to_string(),
            })?;
        let (_, fields) = schema::build();
        Ok(Searcher {
            index,
            reader,
            fields,
        })
    }

    /// Number of sections.
    pub fn num_sections(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Searches `question` with all retrieval features.
    pub fn search(
        &self,
        question: &str,
        collection: Collection,
        limit: usize,
    ) -> Result<Vec<Hit>, IndexError> {
        self.search_with(question, collection, limit, Features::ALL)
    }

    /// Searches with chosen retrieval features (for measuring them).
    pub fn search_with(
        &self,
        question: &str,
        collection: Collection,
        limit: usize,
        features: Features,
    ) -> Result<Vec<Hit>, IndexError> {
        let f = &self.fields;
        let mut q = query::build(f, question, features);
        let only = match collection {
            Collection::Docs => Some("docs"),
            Collection::Local => Some("local"),
            Collection::All => None,
        };
        if let Some(c) = only {
            let filter = TermQuery::new(
                Term::from_field_text(f.collection, c),
                IndexRecordOption::Basic,
            );
            let filter: Box<dyn Query> = Box::new(ConstScoreQuery::new(Box::new(filter), 0.0));
            q = Box::new(BooleanQuery::new(vec![
                (Occur::Must, q),
                (Occur::Must, filter),
            ]));
        }
        let searcher = self.reader.searcher();
        let err = |e: tantivy::TantivyError| IndexError::Tantivy {
            path: Default::default(),
            detail: e.to_string(),
        };
        let top = searcher
            .search(&q, &TopDocs::with_limit(limit.max(1)).order_by_score())
            .map_err(err)?;
        let mut hits = Vec::with_capacity(top.len());
        for (i, (score, addr)) in top.into_iter().enumerate() {
            let d: TantivyDocument = searcher.doc(addr).map_err(err)?;
            let text = |field| {
                d.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            let doc_path = text(f.doc_path);
            hits.push(Hit {
                rank: i + 1,
                score,
                collection: text(f.collection),
                url: text(f.url),
                doc_path: (!doc_path.is_empty()).then_some(doc_path),
                title: text(f.title),
                section: text(f.section),
                text: text(f.markdown),
            });
        }
        let _ = &self.index;
        Ok(hits)
    }
}
