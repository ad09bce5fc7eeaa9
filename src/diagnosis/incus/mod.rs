//! Reading a live Incus server through its REST API, read-only by construction.

pub mod api;
pub mod capacity;
pub mod client;
pub mod events;
pub mod remote;
pub mod socket;
pub mod tls;

use std::path::PathBuf;

pub use client::Client;
pub use remote::{Endpoint, Target};

/// Why Incus could not be read. Each message names the remote or file and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing answers at the remote's address.
    #[error(
        "cannot reach Incus remote {remote}: {detail} (is incusd running? check `incus remote list`)"
    )]
    Unreachable {
        /// The remote.
        remote: String,
        /// The cause.
        detail: String,
    },
    /// A request took longer than the timeout.
    #[error("GET {path} timed out after {secs}s")]
    Timeout {
        /// The path.
        path: String,
        /// The limit.
        secs: f64,
    },
    /// The server does not trust our client certificate.
    #[error(
        "Incus remote {remote} does not trust this client certificate; add it on the server with `incus config trust add-certificate <client.crt>`"
    )]
    Untrusted {
        /// The remote.
        remote: String,
    },
    /// The server presented another certificate than the pinned one.
    #[error(
        "Incus remote {remote} presented a certificate that does not match the one pinned in servercerts/{remote}.crt; if the server was reinstalled, run `incus remote remove {remote}` and `incus remote add` again"
    )]
    ServerCertificate {
        /// The remote.
        remote: String,
    },
    /// The client key is protected by a passphrase.
    #[error(
        "client key {path} is encrypted and incus-ai cannot ask for its passphrase; use an unencrypted key for a dedicated read-only client (`incus remote generate-certificate`)"
    )]
    EncryptedKey {
        /// The key file.
        path: PathBuf,
    },
    /// A certificate or key file that cannot be used.
    #[error("{path}: {detail}")]
    Certificate {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// The incus CLI's config.yml cannot be read.
    #[error("{path}: {detail}")]
    Config {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// No such remote.
    #[error("no remote named {name} in {config} (see `incus remote list`)")]
    UnknownRemote {
        /// The name asked for.
        name: String,
        /// Where we looked.
        config: PathBuf,
    },
    /// An image server, not an Incus server.
    #[error("remote {name} is not an Incus server (it is an image server)")]
    NotIncus {
        /// The remote.
        name: String,
    },
    /// OIDC and other authentication methods.
    #[error(
        "remote {name} uses {auth} authentication; incus-ai supports TLS client certificates (add a certificate-based remote)"
    )]
    UnsupportedAuth {
        /// The remote.
        name: String,
        /// The method.
        auth: String,
    },
    /// The API answered with an error.
    #[error("GET {path}: {status} {message}")]
    Api {
        /// The path.
        path: String,
        /// HTTP or Incus error code.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// An answer larger than incus-ai reads.
    #[error("GET {path}: the answer is larger than {limit} bytes (incus-ai's limit)")]
    TooLarge {
        /// The path.
        path: String,
        /// The limit.
        limit: usize,
    },
    /// An answer that is not what the API documents.
    #[error("GET {path}: unexpected answer: {detail}")]
    Decode {
        /// The path.
        path: String,
        /// Why.
        detail: String,
    },
}
