//! A docs source tree on disk: the `doc/` folder and the repository root around it, with
//! transparent reading of gzipped files (Debian ships some docs as `*.md.gz`).

use std::path::{Component, Path, PathBuf};

use super::MystError;
use crate::util::fsx;

/// Largest markdown file read (after decompression).
pub const MAX_FILE_BYTES: usize = 16 << 20;

/// Where the markdown lives.
#[derive(Debug, Clone)]
pub struct DocTree {
    /// The `doc/` folder.
    pub doc_root: PathBuf,
    /// The repository root, for includes that leave `doc/` (`../README.md`).
    pub repo_root: Option<PathBuf>,
    /// Nothing outside this folder is read (the repository root, else `doc/`), links included.
    pub(crate) bound: PathBuf,
}

impl DocTree {
    /// Finds the docs in `dir`: a repository checkout (with `doc/`) or the docs folder itself.
    pub fn locate(dir: &Path) -> DocTree {
        let bound_of = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        let doc = dir.join("doc");
        if doc.join("index.md").exists() || doc.join("index.md.gz").exists() {
            return DocTree {
                doc_root: doc,
                repo_root: Some(dir.to_path_buf()),
                bound: bound_of(dir),
            };
        }
        let repo_root = dir
            .parent()
            .filter(|p| dir.file_name().is_some_and(|n| n == "doc") && p.join("README.md").exists())
            .map(Path::to_path_buf);
        DocTree {
            doc_root: dir.to_path_buf(),
            bound: bound_of(repo_root.as_deref().unwrap_or(dir)),
            repo_root,
        }
    }

    /// Every page below the docs folder as a `doc/`-relative path (`howto/x.md`), sorted, and
    /// what was left out (links out of the tree, FIFOs).
    pub fn pages(&self) -> Result<fsx::Walk, MystError> {
        let mut walk = fsx::walk(&self.doc_root, &["html"], |n| {
            n.ends_with(".md") || n.ends_with(".md.gz")
        })
        .map_err(|e| MystError::Read {
            path: self.doc_root.clone(),
            detail: e.to_string(),
        })?;
        for f in &mut walk.files {
            if let Some(plain) = f.strip_suffix(".gz") {
                *f = plain.to_string();
            }
        }
        walk.files.sort();
        walk.files.dedup();
        Ok(walk)
    }

    /// Reads a `doc/`-relative file (or its `.gz`).
    pub fn read_doc(&self, rel: &str) -> Result<String, MystError> {
        self.read(&self.doc_root.join(rel))
    }

    /// Reads a file of the tree (or its `.gz`), never outside it.
    pub fn read(&self, path: &Path) -> Result<String, MystError> {
        read_maybe_gz_within(&self.bound, path)
    }

    /// Whether an include path written in `from` points outside `doc/`.
    pub fn leaves_doc(&self, from: &str, target: &str) -> bool {
        let mut depth = Path::new(from).parent().map_or(0, |p| p.iter().count()) as i64;
        for c in Path::new(target).components() {
            match c {
                Component::ParentDir => depth -= 1,
                Component::Normal(_) => depth += 1,
                _ => {}
            }
            if depth < 0 {
                return true;
            }
        }
        false
    }

    /// Resolves an include path written in `from` (a `doc/`-relative file) to a file on disk.
    /// Paths that leave `doc/` are taken from the repository root.
    pub fn resolve(&self, from: &str, target: &str) -> Option<PathBuf> {
        // Components relative to the repository root, with doc/ as the first one.
        let mut parts: Vec<String> = vec!["doc".into()];
        parts.extend(
            Path::new(from)
                .parent()?
                .iter()
                .map(|c| c.to_string_lossy().into_owned()),
        );
        for c in Path::new(target).components() {
            match c {
                Component::ParentDir => {
                    parts.pop()?;
                }
                Component::Normal(n) => parts.push(n.to_string_lossy().into_owned()),
                Component::CurDir => {}
                Component::RootDir | Component::Prefix(_) => return None,
            }
        }
        let path = if parts.first().map(String::as_str) == Some("doc") {
            parts[1..]
                .iter()
                .fold(self.doc_root.clone(), |p, c| p.join(c))
        } else {
            parts.iter().fold(self.repo_root.clone()?, |p, c| p.join(c))
        };
        let gz = PathBuf::from(format!("{}.gz", path.display()));
        if path.is_file() {
            Some(path)
        } else if gz.is_file() {
            Some(gz)
        } else {
            None
        }
    }
}

/// Reads a UTF-8 text file inside `bound` (canonical), decompressing it if it (or only its
/// `.gz` sibling) is gzipped; at most [`MAX_FILE_BYTES`] either way. Links out of `bound`,
/// FIFOs and devices are refused.
pub fn read_maybe_gz_within(bound: &Path, path: &Path) -> Result<String, MystError> {
    let err = |detail: String| MystError::Read {
        path: path.to_path_buf(),
        detail,
    };
    let gz_sibling = PathBuf::from(format!("{}.gz", path.display()));
    let (path, bytes) = match fsx::read_within(bound, path, MAX_FILE_BYTES) {
        Ok(b) => (path.to_path_buf(), b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && gz_sibling.exists() => {
            let b = fsx::read_within(bound, &gz_sibling, MAX_FILE_BYTES)
                .map_err(|e| err(e.to_string()))?;
            (gz_sibling, b)
        }
        Err(e) => return Err(err(e.to_string())),
    };
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        fsx::gunzip_capped(&bytes, MAX_FILE_BYTES)
            .map_err(|e| err(format!("bad gzip data: {e}")))?
    } else {
        bytes
    };
    String::from_utf8(bytes).map_err(|_| MystError::Read {
        path,
        detail: "not UTF-8 text".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> (tempfile::TempDir, DocTree) {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("doc/howto")).unwrap();
        std::fs::write(d.path().join("doc/index.md"), "# Index\n").unwrap();
        std::fs::write(d.path().join("doc/howto/a.md"), "# A\n").unwrap();
        std::fs::write(d.path().join("README.md"), "repo readme").unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, b"# B gz\n").unwrap();
        std::fs::write(d.path().join("doc/howto/b.md.gz"), gz.finish().unwrap()).unwrap();
        let t = DocTree::locate(d.path());
        (d, t)
    }

    #[test]
    fn finds_pages_including_gzipped_ones() {
        let (_d, t) = tree();
        assert_eq!(
            t.pages().unwrap().files,
            vec!["howto/a.md", "howto/b.md", "index.md"]
        );
        assert_eq!(t.read_doc("howto/b.md").unwrap(), "# B gz\n");
    }

    #[test]
    fn includes_resolve_inside_doc_then_in_the_repository_root() {
        let (d, t) = tree();
        assert_eq!(
            t.resolve("howto/a.md", "../index.md"),
            Some(d.path().join("doc/index.md"))
        );
        assert_eq!(
            t.resolve("index.md", "../README.md"),
            Some(d.path().join("README.md"))
        );
        assert_eq!(
            t.resolve("howto/a.md", "b.md"),
            Some(d.path().join("doc/howto/b.md.gz"))
        );
        assert_eq!(t.resolve("index.md", "../../etc/passwd"), None);
        assert_eq!(t.resolve("index.md", "missing.md"), None);
    }
}
