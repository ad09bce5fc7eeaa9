//! The tantivy index of heading sections: built from the mirror, searched by `search`,
//! the doctor (doc links) and the agent.

pub mod build;
mod columns;
pub mod dense;
pub mod hybrid;
pub mod lookup;
pub mod query;
pub mod readonly;
pub mod refine;
pub mod rerank;
pub mod schema;
pub mod search;
pub mod sections;
mod settle;
pub mod synonyms;
pub mod vectors;
mod whole_page;

use std::path::PathBuf;

pub use query::Features;
pub use search::{Hit, MAX_LIMIT, Scope, Searcher};

/// Index errors. Each names the path and, where there is one, the fix.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// No index yet.
    #[error("no index at {0}; run `incus-ai mirror` then `incus-ai index` (or `incus-ai refresh`)")]
    NoIndex(PathBuf),
    /// Nothing mirrored yet.
    #[error("the mirror at {0} is empty; run `incus-ai mirror` first")]
    EmptyMirror(PathBuf),
    /// The mirror could not be read.
    #[error(transparent)]
    Mirror(#[from] crate::knowledge::mirror::store::StoreError),
    /// A filesystem error.
    #[error("index {path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Files of the index that fail their checksum.
    #[error("index {path}: {detail}; run `incus-ai index` to rebuild it from the mirror")]
    Damaged {
        /// The index folder.
        path: PathBuf,
        /// Which files.
        detail: String,
    },
    /// The embedding model failed while embedding.
    #[error("embedding model {path}: {detail}")]
    Embed {
        /// The model folder.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// A tantivy error.
    #[error("index {path}")]
    Tantivy {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: tantivy::TantivyError,
    },
}
