//! The index's sections read back, page by page in order: the one retrieval unit that the
//! AIChat export turns into chunks (with the sections' own vectors), so that a page is parsed
//! once per refresh, when it is indexed.

use std::collections::BTreeMap;
use std::path::Path;

use tantivy::TantivyDocument;
use tantivy::schema::Value;

use super::IndexError;
use super::schema;
use crate::knowledge::Collection;

/// One heading section as the index stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSection {
    /// Its collection.
    pub collection: Collection,
    /// Its place in its page (0 is the title section).
    pub ordinal: u64,
    /// The key of its vector ([`schema::section_id`]).
    pub section_id: u64,
    /// Heading level, 1 for the page title.
    pub level: u8,
    /// Canonical URL with anchor.
    pub url: String,
    /// The page title.
    pub title: String,
    /// Its own heading.
    pub heading: String,
    /// Breadcrumb from the page title down (`Manage a cluster > Evacuate`).
    pub breadcrumb: String,
    /// Its markdown, without the heading line.
    pub markdown: String,
}

/// Every section of the index in `dir`, by page key (`<collection>/<file>`), each page's in
/// order.
pub fn read_all(dir: &Path) -> Result<BTreeMap<String, Vec<StoredSection>>, IndexError> {
    let index = super::readonly::open(dir)?;
    let tantivy = |source: tantivy::TantivyError| IndexError::Tantivy {
        path: dir.to_path_buf(),
        source,
    };
    let reader = index.reader().map_err(tantivy)?;
    let searcher = reader.searcher();
    let (_, f) = schema::build();
    let mut pages: BTreeMap<String, Vec<StoredSection>> = BTreeMap::new();
    for segment in searcher.segment_readers() {
        let store = segment
            .get_store_reader(64)
            .map_err(|e| tantivy(e.into()))?;
        for doc_id in 0..segment.max_doc() {
            if segment.is_deleted(doc_id) {
                continue;
            }
            let d: TantivyDocument = store.get(doc_id).map_err(tantivy)?;
            let text = |field| {
                d.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            let number = |field| d.get_first(field).and_then(|v| v.as_u64()).unwrap_or(0);
            let key = text(f.page_key);
            // Page documents have no stored ordinal, level or section id.
            if key.is_empty() || d.get_first(f.level).is_none() {
                continue;
            }
            pages.entry(key).or_default().push(StoredSection {
                collection: Collection::parse(&text(f.collection)).unwrap_or(Collection::Docs),
                ordinal: number(f.ordinal),
                section_id: number(f.section_id),
                level: number(f.level).clamp(1, 6) as u8,
                url: text(f.url),
                title: text(f.title),
                heading: text(f.section)
                    .rsplit(" > ")
                    .next()
                    .unwrap_or_default()
                    .to_string(),
                breadcrumb: text(f.section),
                markdown: text(f.markdown),
            });
        }
    }
    for sections in pages.values_mut() {
        sections.sort_by_key(|s| s.ordinal);
    }
    Ok(pages)
}
