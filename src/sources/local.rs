//! The site's own notes: markdown files in folders the admin names (`--local`, `[local] dirs`)
//! and incus-ai's own notes folder. They form the `local` collection.

use std::collections::HashMap;
use std::path::Path;

use super::myst::render::{Catalog, Renderer};
use super::myst::tree::read_maybe_gz;
use super::{SourceError, SourcePage};
use crate::document::PageMeta;

/// Reads every markdown file under `dir` into pages filed under `prefix/`.
/// A missing folder is an error unless `optional`.
pub fn read_notes(
    dir: &Path,
    prefix: &str,
    optional: bool,
) -> Result<Vec<SourcePage>, SourceError> {
    let name = format!("notes folder {}", dir.display());
    if !dir.is_dir() {
        if optional {
            return Ok(Vec::new());
        }
        return Err(SourceError::Missing { source_name: name });
    }
    let mut files = Vec::new();
    collect(dir, dir, &mut files).map_err(|e| SourceError::Tarball {
        source_name: name.clone(),
        detail: e.to_string(),
    })?;
    files.sort();
    let catalog = Catalog::default();
    let subs = HashMap::new();
    let mut pages = Vec::new();
    for rel in files {
        let path = dir.join(&rel);
        let text = read_maybe_gz(&path).map_err(|error| SourceError::Markdown {
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
    Ok(pages)
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, out)?;
        } else if name.ends_with(".md") || name.ends_with(".md.gz") {
            out.push(
                path.strip_prefix(root)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Page;

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
        let pages = read_notes(d.path(), "site", false).unwrap();
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
        assert!(read_notes(p, "x", true).unwrap().is_empty());
        let e = read_notes(p, "x", false).unwrap_err().to_string();
        assert!(
            e.contains("/nonexistent/notes") && e.contains("no such folder"),
            "{e}"
        );
    }
}
