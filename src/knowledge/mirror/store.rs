//! The on-disk mirror of one collection.
//!
//! ```text
//! mirror/docs/current -> gen-000007          (symlink, swapped atomically)
//! mirror/docs/gen-000007/manifest.json
//! mirror/docs/gen-000007/pages/howto/cluster_manage.md
//! ```
//!
//! A run writes a whole new generation (unchanged pages are hard links), then swaps the
//! symlink. Readers and an interrupted run therefore only ever see a complete generation.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::knowledge::sources::{SourcePage, Validators};
use crate::util::generations::Generations;

/// Errors of the mirror store. Each names the path.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A filesystem operation failed.
    #[error("mirror {path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A manifest that is not one.
    #[error("mirror {path}: bad manifest")]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// A page file whose content does not match the manifest.
    #[error(
        "mirror {path}: damaged: its content does not match the manifest (run `incus-ai mirror` to repair it)"
    )]
    Damaged {
        /// The page file.
        path: PathBuf,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// sha256 of a page's text, hex.
pub fn content_hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Which source produced a collection's pages, and how.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SourceRecord {
    /// The configured source.
    pub spec: String,
    /// What was actually read (differs from `spec` for a fallback or a version match).
    pub used: String,
    /// A note for the user (fallback taken, version matched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One mirrored page.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PageRecord {
    /// sha256 of the file.
    pub hash: String,
    /// Index into [`Manifest::sources`].
    pub source: usize,
    /// HTTP validators, for site pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<Validators>,
}

/// The manifest of one generation.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// Unix time of the run that wrote it.
    pub created: u64,
    /// The sources, in priority order.
    pub sources: Vec<SourceRecord>,
    /// Pages by file path.
    pub pages: BTreeMap<String, PageRecord>,
}

/// A complete generation of the mirror.
#[derive(Debug, Clone)]
pub struct Generation {
    /// Its folder.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
}

impl Generation {
    /// Path of a page file.
    pub fn page_path(&self, file: &str) -> PathBuf {
        self.dir.join("pages").join(file)
    }

    /// Reads a page.
    pub fn read(&self, file: &str) -> Result<String, StoreError> {
        let p = self.page_path(file);
        std::fs::read_to_string(&p).map_err(io(&p))
    }

    /// Reads a page and checks it against the hash in the manifest.
    pub fn read_verified(&self, file: &str) -> Result<String, StoreError> {
        let text = self.read(file)?;
        match self.manifest.pages.get(file) {
            Some(rec) if rec.hash == content_hash(&text) => Ok(text),
            _ => Err(StoreError::Damaged {
                path: self.page_path(file),
            }),
        }
    }

    /// Whether the page file holds exactly `text`.
    fn holds(&self, file: &str, text: &str) -> bool {
        std::fs::read(self.page_path(file)).is_ok_and(|b| b == text.as_bytes())
    }
}

/// What a commit changed, by page file.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Changes {
    /// New pages.
    pub added: Vec<String>,
    /// Pages whose text changed.
    pub changed: Vec<String>,
    /// Pages that are gone.
    pub removed: Vec<String>,
    /// Pages with the same text.
    pub unchanged: usize,
    /// Pages not written because their file name is not a plain relative path.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
}

impl Changes {
    /// True when nothing was added, changed or removed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }
}

/// The mirror of one collection.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// The store under `root` (e.g. `<data>/mirror/docs`); nothing is created yet.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Store { root: root.into() }
    }

    fn gens(&self) -> Generations {
        Generations::new(&self.root)
    }

    /// The `current` symlink's path: a stable path to the current generation.
    pub fn current_link(&self) -> PathBuf {
        self.gens().current_link()
    }

    /// The current generation, if any.
    pub fn current(&self) -> Result<Option<Generation>, StoreError> {
        let Some(dir) = self.gens().current() else {
            return Ok(None);
        };
        let mpath = dir.join("manifest.json");
        let text = std::fs::read_to_string(&mpath).map_err(io(&mpath))?;
        let manifest = serde_json::from_str(&text).map_err(|source| StoreError::Manifest {
            path: mpath.clone(),
            source,
        })?;
        Ok(Some(Generation { dir, manifest }))
    }

    /// Writes `pages` (each tagged with the index of its source in `sources`) as the new
    /// generation and makes it current. Nothing is written when pages and sources are as now.
    pub fn commit(
        &self,
        pages: Vec<(usize, SourcePage)>,
        sources: Vec<SourceRecord>,
    ) -> Result<Changes, StoreError> {
        self.gens().clean();
        // A damaged current generation is simply replaced.
        let old = self.current().ok().flatten();
        let mut manifest = Manifest {
            created: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            sources,
            pages: BTreeMap::new(),
        };
        let mut texts = BTreeMap::new();
        let mut skipped = Vec::new();
        for (source, p) in pages {
            // The name becomes a path under pages/: nothing may reach outside it.
            if !crate::util::fsx::is_normal_relative(&p.file) || !p.file.ends_with(".md") {
                skipped.push(format!(
                    "{}: skipped, not a plain relative .md file name",
                    crate::util::out::one_line(&p.file)
                ));
                continue;
            }
            if manifest.pages.contains_key(&p.file) {
                continue; // an earlier source already gave this page
            }
            manifest.pages.insert(
                p.file.clone(),
                PageRecord {
                    hash: content_hash(&p.markdown),
                    source,
                    http: p.validators,
                },
            );
            texts.insert(p.file, p.markdown);
        }

        let old_pages = old
            .as_ref()
            .map(|g| g.manifest.pages.clone())
            .unwrap_or_default();
        let mut changes = Changes {
            skipped,
            ..Changes::default()
        };
        for (file, rec) in &manifest.pages {
            match old_pages.get(file) {
                None => changes.added.push(file.clone()),
                Some(o) if o.hash != rec.hash => changes.changed.push(file.clone()),
                Some(_) => changes.unchanged += 1,
            }
        }
        changes.removed = old_pages
            .keys()
            .filter(|f| !manifest.pages.contains_key(*f))
            .cloned()
            .collect();
        if let Some(o) = &old {
            let same = o.manifest.sources == manifest.sources
                && o.manifest.pages == manifest.pages
                && texts.iter().all(|(f, t)| o.holds(f, t));
            if same {
                return Ok(changes);
            }
        }

        let (name, tmp) = self.gens().begin().map_err(io(&self.root))?;
        let pages_dir = tmp.join("pages");
        std::fs::create_dir_all(&pages_dir).map_err(io(&pages_dir))?;
        for (file, text) in &texts {
            let dest = pages_dir.join(file);
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).map_err(io(parent))?;
            }
            // An unchanged page is linked from the previous generation, unless its file there
            // was damaged.
            let unchanged = old.as_ref().filter(|g| {
                old_pages.get(file).map(|o| &o.hash) == manifest.pages.get(file).map(|r| &r.hash)
                    && g.holds(file, text)
            });
            let linked =
                unchanged.is_some_and(|g| std::fs::hard_link(g.page_path(file), &dest).is_ok());
            if !linked {
                std::fs::write(&dest, text).map_err(io(&dest))?;
            }
        }
        let mpath = tmp.join("manifest.json");
        let json = serde_json::to_vec(&manifest).expect("manifest serializes");
        let mut f = std::fs::File::create(&mpath).map_err(io(&mpath))?;
        f.write_all(&json).map_err(io(&mpath))?;
        f.sync_all().map_err(io(&mpath))?;
        self.gens().publish(&name, &tmp).map_err(io(&self.root))?;
        Ok(changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(file: &str, text: &str) -> (usize, SourcePage) {
        (
            0,
            SourcePage {
                file: file.into(),
                markdown: text.into(),
                validators: None,
            },
        )
    }

    fn record(spec: &str) -> SourceRecord {
        SourceRecord {
            spec: spec.into(),
            used: spec.into(),
            note: None,
        }
    }

    fn src() -> Vec<SourceRecord> {
        vec![record("s")]
    }

    #[test]
    fn commits_report_changes_and_swap_generations() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::new(d.path().join("docs"));
        assert!(store.current().unwrap().is_none());
        let c = store
            .commit(vec![page("a.md", "A"), page("b/c.md", "C")], src())
            .unwrap();
        assert_eq!(c.added, vec!["a.md", "b/c.md"]);
        let g1 = store.current().unwrap().unwrap();
        assert_eq!(g1.read("b/c.md").unwrap(), "C");

        let c = store
            .commit(vec![page("a.md", "A"), page("b/c.md", "C")], src())
            .unwrap();
        assert!(c.is_empty());
        assert_eq!(c.unchanged, 2);
        assert_eq!(
            store.current().unwrap().unwrap().dir,
            g1.dir,
            "no new generation when nothing changed"
        );

        let c = store
            .commit(vec![page("a.md", "A2"), page("d.md", "D")], src())
            .unwrap();
        assert_eq!(
            (c.added.clone(), c.changed.clone(), c.removed.clone()),
            (
                vec!["d.md".into()],
                vec!["a.md".into()],
                vec!["b/c.md".into()]
            )
        );
        let g2 = store.current().unwrap().unwrap();
        assert_eq!(g2.read("a.md").unwrap(), "A2");
        assert!(
            g1.dir.exists(),
            "the previous generation is kept for readers"
        );

        store.commit(vec![page("a.md", "A3")], src()).unwrap();
        assert!(!g1.dir.exists(), "older generations are pruned");
    }

    #[test]
    fn a_half_written_generation_is_ignored_and_cleaned_up() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::new(d.path().join("docs"));
        store.commit(vec![page("a.md", "A")], src()).unwrap();
        let junk = d.path().join("docs/gen-000002.tmp/pages");
        std::fs::create_dir_all(&junk).unwrap();
        std::fs::write(junk.join("a.md"), "partial").unwrap();
        assert_eq!(store.current().unwrap().unwrap().read("a.md").unwrap(), "A");
        store.commit(vec![page("a.md", "B")], src()).unwrap();
        assert!(!d.path().join("docs/gen-000002.tmp").exists());
        assert_eq!(store.current().unwrap().unwrap().read("a.md").unwrap(), "B");
    }

    #[test]
    fn the_first_source_wins_for_a_page_two_sources_give() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::new(d.path().join("docs"));
        let sources = vec![record("one"), record("two")];
        let second = |f: &str, t: &str| (1, page(f, t).1);
        store
            .commit(
                vec![
                    page("a.md", "from one"),
                    second("a.md", "from two"),
                    second("b.md", "B"),
                ],
                sources,
            )
            .unwrap();
        let g = store.current().unwrap().unwrap();
        assert_eq!(g.read("a.md").unwrap(), "from one");
        assert_eq!(g.manifest.pages["a.md"].source, 0);
        assert_eq!(g.manifest.pages["b.md"].source, 1);
    }
}
