//! A docs source tree on disk: the `doc/` folder and the repository root around it, with
//! transparent reading of gzipped files (Debian ships some docs as `*.md.gz`).

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use super::MystError;

/// Where the markdown lives.
#[derive(Debug, Clone)]
pub struct DocTree {
    /// The `doc/` folder.
    pub doc_root: PathBuf,
    /// The repository root, for includes that leave `doc/` (`../README.md`).
    pub repo_root: Option<PathBuf>,
}

impl DocTree {
    /// Finds the docs in `dir`: a repository checkout (with `doc/`) or the docs folder itself.
    pub fn locate(dir: &Path) -> DocTree {
        let doc = dir.join("doc");
        if doc.join("index.md").exists() || doc.join("index.md.gz").exists() {
            return DocTree {
                doc_root: doc,
                repo_root: Some(dir.to_path_buf()),
            };
        }
        let repo_root = dir
            .parent()
            .filter(|p| dir.file_name().is_some_and(|n| n == "doc") && p.join("README.md").exists())
            .map(Path::to_path_buf);
        DocTree {
            doc_root: dir.to_path_buf(),
            repo_root,
        }
    }

    /// Every page below the docs folder as a `doc/`-relative path (`howto/x.md`), sorted.
    pub fn pages(&self) -> Result<Vec<String>, MystError> {
        let mut out = Vec::new();
        walk(&self.doc_root, &self.doc_root, &mut out).map_err(|e| MystError::Read {
            path: self.doc_root.clone(),
            detail: e.to_string(),
        })?;
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Reads a `doc/`-relative file (or its `.gz`).
    pub fn read_doc(&self, rel: &str) -> Result<String, MystError> {
        read_maybe_gz(&self.doc_root.join(rel))
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

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "html" {
            continue;
        }
        if entry.file_type()?.is_dir() || (entry.file_type()?.is_symlink() && path.is_dir()) {
            walk(root, &path, out)?;
        } else if name.ends_with(".md") || name.ends_with(".md.gz") {
            let rel = path.strip_prefix(root).unwrap_or(&path).to_string_lossy();
            out.push(rel.trim_end_matches(".gz").to_string());
        }
    }
    Ok(())
}

/// Reads a UTF-8 text file, decompressing it if it (or only its `.gz` sibling) is gzipped.
pub fn read_maybe_gz(path: &Path) -> Result<String, MystError> {
    let err = |detail: String| MystError::Read {
        path: path.to_path_buf(),
        detail,
    };
    let gz_sibling = PathBuf::from(format!("{}.gz", path.display()));
    let (path, bytes) = match std::fs::read(path) {
        Ok(b) => (path.to_path_buf(), b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && gz_sibling.exists() => {
            let b = std::fs::read(&gz_sibling).map_err(|e| err(e.to_string()))?;
            (gz_sibling, b)
        }
        Err(e) => return Err(err(e.to_string())),
    };
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .map_err(|e| err(format!("bad gzip data: {e}")))?;
        out
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
            t.pages().unwrap(),
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
