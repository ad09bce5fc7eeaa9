//! The filesystem, read and written defensively: file names taken from outside must be plain
//! relative paths, trees are walked without following links out of them, only regular files
//! are read (a FIFO never blocks a run), every read has a size limit, and files are replaced
//! atomically.

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

/// Longest relative file name accepted from a source (bytes).
const MAX_NAME: usize = 512;

/// Whether `p` is a relative path made only of normal components (`howto/x.md`): no `..`,
/// no `.`, no root, no empty part, no NUL, no backslash, not too long. Every path that comes
/// from a docs site, a tarball or a model and becomes a file name must pass this.
pub fn is_normal_relative(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= MAX_NAME
        && !p.contains(['\0', '\\'])
        && !p.starts_with('/')
        && !p.ends_with('/')
        && !p.contains("//")
        && Path::new(p)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
        && p.split('/').all(|s| s != "." && s != "..")
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// What a walk found: files (relative to the root, `/`-separated, sorted) and what it left
/// out and why.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Walk {
    /// Regular files whose name `accept` took.
    pub files: Vec<String>,
    /// `path: reason` for links out of the tree, broken links and special files.
    pub skipped: Vec<String>,
}

/// Walks the tree under `root`. Links are followed only when they resolve inside `root`;
/// FIFOs, sockets and devices are skipped; names starting with `.` and folders named in
/// `skip_dirs` are not entered. `accept` sees each file name.
pub fn walk(root: &Path, skip_dirs: &[&str], accept: impl Fn(&str) -> bool) -> io::Result<Walk> {
    let base = std::fs::canonicalize(root)?;
    let mut out = Walk::default();
    let mut seen = HashSet::from([base.clone()]);
    let mut stack = vec![(base.clone(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let rel_path = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let path = entry.path();
            let mut meta = std::fs::symlink_metadata(&path)?;
            let mut real = path.clone();
            if meta.file_type().is_symlink() {
                match std::fs::canonicalize(&path) {
                    Ok(target) if target.starts_with(&base) => {
                        meta = std::fs::metadata(&target)?;
                        real = target;
                    }
                    Ok(target) => {
                        out.skipped.push(format!(
                            "{rel_path}: links out of the tree (to {})",
                            target.display()
                        ));
                        continue;
                    }
                    Err(_) => {
                        out.skipped.push(format!("{rel_path}: broken link"));
                        continue;
                    }
                }
            }
            if meta.is_dir() {
                if !skip_dirs.contains(&name.as_str()) && seen.insert(real.clone()) {
                    stack.push((real, rel_path));
                }
            } else if !accept(&name) {
            } else if meta.is_file() {
                out.files.push(rel_path);
            } else {
                out.skipped.push(format!(
                    "{rel_path}: not a regular file (FIFO, socket or device)"
                ));
            }
        }
    }
    out.files.sort();
    out.skipped.sort();
    Ok(out)
}

/// Reads `path`, which must resolve inside `root` (a canonical folder) and be a regular file
/// of at most `max` bytes. Never blocks on a FIFO and never follows a link out of `root`.
pub fn read_within(root: &Path, path: &Path, max: usize) -> io::Result<Vec<u8>> {
    let real = std::fs::canonicalize(path)?;
    if !real.starts_with(root) {
        return Err(invalid(format!(
            "links out of {} (to {})",
            root.display(),
            real.display()
        )));
    }
    read_regular(&real, max)
}

/// Reads a regular file of at most `max` bytes (a FIFO or device is refused, not waited on).
pub fn read_regular(path: &Path, max: usize) -> io::Result<Vec<u8>> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(invalid("not a regular file".into()));
    }
    read_capped(file, max, "file")
}

/// Reads at most `max` bytes from `r`; more is an error that names the limit.
pub fn read_capped(r: impl Read, max: usize, what: &str) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    r.take(max as u64 + 1).read_to_end(&mut out)?;
    if out.len() > max {
        return Err(invalid(format!("{what} is larger than {max} bytes")));
    }
    Ok(out)
}

/// Decompresses gzip data of at most `max` bytes once decompressed.
pub fn gunzip_capped(bytes: &[u8], max: usize) -> io::Result<Vec<u8>> {
    read_capped(
        flate2::read::GzDecoder::new(bytes),
        max,
        "decompressed data",
    )
}

/// Replaces `path` with `bytes` atomically: a temporary file in the same folder, synced,
/// then renamed over it. A reader sees the old file or the new one, never a part.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = write_temp(path, bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Writes `bytes` to a temporary file next to `path`, to be persisted over it later.
pub fn write_temp(path: &Path, bytes: &[u8]) -> io::Result<tempfile::NamedTempFile> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(
            ".{}.",
            path.file_name().unwrap_or_default().to_string_lossy()
        ))
        .suffix(".tmp")
        .tempfile_in(&dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    Ok(tmp)
}

/// The file `path` names, through its symbolic links (`path` itself when it does not exist):
/// what is edited when an admin keeps a file in a dotfiles repository and links it.
pub fn resolve(path: &Path) -> PathBuf {
    let mut p = path.to_path_buf();
    // A link to a file not made yet is followed too (at most 40 links, as the kernel does).
    for _ in 0..40 {
        match std::fs::read_link(&p) {
            Ok(target) => p = p.parent().unwrap_or(Path::new("/")).join(target),
            Err(_) => break,
        }
    }
    std::fs::canonicalize(&p).unwrap_or(p)
}

/// [`write_temp`] with the mode and owner of `like` (a file being replaced or backed up), so
/// that a file holding secrets never becomes readable by more people than before. New files
/// are private (0600).
pub fn write_temp_like(
    path: &Path,
    bytes: &[u8],
    like: Option<&std::fs::Metadata>,
) -> io::Result<tempfile::NamedTempFile> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let tmp = write_temp(path, bytes)?;
    if let Some(m) = like {
        let f = tmp.as_file();
        let now = f.metadata()?;
        if (now.uid(), now.gid()) != (m.uid(), m.gid()) {
            std::os::unix::fs::fchown(f, Some(m.uid()), Some(m.gid()))?;
        }
        f.set_permissions(std::fs::Permissions::from_mode(m.mode() & 0o7777))?;
    }
    Ok(tmp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_names_are_accepted() {
        for ok in [
            "a.md",
            "howto/x.md",
            "reference/manpages/incus/list.md",
            "a b/c.md",
        ] {
            assert!(is_normal_relative(ok), "{ok}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x.md",
            "a/../../x.md",
            "a/./b.md",
            "./a.md",
            "a//b.md",
            "a/",
            "a\\..\\b.md",
            "a\0b.md",
            "..",
            &"x/".repeat(400),
        ] {
            assert!(!is_normal_relative(bad), "{bad:?}");
        }
    }

    #[test]
    fn walks_stay_inside_the_tree_and_skip_special_files() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("a.md"), "a").unwrap();
        std::fs::write(root.join("sub/b.md"), "b").unwrap();
        std::fs::write(d.path().join("secret.md"), "s").unwrap();
        std::os::unix::fs::symlink(d.path().join("secret.md"), root.join("out.md")).unwrap();
        std::os::unix::fs::symlink(root.join("a.md"), root.join("in.md")).unwrap();
        std::os::unix::fs::symlink("/nonexistent", root.join("broken.md")).unwrap();
        std::os::unix::fs::symlink(&root, root.join("sub/loop")).unwrap();
        std::os::unix::fs::symlink(d.path(), root.join("up")).unwrap();
        let fifo = std::ffi::CString::new(root.join("pipe.md").to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let w = walk(&root, &[], |n| n.ends_with(".md")).unwrap();
        assert_eq!(w.files, vec!["a.md", "in.md", "sub/b.md"]);
        assert_eq!(w.skipped.len(), 4, "{:?}", w.skipped);
        assert!(w.skipped.iter().any(|s| s.starts_with("out.md: links out")));
        assert!(
            w.skipped
                .iter()
                .any(|s| s.starts_with("pipe.md: not a regular"))
        );

        let canon = std::fs::canonicalize(&root).unwrap();
        assert_eq!(read_within(&canon, &root.join("in.md"), 10).unwrap(), b"a");
        assert!(read_within(&canon, &root.join("out.md"), 10).is_err());
        let e = read_within(&canon, &root.join("pipe.md"), 10).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let e = read_within(&canon, &root.join("a.md"), 0).unwrap_err();
        assert!(e.to_string().contains("larger than 0 bytes"), "{e}");
        assert!(read_regular(Path::new("/dev/zero"), 10).is_err());
    }

    #[test]
    fn gzip_bombs_stop_at_the_limit() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&vec![0u8; 10 << 20]).unwrap();
        let bytes = gz.finish().unwrap();
        assert!(bytes.len() < 100_000);
        let e = gunzip_capped(&bytes, 1 << 20).unwrap_err();
        assert!(e.to_string().contains("larger than 1048576 bytes"), "{e}");
        assert_eq!(gunzip_capped(&bytes, 11 << 20).unwrap().len(), 10 << 20);
    }

    #[test]
    fn replacements_keep_mode_and_owner() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        std::fs::write(&p, "old").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        let like = std::fs::metadata(&p).unwrap();
        write_temp_like(&p, b"new", Some(&like))
            .unwrap()
            .persist(&p)
            .unwrap();
        let m = std::fs::metadata(&p).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o640);
        let fresh = d.path().join("g");
        write_temp_like(&fresh, b"x", None)
            .unwrap()
            .persist(&fresh)
            .unwrap();
        let m = std::fs::metadata(&fresh).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o600);
        std::os::unix::fs::symlink(&p, d.path().join("link")).unwrap();
        assert_eq!(
            resolve(&d.path().join("link")),
            std::fs::canonicalize(&p).unwrap()
        );
    }

    #[test]
    fn atomic_writes_replace_the_whole_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x/f.yaml");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(d.path().join("x")).unwrap().count(), 1);
    }
}
