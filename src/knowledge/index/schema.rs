//! The index schema and its text analyzers.

use tantivy::Index;
use tantivy::schema::{
    FAST, Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RawTokenizer, RemoveLongFilter, SimpleTokenizer,
    Stemmer, TextAnalyzer,
};

/// Bumped whenever fields or analyzers change; an index of another version is rebuilt (7:
/// page documents hold their whole text in `page_text`).
pub const SCHEMA_VERSION: u32 = 7;

/// `kind` of a document that is one heading section.
pub const KIND_SECTION: &str = "section";
/// `kind` of a document that is a whole page (for page-level evidence).
pub const KIND_PAGE: &str = "page";

/// English prose: words, lowercased, ASCII-folded, stemmed.
pub const PROSE: &str = "incus_prose";
/// Configuration keys: the whole key, lowercased (`cluster.offline_threshold`).
pub const KEY: &str = "incus_key";

/// Handles to the fields.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    /// `<collection>/<file>`: which page a document belongs to (for incremental updates).
    pub page_key: Field,
    /// [`KIND_SECTION`] or [`KIND_PAGE`].
    pub kind: Field,
    /// `docs` or `local`.
    pub collection: Field,
    /// Canonical URL of the section, with anchor.
    pub url: Field,
    /// Path under `doc/`, when known.
    pub doc_path: Field,
    /// Page title (stored for display).
    pub title: Field,
    /// The section's own heading.
    pub heading: Field,
    /// Breadcrumb from the page title down (stored for display).
    pub section: Field,
    /// Prose of the section (or page).
    pub body: Field,
    /// Everything, with the heading path repeated so that it weighs more (BM25F-style:
    /// one field, so a word's rarity is judged over all text).
    pub weighted: Field,
    /// Everything once, for measuring what the weighting brings.
    pub flat: Field,
    /// All of a page's text, on its page document: the question's words scattered over a
    /// page's sections are evidence for the page as a whole.
    pub page_text: Field,
    /// Configuration keys the section defines.
    pub keys: Field,
    /// Markdown of the section, for display.
    pub markdown: Field,
    /// Number identifying the page (fast field, to join sections with their page's score).
    pub page_id: Field,
    /// Page-type prior (fast field), see [`prior_for`].
    pub prior: Field,
    /// What kind of text the section is (fast field), see [`SectionClass`].
    pub class: Field,
    /// Number identifying the section (fast field), the key of its vector, see [`section_id`].
    pub section_id: Field,
    /// Position of the section in its page (stored), so that a page can be read back in order.
    pub ordinal: Field,
    /// Heading level of the section (stored), 1 for the page title.
    pub level: Field,
}

/// What kind of text a section is, following the docs' own layout (how-to guides,
/// explanations, reference).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum SectionClass {
    /// Anything else (local notes, FAQ, top-level pages).
    Other = 0,
    /// A section of a how-to guide or tutorial.
    HowTo = 1,
    /// A section that defines a configuration key.
    ConfigOption = 2,
}

impl SectionClass {
    /// Classifies a section by its page path and the keys it defines.
    pub fn of(doc_path: Option<&str>, defines_keys: bool) -> SectionClass {
        if defines_keys {
            return SectionClass::ConfigOption;
        }
        match doc_path {
            Some(p) if p.starts_with("howto/") || p.starts_with("tutorial/") => SectionClass::HowTo,
            _ => SectionClass::Other,
        }
    }
}

/// Prior of a section that defines `keys`: internal `volatile.*` keys are not for admins to set.
pub fn key_prior(keys: &[String]) -> f64 {
    if !keys.is_empty() && keys.iter().all(|k| k.starts_with("volatile.")) {
        0.5
    } else {
        1.0
    }
}

/// The number that identifies a page in the `page_id` fast field.
pub fn page_id(page_key: &str) -> u64 {
    // FNV-1a: stable across builds and runs.
    page_key.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    })
}

/// The number that identifies the `ordinal`-th section of a page (its vector's key).
pub fn section_id(page_key: &str, ordinal: usize) -> u64 {
    page_id(&format!("{page_key}#{ordinal}"))
}

/// Prior of the running server's own reference (`sources::server_config`): terse lines that
/// name every key again, so that they stand in where the docs say nothing, not before them.
pub const SERVER_REFERENCE_PRIOR: f64 = 0.5;

/// How likely a page of this type answers an admin's question. The API changelog lists every
/// feature in a line; generated man pages and the docs for those who build Incus rather than
/// run it (contributing, the docs' cheat sheet, packaging recommendations) repeat words
/// without answering (packaging at 0.6: MRR@10 up on every set, dev 0.907 → 0.920);
/// the tutorial walks through a first use of everything and sends the reader to the guides
/// for the details (no question of any eval set is answered by it; at 0.75 the hard set's
/// MRR@10 rises 0.610 → 0.622 on the site and 0.623 → 0.636 on markdown, dev and real unchanged).
pub fn prior_for(doc_path: Option<&str>) -> f64 {
    let Some(p) = doc_path else { return 1.0 };
    if p == "api-extensions.md" {
        0.5
    } else if p.starts_with("contributing") || p == "doc-cheat-sheet.md" || p == "packaging.md" {
        0.6
    } else if p.starts_with("reference/manpages/")
        || p.starts_with("rest-api")
        || p == "api.md"
        || p.starts_with("tutorial/")
    {
        0.75
    } else {
        1.0
    }
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
        kind: b.add_text_field("kind", STRING),
        collection: b.add_text_field("collection", STRING | STORED),
        url: b.add_text_field("url", STORED),
        doc_path: b.add_text_field("doc_path", STRING | STORED),
        title: b.add_text_field("title", STORED),
        heading: b.add_text_field("heading", prose(false)),
        section: b.add_text_field("section", STORED),
        body: b.add_text_field("body", prose(false)),
        weighted: b.add_text_field("weighted", prose(false)),
        flat: b.add_text_field("flat", prose(false)),
        page_text: b.add_text_field("page_text", prose(false)),
        keys: b.add_text_field("keys", keys),
        markdown: b.add_text_field("markdown", STORED),
        page_id: b.add_u64_field("page_id", FAST),
        prior: b.add_f64_field("prior", FAST),
        class: b.add_u64_field("class", FAST),
        section_id: b.add_u64_field("section_id", FAST | STORED),
        ordinal: b.add_u64_field("ordinal", STORED),
        level: b.add_u64_field("level", STORED),
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

#[cfg(test)]
mod tests {
    use super::{build, prior_for, register};
    use crate::knowledge::Collection;
    use crate::knowledge::index::build::add_page;
    use tantivy::{Index, IndexWriter};

    #[test]
    fn pages_that_rarely_answer_weigh_less() {
        let cases = [
            (None, 1.0),
            (Some("howto/cluster_manage.md"), 1.0),
            (Some("faq.md"), 1.0),
            (Some("api-extensions.md"), 0.5),
            (Some("contributing.md"), 0.6),
            (Some("doc-cheat-sheet.md"), 0.6),
            (Some("packaging.md"), 0.6),
            (Some("reference/manpages/incus/launch.md"), 0.75),
            (Some("rest-api.md"), 0.75),
            (Some("api.md"), 0.75),
            (Some("tutorial/first_steps.md"), 0.75),
        ];
        for (path, want) in cases {
            assert_eq!(prior_for(path), want, "{path:?}");
        }
    }

    /// The columns scoring reads for every candidate are held by every document (pages too),
    /// so tantivy reads them without an optional-column lookup.
    #[test]
    fn scoring_columns_are_full() {
        let (schema, f) = build();
        let index = Index::create_in_ram(schema);
        register(&index);
        let mut writer: IndexWriter = index.writer_with_num_threads(1, 15_000_000).unwrap();
        let page = "---\ntitle: How to manage a cluster\nurl: https://example.org/docs/howto/cluster_manage/\ndoc_path: howto/cluster_manage.md\n---\n\n# How to manage a cluster\n\nIntro.\n\n## Evacuate\n\nRun `incus cluster evacuate m1`.\n";
        let n = add_page(
            &writer,
            &f,
            Collection::Docs,
            "docs/howto/cluster_manage.md",
            page,
        )
        .unwrap();
        assert_eq!(n, 2);
        writer.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        assert_eq!(searcher.num_docs(), 3, "two sections and the page");
        let ff = searcher.segment_reader(0).fast_fields();
        for name in ["page_id", "class"] {
            let col = ff.u64(name).unwrap();
            assert_eq!(
                col.get_cardinality(),
                tantivy::columnar::Cardinality::Full,
                "{name}"
            );
        }
        let prior = ff.f64("prior").unwrap();
        assert_eq!(
            prior.get_cardinality(),
            tantivy::columnar::Cardinality::Full
        );
    }
}
