//! Searching the index: ranked heading sections.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use tantivy::collector::{DocSetCollector, TopDocs};
use tantivy::query::{BooleanQuery, ConstScoreQuery, Occur, Query, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{DocId, IndexReader, ReloadPolicy, Score, SegmentReader, TantivyDocument, Term};

use super::build::current_dir;
use super::columns::Columns;
use super::query::Intent;
use super::query::{self, Features};
use super::schema::{self, Fields, KIND_PAGE, KIND_SECTION, SectionClass};
use super::vectors::Vectors;
use super::{IndexError, hybrid, settle};
use crate::knowledge::Collection;

/// Pages whose outline (title and headings) match can lift their sections.
const PAGES_CONSIDERED: usize = 30;
/// How much the best-matching page lifts its sections (×(1 + this)).
const PAGE_WEIGHT: f32 = 0.4;
/// Candidates re-ranked by how much of the question they cover.
const COVERAGE_CANDIDATES: usize = 50;
/// How strongly coverage counts: score × share-of-words-covered ^ this.
const COVERAGE_EXPONENT: f32 = 0.5;
/// Lift of sections that fit what the question asks for (a how-to for "how do I").
const INTENT_BOOST: f32 = 1.3;
/// Lift of configuration-option sections when the question asks which key or option to use.
const KEY_INTENT_BOOST: f32 = 1.6;

/// How much the BM25 ranking weighs against the dense one in the fusion. BM25 keeps exact key
/// and error-string matches strong; measured on the dev and real sets (`make eval`), 2 beats 1
/// and 3 on real questions without losing dev.
const LEXICAL_WEIGHT: f32 = 2.0;

/// Most hits one search returns; larger limits are clamped to it.
pub const MAX_LIMIT: usize = 1000;

/// Which collections a search reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The Incus documentation.
    Docs,
    /// The site's own notes.
    Local,
    /// Both.
    All,
}

impl From<Collection> for Scope {
    fn from(c: Collection) -> Scope {
        match c {
            Collection::Docs => Scope::Docs,
            Collection::Local => Scope::Local,
        }
    }
}

impl Scope {
    /// The one collection, or `None` for both.
    pub fn collection(self) -> Option<Collection> {
        match self {
            Scope::Docs => Some(Collection::Docs),
            Scope::Local => Some(Collection::Local),
            Scope::All => None,
        }
    }
}

/// One ranked section.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    /// 1-based rank.
    pub rank: usize,
    /// Relevance score (higher is better; comparable only within one search).
    pub score: f32,
    /// Which collection it is from.
    pub collection: Collection,
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
    pub(super) reader: IndexReader,
    pub(super) fields: Fields,
    pub(super) dir: std::path::PathBuf,
    pub(super) dense: Option<hybrid::Dense>,
    /// Each section's id by its canonical URL (read on first use, for the reranker).
    pub(super) section_ids: std::sync::OnceLock<HashMap<String, u64>>,
}

impl Searcher {
    /// Opens the current index under `index_root`; queries are embedded with the model in
    /// `model_dir` (`None`: BM25 alone).
    pub fn open(index_root: &Path, model_dir: Option<&Path>) -> Result<Searcher, IndexError> {
        let dir =
            current_dir(index_root).ok_or_else(|| IndexError::NoIndex(index_root.to_path_buf()))?;
        Self::open_dir(&dir, model_dir)
    }

    /// Opens one index folder, after checking every file against its checksum (a damaged
    /// index would make searches fail or worse).
    pub fn open_dir(dir: &Path, model_dir: Option<&Path>) -> Result<Searcher, IndexError> {
        super::build::damage(dir).map_err(|detail| IndexError::Damaged {
            path: dir.to_path_buf(),
            detail,
        })?;
        let index = super::readonly::open(dir)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|e: tantivy::TantivyError| IndexError::Tantivy {
                path: dir.to_path_buf(),
                source: e,
            })?;
        let (_, fields) = schema::build();
        let dense = model_dir.and_then(|m| match Vectors::read(dir) {
            Some(v) => Some(hybrid::Dense::new(v, &reader.searcher(), m.to_path_buf())),
            None => {
                hybrid::say_no_vectors(m);
                None
            }
        });
        Ok(Searcher {
            reader,
            fields,
            dir: dir.to_path_buf(),
            dense,
            section_ids: std::sync::OnceLock::new(),
        })
    }

    /// The index folder (generation) this searcher reads.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Searches `question` with all retrieval features.
    pub fn search(
        &self,
        question: &str,
        scope: Scope,
        limit: usize,
    ) -> Result<Vec<Hit>, IndexError> {
        self.search_with(question, scope, limit, Features::ALL)
    }

    /// Searches `question` for a model that reads the sections' text (the agent's
    /// `search_docs`, AIChat's reranker): two sections of a page may lead, since the answer is
    /// often in a page's second-best section (`make eval`: an answer phrase in the first five
    /// on the hard set 0.567 → 0.683), where a person scanning hits is better served by
    /// distinct pages.
    pub fn search_passages(
        &self,
        question: &str,
        scope: Scope,
        limit: usize,
    ) -> Result<Vec<Hit>, IndexError> {
        self.search_with(question, scope, limit, Features::PASSAGES)
    }

    /// Searches with chosen retrieval features (for measuring them).
    pub fn search_with(
        &self,
        question: &str,
        scope: Scope,
        limit: usize,
        features: Features,
    ) -> Result<Vec<Hit>, IndexError> {
        let limit = limit.clamp(1, MAX_LIMIT);
        let searcher = self.reader.searcher();
        let columns = Columns::open(&searcher).map_err(|e| self.error(e))?;
        // LXD's words: BM25 gets both spellings (the migration pages say "LXD"), the model
        // the Incus ones.
        let modern = query::modernize(question);
        let both = if modern == question {
            modern.clone()
        } else {
            format!("{question} {modern}")
        };
        let want = limit.max(hybrid::CANDIDATES);
        let lexical = if features.lexical {
            self.lexical(&searcher, &columns, &both, scope, want, features)?
        } else {
            Vec::new()
        };
        let dense = match (&self.dense, features.dense) {
            (Some(d), true) => d.search(&modern, scope.collection(), want),
            _ => Vec::new(),
        };
        let fused = !dense.is_empty() && !lexical.is_empty();
        let top: Vec<(Score, tantivy::DocAddress)> = if dense.is_empty() {
            lexical
        } else if lexical.is_empty() {
            dense.into_iter().map(|(a, s)| (s, a)).collect()
        } else {
            let lex: Vec<tantivy::DocAddress> = lexical.iter().map(|(_, a)| *a).collect();
            let den: Vec<tantivy::DocAddress> = dense.iter().map(|(a, _)| *a).collect();
            let mut fused = hybrid::fuse(&lex, &den, LEXICAL_WEIGHT);
            if features.page_text {
                self.add_whole_pages(&searcher, &columns, &mut fused, &both, scope, features)?;
            }
            let named = if features.keys {
                self.defining(&searcher, &both)?
            } else {
                HashSet::new()
            };
            settle::settle(&columns, fused, features, &named)
        };
        // One page per place when asked; a fused ranking two sections of a page at most.
        let per_page = match (features.distinct_pages, fused) {
            (true, _) => Some(1),
            (false, true) => Some(2),
            (false, false) => None,
        };
        let top = match per_page {
            Some(n) => settle::spread(&columns, top, n),
            None => top,
        };
        let top = top.into_iter().take(limit).collect();
        self.hits(&searcher, top)
    }

    /// The sections that define a configuration key the question names.
    fn defining(
        &self,
        searcher: &tantivy::Searcher,
        question: &str,
    ) -> Result<HashSet<tantivy::DocAddress>, IndexError> {
        let keys = query::keys_in(question);
        if keys.is_empty() {
            return Ok(HashSet::new());
        }
        let terms: Vec<(Occur, Box<dyn Query>)> = keys
            .iter()
            .map(|k| {
                let term = Term::from_field_text(self.fields.keys, k);
                let q: Box<dyn Query> = Box::new(TermQuery::new(term, IndexRecordOption::Basic));
                (Occur::Should, q)
            })
            .collect();
        searcher
            .search(&BooleanQuery::new(terms), &DocSetCollector)
            .map_err(|e| self.error(e))
    }

    /// Embeds queries with the `incus-ai serve` at `addr` while it answers (see
    /// [`hybrid::Dense::use_server`]): a one-query process then skips loading the model.
    pub fn with_query_server(mut self, addr: std::net::SocketAddr) -> Searcher {
        if let Some(d) = self.dense.as_mut() {
            d.use_server(addr);
        }
        self
    }

    /// Whether dense search is available (vectors in the index and a model that loads).
    pub fn has_dense(&self) -> bool {
        self.dense.as_ref().is_some_and(hybrid::Dense::available)
    }

    /// The BM25 half: `limit` sections, best first.
    fn lexical(
        &self,
        searcher: &tantivy::Searcher,
        columns: &Columns,
        question: &str,
        scope: Scope,
        limit: usize,
        features: Features,
    ) -> Result<Vec<(Score, tantivy::DocAddress)>, IndexError> {
        let f = &self.fields;
        let err = |e: tantivy::TantivyError| IndexError::Tantivy {
            path: self.dir.clone(),
            source: e,
        };
        let field = if features.boosts { f.weighted } else { f.flat };
        let section_q = self.restrict(
            query::build(f, field, question, features),
            KIND_SECTION,
            scope,
        );

        let page_scores = if features.pages {
            self.page_scores(searcher, columns, question, scope, features)?
        } else {
            Vec::new()
        };
        let page_scores = Arc::new(page_scores);
        let use_priors = features.priors;
        let intent = if features.intent {
            query::intent_of(question)
        } else {
            Intent::Other
        };
        let candidates = if features.coverage {
            limit.max(COVERAGE_CANDIDATES)
        } else {
            limit.max(1)
        };
        let collector =
            TopDocs::with_limit(candidates).tweak_score(move |segment: &SegmentReader| {
                let ff = segment.fast_fields();
                let ids = ff.u64("page_id").map(|c| c.first_or_default_col(0)).ok();
                let priors = ff.f64("prior").map(|c| c.first_or_default_col(1.0)).ok();
                let classes = ff.u64("class").map(|c| c.first_or_default_col(0)).ok();
                let page_scores = page_scores.clone();
                move |doc: DocId, score: Score| {
                    let page = ids.as_ref().map_or(0.0, |c| {
                        let id = c.get_val(doc);
                        page_scores
                            .binary_search_by_key(&id, |(p, _)| *p)
                            .map_or(0.0, |i| page_scores[i].1)
                    });
                    let prior = match (&priors, use_priors) {
                        (Some(p), true) => p.get_val(doc) as f32,
                        _ => 1.0,
                    };
                    let class = classes.as_ref().map_or(0, |c| c.get_val(doc));
                    let intent_boost = match intent {
                        Intent::HowTo if class == SectionClass::HowTo as u64 => INTENT_BOOST,
                        Intent::ConfigKey if class == SectionClass::ConfigOption as u64 => {
                            KEY_INTENT_BOOST
                        }
                        _ => 1.0,
                    };
                    score * (1.0 + PAGE_WEIGHT * page) * prior * intent_boost
                }
            });
        let mut top = searcher.search(&section_q, &collector).map_err(err)?;
        if features.coverage {
            let terms = query::content_terms(question, false);
            let covered = super::refine::coverage(searcher, field, &terms, &top).map_err(err)?;
            for ((score, _), c) in top.iter_mut().zip(covered) {
                *score *= c.powf(COVERAGE_EXPONENT);
            }
            top.sort_by(|a, b| b.0.total_cmp(&a.0));
            top.truncate(limit.max(1));
        }
        Ok(top)
    }

    /// How well each page as a whole (its outline) matches, relative to the best page: page
    /// ids and scores, sorted by id (looked up for every matching section; a binary search in
    /// 30 beats hashing).
    fn page_scores(
        &self,
        searcher: &tantivy::Searcher,
        columns: &Columns,
        question: &str,
        scope: Scope,
        features: Features,
    ) -> Result<Vec<(u64, f32)>, IndexError> {
        let f = self.fields.weighted;
        let pages = self.top_pages(searcher, f, question, scope, features, PAGES_CONSIDERED)?;
        let best = pages
            .first()
            .map_or(1.0, |(s, _)| *s)
            .max(f32::MIN_POSITIVE);
        let mut scores: Vec<(u64, f32)> = pages
            .into_iter()
            .map(|(s, addr)| (columns.page(addr), s / best))
            .collect();
        scores.sort_by_key(|(id, _)| *id);
        Ok(scores)
    }

    /// The first `n` page documents by BM25 over their `field` (keys are matched on the
    /// sections that define them, not on pages), best first: each one's score and address.
    pub(super) fn top_pages(
        &self,
        searcher: &tantivy::Searcher,
        field: tantivy::schema::Field,
        question: &str,
        scope: Scope,
        features: Features,
        n: usize,
    ) -> Result<Vec<(Score, tantivy::DocAddress)>, IndexError> {
        let words = Features {
            keys: false,
            ..features
        };
        let q = self.restrict(
            query::build(&self.fields, field, question, words),
            KIND_PAGE,
            scope,
        );
        searcher
            .search(&q, &TopDocs::with_limit(n).order_by_score())
            .map_err(|e| self.error(e))
    }

    /// The stored fields of the ranked documents, as hits.
    fn hits(
        &self,
        searcher: &tantivy::Searcher,
        top: Vec<(Score, tantivy::DocAddress)>,
    ) -> Result<Vec<Hit>, IndexError> {
        let f = &self.fields;
        let mut hits = Vec::with_capacity(top.len());
        for (i, (score, addr)) in top.into_iter().enumerate() {
            let d: TantivyDocument = searcher.doc(addr).map_err(|e| self.error(e))?;
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
                collection: Collection::parse(&text(f.collection)).unwrap_or(Collection::Docs),
                url: text(f.url),
                doc_path: (!doc_path.is_empty()).then_some(doc_path),
                title: text(f.title),
                section: text(f.section),
                text: text(f.markdown),
            });
        }
        Ok(hits)
    }

    pub(super) fn error(&self, e: tantivy::TantivyError) -> IndexError {
        IndexError::Tantivy {
            path: self.dir.clone(),
            source: e,
        }
    }

    #[allow(clippy::unused_self)]
    fn restrict(&self, q: Box<dyn Query>, kind: &str, scope: Scope) -> Box<dyn Query> {
        let f = &self.fields;
        let exact = |field, value: &str| -> Box<dyn Query> {
            let t = TermQuery::new(
                Term::from_field_text(field, value),
                IndexRecordOption::Basic,
            );
            Box::new(ConstScoreQuery::new(Box::new(t), 0.0))
        };
        let mut clauses = vec![(Occur::Must, q), (Occur::Must, exact(f.kind, kind))];
        if let Some(c) = scope.collection() {
            clauses.push((Occur::Must, exact(f.collection, c.as_str())));
        }
        Box::new(BooleanQuery::new(clauses))
    }
}
