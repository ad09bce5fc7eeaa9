//! The site's own notes: markdown files in folders the admin names (`--local`, `[local] dirs`)
//! and incus-ai's own notes folder. They form the `local` collection.

use std::collections::HashMap;
use std::path::Path;

use super::myst::render::{Catalog, Renderer};
use super::myst::tree::read_maybe_gz_within;
use super::{SourceError, SourcePage};
use crate::knowledge::document::PageMeta;
use crate::util::fsx;

/// The notes of one folder, and what was left out of it.
#[derive(Debug, Default)]
pub struct Notes {
    /// The pages.
    pub pages: Vec<SourcePage>,
    /// `path: reason` of files not read (links out of the folder, FIFOs).
    pub skipped: Vec<String>,
}

/// Reads every markdown file under `dir` into pages filed under `prefix/`. Links are followed
/// only inside `dir` and only regular files are read. A missing folder is an error unless
/// `optional`.
pub fn read_notes(dir: &Path, prefix: &str, optional: bool) -> Result<Notes, SourceError> {
    let name = format!("notes folder {}", dir.display());
    if !dir.is_dir() {
        if optional {
            return Ok(Notes::default());
        }
        return Err(SourceError::Missing { source_name: name });
    }
    let io_err = |e: std::io::Error| SourceError::Tarball {
        source_name: name.clone(),
        detail: e.to_string(),
    };
    let bound = std::fs::canonicalize(dir).map_err(io_err)?;
    let walk =
        fsx::walk(dir, &[], |n| n.ends_with(".md") || n.ends_with(".md.gz")).map_err(io_err)?;
    let catalog = Catalog::default();
    let subs = HashMap::new();
    let mut pages = Vec::new();
    for rel in walk.files {
        let path = dir.join(&rel);
        let text = read_maybe_gz_within(&bound, &path).map_err(|error| SourceError::Markdown {
            source_name: name.clone(),
            error,
        })?;
        let rel = rel.trim_end_matches(".gz").to_string();
        let mut r = Renderer::new(&catalog, &rel, &subs);
        let body = r.render(&text);
        let abs = std::fs::canonicalize(&path).unwrap_or(path.clone());
        let stem = rel.trim_end_matches(".md").replace(['_', '-'], " ");
        let meta = PageMeta {
            title: r.title.clone().unwrap_or(stem),
            url: format!("file://{}", abs.display()),
            doc_path: None,
        };
        pages.push(SourcePage {
            file: format!("{prefix}/{rel}"),
            markdown: format!("{}{}", meta.front_matter(), body.trim_start()),
            validators: None,
        });
    }
    Ok(Notes {
        pages,
        skipped: walk
            .skipped
            .into_iter()
            .map(|s| format!("{}/{s}", dir.display()))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::document::Page;

    #[test]
    fn notes_become_pages_with_file_urls() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("cluster")).unwrap();
        std::fs::write(
            d.path().join("cluster/members.md"),
            "# Our members\n\nnode1 is in rack 2.\n",
        )
        .unwrap();
        std::fs::write(d.path().join("untitled_note.md"), "Just text.\n").unwrap();
        std::fs::write(d.path().join("skip.txt"), "no").unwrap();
        let pages = read_notes(d.path(), "site", false).unwrap().pages;
        assert_eq!(pages.len(), 2);
        assert_eq!(pages[0].file, "site/cluster/members.md");
        let p = Page::parse(&pages[0].markdown);
        assert_eq!(p.meta.title, "Our members");
        assert!(p.meta.url.starts_with("file:///") && p.meta.url.ends_with("cluster/members.md"));
        assert_eq!(Page::parse(&pages[1].markdown).meta.title, "untitled note");
    }

    #[test]
    fn a_missing_folder_is_an_error_unless_optional() {
        let p = Path::new("/nonexistent/notes");
        assert!(read_notes(p, "x", true).unwrap().pages.is_empty());
        let e = read_notes(p, "x", false).unwrap_err().to_string();
        assert!(
            e.contains("/nonexistent/notes") && e.contains("no such folder"),
            "{e}"
        );
    }
}
