//! Knowledge: where documentation comes from ([`sources`]), the normalized page
//! ([`document`]), the on-disk [`mirror`] and the search [`index`].

pub mod document;
pub mod embed;
pub mod index;
pub mod markdown;
pub mod mirror;
pub mod sources;

use serde::{Deserialize, Serialize};

/// The two collections of pages: the Incus documentation and the site's own notes (with the
/// installation snapshot). Each has its mirror, its part of the index and its RAG file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Collection {
    /// The Incus documentation.
    Docs,
    /// The site's own notes.
    Local,
}

impl Collection {
    /// Both, in the order they are mirrored.
    pub const ALL: [Collection; 2] = [Collection::Docs, Collection::Local];

    /// `docs` or `local`: the name in paths, the index and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Collection::Docs => "docs",
            Collection::Local => "local",
        }
    }

    /// The collection named `s`.
    pub fn parse(s: &str) -> Option<Collection> {
        Collection::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for Collection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
