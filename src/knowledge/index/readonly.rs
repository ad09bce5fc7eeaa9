//! Opening a published index generation for reading only. A generation never changes once
//! published (a refresh writes a new one), so readers need no lock: tantivy's reader takes
//! its meta lock by creating a file, which fails on a read-only mount or for another user
//! reading a world-readable index. This directory hands out locks that create nothing and
//! refuses every write.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tantivy::Index;
use tantivy::directory::error::{DeleteError, LockError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    Directory, DirectoryLock, FileHandle, Lock, MmapDirectory, WatchCallback, WatchHandle, WritePtr,
};

use super::IndexError;

/// A published generation, read through `mmap`, never written.
#[derive(Debug, Clone)]
struct ReadOnly(MmapDirectory);

fn refused(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("{}: a published index is read-only", path.display()),
    )
}

impl Directory for ReadOnly {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        self.0.get_file_handle(path)
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        Err(DeleteError::IoError {
            io_error: Arc::new(refused(path)),
            filepath: path.to_path_buf(),
        })
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.0.exists(path)
    }

    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        Err(OpenWriteError::IoError {
            io_error: Arc::new(refused(path)),
            filepath: path.to_path_buf(),
        })
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        self.0.atomic_read(path)
    }

    fn atomic_write(&self, path: &Path, _data: &[u8]) -> io::Result<()> {
        Err(refused(path))
    }

    fn sync_directory(&self) -> io::Result<()> {
        Ok(())
    }

    fn acquire_lock(&self, _lock: &Lock) -> Result<DirectoryLock, LockError> {
        Ok(DirectoryLock::from(Box::new(())))
    }

    fn watch(&self, _callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        Ok(WatchHandle::empty())
    }
}

/// Opens the index in `dir` for reading; nothing is created or locked there.
pub fn open(dir: &Path) -> Result<Index, IndexError> {
    let tantivy = |source| IndexError::Tantivy {
        path: PathBuf::from(dir),
        source,
    };
    let mmap = MmapDirectory::open(dir).map_err(|e| tantivy(e.into()))?;
    let index = Index::open(ReadOnly(mmap)).map_err(tantivy)?;
    super::schema::register(&index);
    Ok(index)
}
