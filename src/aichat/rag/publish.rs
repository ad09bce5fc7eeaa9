//! Publishing a staged export: one rename switches the RAG files of a name, links in
//! AIChat's rags dir point at them, and a publish can be switched back.

use std::path::{Path, PathBuf};

use super::{ExportError, ExportReport};
use crate::aichat::embed::Cache;
use crate::util::generations::Generations;
use std::collections::HashSet;

/// An export written to a new generation of RAG files, not yet visible to AIChat.
///
/// The RAG files of one name live in `<data dir>/aichat/<name>/gen-N/` and AIChat's
/// `<rags dir>/<name>.yaml` and `<name>-local.yaml` are links to `current/`, so publishing
/// switches both files at once with one rename, and [`Published::rollback`] switches back.
pub struct Staged {
    pub(super) gens: Generations,
    /// The new generation (name, temporary folder), when a file changed.
    pub(super) pending: Option<(String, PathBuf)>,
    /// `<rags dir>/<file>` links to make, with their targets.
    pub(super) links: Vec<(PathBuf, PathBuf)>,
    /// The role file, when it is to be written.
    pub(super) role: Option<(PathBuf, tempfile::NamedTempFile)>,
    /// The embedding cache to save (when chunk texts were embedded) and the vectors it keeps
    /// (`None` for a cache shared with others: all kept).
    pub(super) cache: Option<(Cache, Option<HashSet<[u8; 32]>>)>,
    /// The report.
    pub report: ExportReport,
}

/// A published export, which can still be switched back to the previous RAG files.
pub struct Published {
    gens: Generations,
    previous: Option<String>,
    switched: bool,
    /// The report.
    pub report: ExportReport,
}

impl Published {
    /// Makes the previous RAG files current again (when publishing what goes with them
    /// failed). The role and the embedding cache stay as written.
    pub fn rollback(self) {
        if let (true, Some(prev)) = (self.switched, &self.previous) {
            let _ = self.gens.relink(prev);
        }
    }
}

pub(super) fn write_err(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
    move |source| ExportError::Write {
        path: path.to_path_buf(),
        source,
    }
}

impl Staged {
    /// Makes the new RAG files visible (one rename switches them all), links them into
    /// AIChat's rags dir, installs the role and saves the cache.
    pub fn publish(mut self) -> Result<Published, ExportError> {
        let previous = self.gens.current_name();
        let mut switched = false;
        if let Some((name, tmp)) = self.pending.take() {
            self.gens
                .publish(&name, &tmp)
                .map_err(write_err(self.gens.root()))?;
            switched = true;
        }
        for (link, target) in &self.links {
            if std::fs::read_link(link).is_ok_and(|t| t == *target) {
                continue;
            }
            let tmp = link.with_file_name(format!(
                ".{}.link.tmp",
                link.file_name().unwrap_or_default().to_string_lossy()
            ));
            let _ = std::fs::remove_file(&tmp);
            if let Some(dir) = link.parent() {
                std::fs::create_dir_all(dir).map_err(write_err(dir))?;
            }
            std::os::unix::fs::symlink(target, &tmp).map_err(write_err(link))?;
            std::fs::rename(&tmp, link).map_err(write_err(link))?;
        }
        if let Some((path, tmp)) = self.role.take() {
            tmp.persist(&path).map_err(|e| write_err(&path)(e.error))?;
        }
        let saved = match &mut self.cache {
            Some((cache, Some(keep))) => cache.save(keep),
            Some((cache, None)) => cache.save_all(crate::knowledge::embed::cache::MAX_SHARED),
            None => Ok(()),
        };
        if let Err(e) = saved {
            tracing::warn!("embedding cache not saved: {e}");
        }
        Ok(Published {
            gens: self.gens,
            previous,
            switched,
            report: self.report,
        })
    }

    /// Throws the staged files away.
    pub fn discard(mut self) {
        if let Some((_, tmp)) = self.pending.take() {
            let _ = std::fs::remove_dir_all(tmp);
        }
    }
}
