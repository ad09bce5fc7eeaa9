//! `incus-ai index`: builds or updates the index from the mirror.
//!
//! Each update writes a new generation (`index/gen-N`, the previous one's segment files hard
//! linked, only changed pages deleted and re-added), then swaps the `index/current` symlink.
//! Searches that already opened the old generation keep working; a killed update leaves
//! only a `.tmp` folder that the next one removes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tantivy::{Index, IndexWriter, Term, doc};

use super::schema::{self, Fields, KIND_PAGE, KIND_SECTION, SCHEMA_VERSION, SectionClass};
use super::{IndexError, dense};
use crate::knowledge::Collection;
use crate::knowledge::document::Page;
use crate::knowledge::mirror::store::{Generation, Store};
use crate::knowledge::sources::server_config;
use crate::util::generations::Generations;
use crate::util::paths::DataDir;
use crate::util::progress::Progress;

/// What the index holds, stored atomically with each commit.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Payload {
    /// [`SCHEMA_VERSION`] of the index.
    pub schema: u32,
    /// `<collection>/<file>` → content hash of the page as indexed.
    pub pages: BTreeMap<String, String>,
}

/// What an update did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct IndexReport {
    /// Pages indexed for the first time.
    pub pages_added: usize,
    /// Pages re-indexed because they changed.
    pub pages_updated: usize,
    /// Pages taken out.
    pub pages_removed: usize,
    /// Pages in the index now.
    pub pages_total: usize,
    /// Sections written by this update.
    pub sections_written: usize,
    /// Sections in the index now.
    pub sections_total: u64,
    /// True when the index was built from scratch.
    pub rebuilt: bool,
    /// Why the previous index could not be kept (damaged files), when it was rebuilt for that.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healed: Option<String>,
    /// The dense half: vectors, texts embedded now, from the cache.
    pub dense: dense::DenseReport,
    /// Wall time in milliseconds.
    pub elapsed_ms: u64,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> IndexError + '_ {
    move |source| IndexError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The folder of the current index generation, if any (symlink resolved).
pub fn current_dir(index_root: &Path) -> Option<PathBuf> {
    Generations::new(index_root)
        .current()
        .filter(|d| d.join("meta.json").exists())
}

fn read_payload(index: &Index) -> Option<Payload> {
    let metas = index.load_metas().ok()?;
    serde_json::from_str(metas.payload.as_deref()?).ok()
}

/// Checks every file of an index folder against its checksum; the damaged ones, if any.
pub fn damage(dir: &Path) -> Result<(), String> {
    let index = Index::open_in_dir(dir).map_err(|e| format!("cannot be opened ({e})"))?;
    let bad = index
        .validate_checksum()
        .map_err(|e| format!("cannot be checked ({e})"))?;
    if bad.is_empty() {
        return Ok(());
    }
    let mut names: Vec<String> = bad.iter().map(|p| p.display().to_string()).collect();
    names.sort();
    Err(format!("damaged files {}", names.join(", ")))
}

/// Opens an index folder with the analyzers registered.
pub fn open_dir(dir: &Path) -> Result<Index, IndexError> {
    let index = Index::open_in_dir(dir).map_err(|e| IndexError::Tantivy {
        path: dir.to_path_buf(),
        source: e,
    })?;
    schema::register(&index);
    Ok(index)
}

/// How many times the section's own heading, its parent headings and the page title are
/// repeated in the weighted field.
const HEADING_REPEAT: usize = 3;
const PARENTS_REPEAT: usize = 1;
const TITLE_REPEAT: usize = 1;

fn repeat(out: &mut String, text: &str, n: usize) {
    for _ in 0..n {
        out.push_str(text);
        out.push_str(" \n ");
    }
}

pub(super) fn add_page(
    writer: &IndexWriter,
    f: &Fields,
    collection: Collection,
    key: &str,
    text: &str,
) -> Result<usize, tantivy::TantivyError> {
    let page = Page::parse(text);
    let title = page.meta.title.as_str();
    let page_id = schema::page_id(key);
    let mut prior = schema::prior_for(page.meta.doc_path.as_deref());
    if key.starts_with(&format!("{}/{}/", Collection::Docs, server_config::FOLDER)) {
        prior *= schema::SERVER_REFERENCE_PRIOR;
    }
    let mut n = 0;
    let mut outline = String::new();
    let mut whole = String::new();
    // The page document is the page's outline (what the page is about, not every word in it)
    // and, apart, its whole text.
    repeat(&mut outline, title, 2);
    for (ordinal, s) in page.sections.iter().enumerate() {
        let parents = s.breadcrumb[..s.breadcrumb.len().saturating_sub(1)].join(" ");
        let mut weighted = String::new();
        repeat(&mut weighted, s.heading(), HEADING_REPEAT);
        repeat(&mut weighted, &parents, PARENTS_REPEAT);
        if s.breadcrumb.first().is_none_or(|b| b != title) {
            repeat(&mut weighted, title, TITLE_REPEAT);
        }
        let mut flat = String::new();
        repeat(&mut flat, &s.breadcrumb_string(), 1);
        for part in [&s.text, &s.code] {
            repeat(&mut weighted, part, 1);
            repeat(&mut flat, part, 1);
        }
        repeat(&mut whole, &flat, 1);
        repeat(&mut outline, s.heading(), 1);
        let mut d = doc!(
            f.page_key => key,
            f.kind => KIND_SECTION,
            f.collection => collection.as_str(),
            f.url => s.url(&page.meta.url),
            f.title => title,
            f.heading => s.heading(),
            f.section => s.breadcrumb_string(),
            f.body => s.text.as_str(),
            f.weighted => weighted,
            f.flat => flat,
            f.markdown => s.markdown.as_str(),
            f.page_id => page_id,
            f.prior => prior * schema::key_prior(&s.keys),
            f.class => SectionClass::of(page.meta.doc_path.as_deref(), !s.keys.is_empty()) as u64,
            f.section_id => schema::section_id(key, ordinal),
            f.ordinal => ordinal as u64,
            f.level => u64::from(s.level),
        );
        if let Some(p) = &page.meta.doc_path {
            d.add_text(f.doc_path, p);
        }
        for k in &s.keys {
            d.add_text(f.keys, k);
        }
        writer.add_document(d)?;
        n += 1;
    }
    let mut d = doc!(
        f.page_key => key,
        f.kind => KIND_PAGE,
        f.collection => collection.as_str(),
        f.url => page.meta.url.as_str(),
        f.title => title,
        f.weighted => outline,
        f.page_text => whole,
        f.page_id => page_id,
        f.prior => prior,
        // Every document has a class, so scoring reads it without an optional-column lookup
        // (BM25 search in process 1.005 -> 0.928 ms p50).
        f.class => SectionClass::Other as u64,
    );
    if let Some(p) = &page.meta.doc_path {
        d.add_text(f.doc_path, p);
    }
    writer.add_document(d)?;
    Ok(n)
}

/// Number of section documents (page documents not counted).
pub fn count_sections(index: &Index) -> u64 {
    let (_, f) = schema::build();
    let q = tantivy::query::TermQuery::new(
        Term::from_field_text(f.kind, KIND_SECTION),
        tantivy::schema::IndexRecordOption::Basic,
    );
    index
        .reader()
        .and_then(|r| r.searcher().search(&q, &tantivy::collector::Count))
        .map_or(0, |n| n as u64)
}

fn link_generation(from: &Path, to: &Path) -> Result<(), IndexError> {
    std::fs::create_dir_all(to).map_err(io(to))?;
    for e in std::fs::read_dir(from).map_err(io(from))?.flatten() {
        let name = e.file_name();
        if name.to_string_lossy().ends_with(".lock") {
            continue;
        }
        let dest = to.join(&name);
        if std::fs::hard_link(e.path(), &dest).is_err() {
            std::fs::copy(e.path(), &dest).map_err(io(&dest))?;
        }
    }
    Ok(())
}

/// An index update built in a temporary generation, not yet visible to searches.
pub struct StagedIndex {
    gens: Generations,
    pending: Option<(String, PathBuf)>,
    /// What the update does.
    pub report: IndexReport,
}

impl StagedIndex {
    /// The folder holding the index as it will be once published: the new generation, or the
    /// current one when nothing changed.
    pub fn dir(&self) -> PathBuf {
        match &self.pending {
            Some((_, tmp)) => tmp.clone(),
            None => self
                .gens
                .current()
                .unwrap_or_else(|| self.gens.current_link()),
        }
    }

    /// Makes the new generation current.
    pub fn publish(mut self) -> Result<IndexReport, IndexError> {
        if let Some((name, tmp)) = self.pending.take() {
            let dir = self
                .gens
                .publish(&name, &tmp)
                .map_err(io(self.gens.root()))?;
            self.report.sections_total = count_sections(&open_dir(&dir)?);
        }
        Ok(self.report)
    }

    /// Throws the new generation away.
    pub fn discard(mut self) {
        if let Some((_, tmp)) = self.pending.take() {
            let _ = std::fs::remove_dir_all(tmp);
        }
    }
}

/// Brings the index up to date with the mirror and makes it current.
pub fn update(data: &DataDir, opts: &IndexOptions) -> Result<IndexReport, IndexError> {
    stage(data, opts)?.publish()
}

/// What the mirror holds now: each collection's generation, and `<collection>/<file>` →
/// (index of its generation, file).
struct Wanted {
    generations: Vec<(Collection, Generation)>,
    pages: BTreeMap<String, (usize, String)>,
}

impl Wanted {
    fn read(data: &DataDir) -> Result<Wanted, IndexError> {
        let mut generations: Vec<(Collection, Generation)> = Vec::new();
        for collection in Collection::ALL {
            let store = Store::new(data.mirror().join(collection.as_str()));
            if let Some(g) = store.current()? {
                generations.push((collection, g));
            }
        }
        let mut pages = BTreeMap::new();
        for (i, (collection, g)) in generations.iter().enumerate() {
            for file in g.manifest.pages.keys() {
                pages.insert(format!("{collection}/{file}"), (i, file.clone()));
            }
        }
        if pages.is_empty() {
            return Err(IndexError::EmptyMirror(data.mirror()));
        }
        Ok(Wanted { generations, pages })
    }

    fn hash_of(&self, key: &str) -> String {
        let (i, file) = &self.pages[key];
        self.generations[*i].1.manifest.pages[file].hash.clone()
    }
}

/// The current index, when it can be kept: its folder and what it holds. A damaged index
/// (bit flips, a truncated segment) is rebuilt from the mirror, never carried forward; the
/// second value says why, then.
fn previous(root: &Path) -> (Option<(PathBuf, Payload)>, Option<String>) {
    let Some(dir) = current_dir(root) else {
        return (None, None);
    };
    if let Err(why) = damage(&dir) {
        let healed = format!(
            "the index at {} {why}; rebuilt it from the mirror",
            dir.display()
        );
        return (None, Some(healed));
    }
    let payload = open_dir(&dir)
        .ok()
        .and_then(|i| read_payload(&i))
        .filter(|p| p.schema == SCHEMA_VERSION);
    (payload.map(|p| (dir, p)), None)
}

/// Opens the new generation `tmp`: the previous one's segments linked in, or a new index.
fn open_new(tmp: &Path, previous: Option<&Path>) -> Result<Index, IndexError> {
    if let Some(cur) = previous {
        link_generation(cur, tmp)?;
        return open_dir(tmp);
    }
    std::fs::create_dir_all(tmp).map_err(io(tmp))?;
    let (schema, _) = schema::build();
    let i = Index::create_in_dir(tmp, schema).map_err(|e| IndexError::Tantivy {
        path: tmp.to_path_buf(),
        source: e,
    })?;
    schema::register(&i);
    Ok(i)
}

/// How an update runs.
#[derive(Debug, Clone, Default)]
pub struct IndexOptions {
    /// No progress bar.
    pub quiet: bool,
    /// The embedding model folder; `None` turns dense search off.
    pub model_dir: Option<PathBuf>,
}

/// Builds the update in a new generation without making it current.
pub fn stage(data: &DataDir, opts: &IndexOptions) -> Result<StagedIndex, IndexError> {
    let quiet = opts.quiet;
    let start = Instant::now();
    let root = data.index();
    let gens = Generations::new(&root);
    gens.clean();
    let wanted = Wanted::read(data)?;
    let (previous, healed) = previous(&root);
    let rebuilt = previous.is_none();
    let (current, old) = match previous {
        Some((d, p)) => (Some(d), p),
        None => (None, Payload::default()),
    };
    let mut report = IndexReport {
        rebuilt,
        healed,
        ..IndexReport::default()
    };
    let mut to_write = Vec::new();
    for k in wanted.pages.keys() {
        match old.pages.get(k) {
            None => report.pages_added += 1,
            Some(h) if *h != wanted.hash_of(k) => report.pages_updated += 1,
            Some(_) => continue,
        }
        to_write.push(k.clone());
    }
    let removed: Vec<String> = old
        .pages
        .keys()
        .filter(|k| !wanted.pages.contains_key(*k))
        .cloned()
        .collect();
    report.pages_removed = removed.len();
    report.pages_total = wanted.pages.len();
    let vectors_ok = dense::up_to_date(opts.model_dir.as_deref(), current.as_deref());
    if let Some(dir) = current
        .as_deref()
        .filter(|_| to_write.is_empty() && removed.is_empty() && vectors_ok)
    {
        report.sections_total = count_sections(&open_dir(dir)?);
        report.dense = dense::unchanged(dir);
        report.elapsed_ms = start.elapsed().as_millis() as u64;
        return Ok(StagedIndex {
            gens,
            pending: None,
            report,
        });
    }
    let (name, tmp) = gens.begin().map_err(io(&root))?;
    let index = open_new(&tmp, current.as_deref())?;
    let mut pages = old.pages.clone();
    for k in &removed {
        pages.remove(k);
    }
    report.sections_written = write(
        &index, &tmp, &wanted, &removed, &to_write, &mut pages, quiet,
    )?;
    report.sections_total = count_sections(&index);
    let read = |key: &str| -> Result<Page, IndexError> {
        let (i, file) = &wanted.pages[key];
        Ok(Page::parse(&wanted.generations[*i].1.read_verified(file)?))
    };
    let source = dense::PageSource {
        keys: wanted
            .pages
            .iter()
            .map(|(k, (i, _))| (k.clone(), wanted.generations[*i].0))
            .collect(),
        read: &read,
    };
    report.dense = dense::update(
        opts.model_dir.as_deref(),
        quiet,
        current.as_deref(),
        &tmp,
        &source,
        &to_write,
    )?;
    report.elapsed_ms = start.elapsed().as_millis() as u64;
    Ok(StagedIndex {
        gens,
        pending: Some((name, tmp)),
        report,
    })
}

/// Deletes the removed and changed pages, adds the changed ones, commits with the payload;
/// the sections written.
fn write(
    index: &Index,
    tmp: &Path,
    wanted: &Wanted,
    removed: &[String],
    to_write: &[String],
    pages: &mut BTreeMap<String, String>,
    quiet: bool,
) -> Result<usize, IndexError> {
    let tantivy_err = |e: tantivy::TantivyError| IndexError::Tantivy {
        path: tmp.to_path_buf(),
        source: e,
    };
    let (_, fields) = schema::build();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4);
    let mut writer: IndexWriter = index
        .writer_with_num_threads(threads, threads * 40_000_000)
        .map_err(tantivy_err)?;
    for k in removed.iter().chain(to_write.iter()) {
        writer.delete_term(Term::from_field_text(fields.page_key, k));
    }
    let progress = Progress::new("index", quiet);
    progress.set_length(to_write.len() as u64);
    let mut sections = 0;
    for k in to_write {
        let (i, file) = &wanted.pages[k];
        let (collection, g) = &wanted.generations[*i];
        let text = g.read_verified(file)?;
        sections += add_page(&writer, &fields, *collection, k, &text).map_err(tantivy_err)?;
        pages.insert(k.clone(), wanted.hash_of(k));
        progress.inc(1);
    }
    progress.finish();
    let payload = serde_json::to_string(&Payload {
        schema: SCHEMA_VERSION,
        pages: std::mem::take(pages),
    })
    .map_err(|e| IndexError::Io {
        path: tmp.to_path_buf(),
        source: std::io::Error::other(format!("cannot write the payload: {e}")),
    })?;
    let mut prepared = writer.prepare_commit().map_err(tantivy_err)?;
    prepared.set_payload(&payload);
    prepared.commit().map_err(tantivy_err)?;
    // One segment: each writer thread leaves its own and each update adds more, and every
    // query pays per segment (a term looked up, a scorer built, a top list merged).
    let segments = index.searchable_segment_ids().map_err(tantivy_err)?;
    if segments.len() > 1 {
        writer.merge(&segments).wait().map_err(tantivy_err)?;
    }
    writer.wait_merging_threads().map_err(tantivy_err)?;
    Ok(sections)
}
