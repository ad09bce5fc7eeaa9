//! The index schema and its text analyzers.

use tantivy::Index;
use tantivy::schema::{
    Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RawTokenizer, RemoveLongFilter, SimpleTokenizer,
    Stemmer, TextAnalyzer,
};

/// Bumped whenever fields or analyzers change; an index of another version is rebuilt.
pub const SCHEMA_VERSION: u32 = 1;

/// English prose: words, lowercased, ASCII-folded, stemmed.
pub const PROSE: &str = "incus_prose";
/// Configuration keys: the whole key, lowercased (`cluster.offline_threshold`).
pub const KEY: &str = "incus_key";

/// Handles to the fields.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    /// `<collection>/<file>`: which page a section belongs to (for incremental updates).
    pub page_key: Field,
    /// `docs` or `local`.
    pub collection: Field,
    /// Canonical URL of the section, with anchor.
    pub url: Field,
    /// Path under `doc/`, when known.
    pub doc_path: Field,
    /// Page title.
    pub title: Field,
    /// The section's own heading.
    pub heading: Field,
    /// Breadcrumb from the page title down.
    pub section: Field,
    /// Prose of the section.
    pub body: Field,
    /// Code blocks of the section.
    pub code: Field,
    /// Configuration keys the section defines.
    pub keys: Field,
    /// Markdown of the section, for display.
    pub markdown: Field,
}

fn prose(stored: bool) -> TextOptions {
    let o = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(PROSE)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    if stored { o.set_stored() } else { o }
}

/// Builds the schema.
pub fn build() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let keys = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(KEY)
                .set_index_option(IndexRecordOption::WithFreqs),
        )
        .set_stored();
    let fields = Fields {
        page_key: b.add_text_field("page_key", STRING | STORED),
        collection: b.add_text_field("collection", STRING | STORED),
        url: b.add_text_field("url", STORED),
        doc_path: b.add_text_field("doc_path", STRING | STORED),
        title: b.add_text_field("title", prose(true)),
        heading: b.add_text_field("heading", prose(false)),
        section: b.add_text_field("section", prose(true)),
        body: b.add_text_field("body", prose(false)),
        code: b.add_text_field("code", prose(false)),
        keys: b.add_text_field("keys", keys),
        markdown: b.add_text_field("markdown", STORED),
    };
    (b.build(), fields)
}

/// The prose analyzer, also used to analyze queries.
pub fn prose_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(48))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(Stemmer::new(Language::English))
        .build()
}

/// Registers the analyzers on an index.
pub fn register(index: &Index) {
    let m = index.tokenizers();
    m.register(PROSE, prose_analyzer());
    m.register(
        KEY,
        TextAnalyzer::builder(RawTokenizer::default())
            .filter(LowerCaser)
            .build(),
    );
}

/// Analyzes `text` into prose terms.
pub fn prose_terms(text: &str) -> Vec<String> {
    let mut a = prose_analyzer();
    let mut stream = a.token_stream(text);
    let mut out = Vec::new();
    while let Some(t) = stream.next() {
        out.push(t.text.clone());
    }
    out
}
