//! `incus-ai refresh`: mirror, index and AIChat export in one idempotent run for cron and
//! systemd timers.
//!
//! The index and the RAG files are only published once everything succeeded: a refresh that
//! fails (or is killed) while embedding leaves the index and both RAG files as they were; the
//! next refresh finds the same differences again and finishes the job.

use std::time::Instant;

use serde::Serialize;

use crate::export::aichat_config::AichatError;
use crate::export::{self, ExportError, ExportOptions, ExportReport};
use crate::index::IndexError;
use crate::index::build::{self, IndexReport};
use crate::mirror::{self, CollectionReport, MirrorOptions};
use crate::paths::DataDir;

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
pub async fn run(
    data: &DataDir,
    mirror_opts: &MirrorOptions,
    export_opts: Option<&ExportOptions>,
    quiet: bool,
) -> Result<RefreshReport, RefreshError> {
    let start = Instant::now();
    let reports = mirror::run(data, mirror_opts).await;
    if let Some(e) = reports.iter().find_map(|r| r.error.clone()) {
        return Err(RefreshError::Mirror(e));
    }
    let index = build::stage(data, quiet)?;
    let mut export_skipped = None;
    let staged_export = match export_opts {
        None => {
            export_skipped = Some("--no-export".to_string());
            None
        }
        Some(opts) => match export::stage(data, opts).await {
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
    let index = index.publish()?;
    let export = staged_export.map(|s| s.publish()).transpose()?;
    Ok(RefreshReport {
        mirror: reports,
        index,
        export,
        export_skipped,
        elapsed_ms: start.elapsed().as_millis() as u64,
    })
}
