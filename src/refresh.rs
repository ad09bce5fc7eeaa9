//! `incus-ai refresh`: mirror, index and AIChat export in one idempotent run for cron and
//! systemd timers.
//!
//! The index and the RAG files are only published once everything succeeded, together at the
//! end: a refresh that fails (or is killed) while embedding leaves the index and both RAG files
//! as they were; the next refresh finds the same differences again and finishes the job.

use std::time::Instant;

use serde::Serialize;

use crate::aichat::config::AichatError;
use crate::aichat::rag::{self as export, ExportError, ExportOptions, ExportReport, Staged};
use crate::knowledge::index::IndexError;
use crate::knowledge::index::build::{self, IndexOptions, IndexReport, StagedIndex};
use crate::knowledge::mirror::{self, CollectionReport, MirrorOptions};
use crate::util::paths::DataDir;

/// Why a refresh failed.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// A source failed; the mirror of that collection is unchanged, nothing else was touched.
    #[error("{0}")]
    Mirror(String),
    /// Indexing failed.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// The export failed; the index and RAG files are unchanged.
    #[error(transparent)]
    Export(#[from] ExportError),
}

/// What a refresh did.
#[derive(Debug, Serialize)]
pub struct RefreshReport {
    /// Per collection.
    pub mirror: Vec<CollectionReport>,
    /// The index update.
    pub index: IndexReport,
    /// The AIChat export, unless skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export: Option<ExportReport>,
    /// Why the export was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export_skipped: Option<String>,
    /// The collection that could not be mirrored (its last good mirror was used).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
    /// The installation snapshot taken into the notes first, or why none was (set by the
    /// command, which reads the cluster).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    /// Wall time in milliseconds.
    pub elapsed_ms: u64,
}

impl RefreshReport {
    /// Whether anything changed.
    pub fn changed(&self) -> bool {
        self.mirror.iter().any(|r| !r.changes.is_empty())
            || self
                .export
                .as_ref()
                .is_some_and(|e| e.rags.iter().any(|r| r.changed))
    }

    /// The one-line summary.
    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = self
            .mirror
            .iter()
            .map(|r| {
                let c = &r.changes;
                format!(
                    "{} {} pages (+{} ~{} -{})",
                    r.collection,
                    r.pages,
                    c.added.len(),
                    c.changed.len(),
                    c.removed.len()
                )
            })
            .collect();
        let i = &self.index;
        parts.push(format!(
            "index {} sections ({} pages re-indexed)",
            i.sections_total,
            i.pages_added + i.pages_updated + i.pages_removed
        ));
        match (&self.export, &self.export_skipped) {
            (Some(e), _) => parts.push(format!(
                "aichat {} chunks, {} embedded, {} embedding calls",
                e.rags.iter().map(|r| r.chunks).sum::<usize>(),
                e.embedded,
                e.embedding_calls
            )),
            (None, Some(why)) => parts.push(format!("aichat export skipped: {why}")),
            _ => {}
        }
        format!(
            "refresh: {}; {:.1}s",
            parts.join(", "),
            self.elapsed_ms as f64 / 1000.0
        )
    }
}

/// Runs mirror, index and export; `export` is `None` to skip the AIChat export.
///
/// A collection whose source failed keeps its last good mirror, and the index and the RAG
/// files are still brought up to date with everything else; the report's `failed` says what
/// failed (the command then exits 2). Only when a failed collection has no mirror at all does
/// the refresh stop there.
pub async fn run(
    data: &DataDir,
    mirror_opts: &MirrorOptions,
    export_opts: Option<&ExportOptions>,
    index_opts: &IndexOptions,
) -> Result<RefreshReport, RefreshError> {
    let start = Instant::now();
    let reports = mirror::run(data, mirror_opts).await;
    let failed = reports
        .iter()
        .find_map(|r| r.error.as_ref().map(|e| format!("{}: {e}", r.collection)));
    if let Some(e) = &failed
        && reports.iter().any(|r| r.error.is_some() && r.pages == 0)
    {
        return Err(RefreshError::Mirror(e.clone()));
    }
    let index = build::stage(data, index_opts)?;
    let mut export_skipped = None;
    let staged_export = match export_opts {
        None => {
            export_skipped = Some("--no-export".to_string());
            None
        }
        Some(opts) => match export::stage(data, &index.dir(), opts).await {
            Ok(s) => Some(s),
            // No AIChat embedding model configured on this machine: nothing to export to.
            Err(ExportError::Aichat(e @ AichatError::NoEmbeddingModel { .. }))
                if opts.embedding_model.is_none() =>
            {
                export_skipped = Some(e.to_string());
                None
            }
            Err(e) => {
                index.discard();
                return Err(e.into());
            }
        },
    };
    let (index, export) = publish(index, staged_export)?;
    Ok(RefreshReport {
        mirror: reports,
        index,
        export,
        export_skipped,
        failed,
        snapshot: None,
        elapsed_ms: start.elapsed().as_millis() as u64,
    })
}

/// Publishes the RAG files and the index together: the RAG files first (one rename), then the
/// index (one rename); if the index cannot be published, the RAG files are switched back.
fn publish(
    index: StagedIndex,
    export: Option<Staged>,
) -> Result<(IndexReport, Option<ExportReport>), RefreshError> {
    let published = match export.map(Staged::publish).transpose() {
        Ok(p) => p,
        Err(e) => {
            index.discard();
            return Err(e.into());
        }
    };
    match index.publish() {
        Ok(i) => Ok((i, published.map(|p| p.report))),
        Err(e) => {
            if let Some(p) = published {
                p.rollback();
            }
            Err(e.into())
        }
    }
}
