//! The per-document values a search reads for many candidates (each section's page, its
//! page-type prior), each column opened once per search rather than once per document:
//! finding a column by name costs more than reading a value from it.

use std::sync::Arc;

use tantivy::DocAddress;
use tantivy::columnar::ColumnValues;

/// The `page_id` and `prior` columns of every segment of one searcher.
pub(super) struct Columns {
    pages: Vec<Arc<dyn ColumnValues<u64>>>,
    priors: Vec<Arc<dyn ColumnValues<f64>>>,
}

impl Columns {
    /// Opens the columns of each of `searcher`'s segments.
    pub(super) fn open(searcher: &tantivy::Searcher) -> tantivy::Result<Columns> {
        let mut pages = Vec::new();
        let mut priors = Vec::new();
        for segment in searcher.segment_readers() {
            let ff = segment.fast_fields();
            pages.push(ff.u64("page_id")?.first_or_default_col(0));
            priors.push(ff.f64("prior")?.first_or_default_col(1.0));
        }
        Ok(Columns { pages, priors })
    }

    /// The page a document belongs to (its `page_id`).
    pub(super) fn page(&self, addr: DocAddress) -> u64 {
        self.pages[addr.segment_ord as usize].get_val(addr.doc_id)
    }

    /// A document's page-type prior (1 when it has none).
    pub(super) fn prior(&self, addr: DocAddress) -> f32 {
        self.priors[addr.segment_ord as usize].get_val(addr.doc_id) as f32
    }
}
