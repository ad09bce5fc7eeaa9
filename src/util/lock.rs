//! One writer at a time: runs that change the mirror, index or exports hold an exclusive
//! lock on `<data>/lock`. The lock dies with the process, so a killed run never blocks the next.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another run holds it.
    #[error(
        "another incus-ai run (pid {pid}) is updating {path}; try again when it ends (or pass --wait)"
    )]
    Busy {
        /// The lock file.
        path: PathBuf,
        /// The holder's pid as it wrote it.
        pid: String,
    },
    /// The lock file cannot be opened.
    #[error("cannot open lock file {path}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// A held lock; released on drop.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Takes the lock, waiting up to `wait` for a running holder to finish.
    pub fn acquire(path: &Path, wait: Duration) -> Result<RunLock, LockError> {
        let io = |source: std::io::Error| LockError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if start.elapsed() < wait => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(TryLockError::WouldBlock) => {
                    let mut pid = String::new();
                    let _ = file.read_to_string(&mut pid);
                    return Err(LockError::Busy {
                        path: path.parent().unwrap_or(path).to_path_buf(),
                        pid: pid.trim().to_string(),
                    });
                }
                Err(TryLockError::Error(e)) => return Err(io(e)),
            }
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        write!(file, "{}", std::process::id()).map_err(io)?;
        Ok(RunLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("lock");
        let first = RunLock::acquire(&p, Duration::ZERO).unwrap();
        let e = RunLock::acquire(&p, Duration::from_millis(200))
            .unwrap_err()
            .to_string();
        assert!(e.contains(&std::process::id().to_string()), "{e}");
        drop(first);
        RunLock::acquire(&p, Duration::ZERO).unwrap();
    }
}
