//! incus-ai: the Incus documentation and the site's own notes in a local search index and
//! AIChat knowledge bases, and diagnosis of live Incus clusters.
//!
//! The layout follows the data: [`sources`] → [`document`] pages → [`mirror`] → [`index`].

pub mod agent;
pub mod anonymize;
pub mod checks;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod doctor;
pub mod document;
pub mod export;
pub mod incus;
pub mod index;
pub mod mcp;
pub mod mirror;
pub mod redact;
pub mod refresh;
pub mod snapshot;
pub mod sources;
pub mod status;
pub mod util;
