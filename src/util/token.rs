//! A secret token kept in a file only its owner can read (mode 0600), created once: what an
//! HTTP client must show before a server lets it do more than read.

use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Why the token cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The file could not be read or created.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Others can read it, or it is not a plain file of its owner.
    #[error(
        "{path} is readable by other users or not a regular file of yours; remove it (a new one is made) or `chmod 600` it"
    )]
    Exposed {
        /// The file.
        path: PathBuf,
    },
}

/// The token in `path`, and whether it was created now (then it is shown once). A new token is
/// 32 random bytes in hex, written to a file created with mode 0600.
pub fn load_or_create(path: &Path) -> Result<(String, bool), TokenError> {
    let io = |source| TokenError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(mut f) => {
            let token = random_hex(32).map_err(io)?;
            let written = f.write_all(token.as_bytes()).and_then(|()| f.sync_all());
            if let Err(e) = written {
                let _ = std::fs::remove_file(path);
                return Err(io(e));
            }
            Ok((token, true))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let meta = std::fs::symlink_metadata(path).map_err(io)?;
            let mine = meta.uid() == unsafe { libc::geteuid() };
            if !meta.is_file() || !mine || meta.permissions().mode() & 0o077 != 0 {
                return Err(TokenError::Exposed {
                    path: path.to_path_buf(),
                });
            }
            let bytes = crate::util::fsx::read_regular(path, 4096).map_err(io)?;
            let token = String::from_utf8_lossy(&bytes).trim().to_string();
            if token.len() < 32 {
                return Err(io(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "the token is too short; remove the file and a new one is made",
                )));
            }
            Ok((token, false))
        }
        Err(e) => Err(io(e)),
    }
}

/// `n` random bytes from the kernel, in hex.
fn random_hex(n: usize) -> std::io::Result<String> {
    let mut bytes = vec![0u8; n];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_private_and_kept() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub/mcp-token");
        let (t, created) = load_or_create(&p).unwrap();
        assert!(created && t.len() == 64);
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let (again, created) = load_or_create(&p).unwrap();
        assert!(!created);
        assert_eq!(again, t);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = load_or_create(&p).unwrap_err().to_string();
        assert!(e.contains("readable by other users"), "{e}");
    }
}
