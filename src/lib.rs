//! incus-ai: the Incus documentation and the site's own notes in a local search index and
//! AIChat knowledge bases, and diagnosis of live Incus clusters.
//!
//! The layout follows the data:
//! - [`knowledge`]: sources → documents → mirror → index;
//! - [`diagnosis`]: the read-only Incus client → cluster state → checks → findings;
//! - [`aichat`]: AIChat's configuration, the RAG export;
//! - [`agent`]: the tools over both, for the `ask` loop, MCP and the AIChat agent;
//! - [`admin`]: typed changes a person confirms, through a separate write-capable client;
//! - [`util`]: small utilities that import nothing of the crate;
//! - [`cli`], [`config`] and [`refresh`] on top.

pub mod admin;
pub mod agent;
pub mod aichat;
pub mod app;
pub mod cli;
pub mod config;
pub mod diagnosis;
pub mod knowledge;
pub mod refresh;
pub mod util;
pub mod watch;
