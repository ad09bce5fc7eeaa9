//! HTTP helpers: one client builder (user agent, no proxy, timeouts) and body reads that stop
//! at a limit, so no server can make incus-ai hold more than it asked for.

use std::time::Duration;

/// A body read that failed.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The body is larger than the limit (after decompression).
    #[error("{what} is larger than {limit} bytes (incus-ai's limit for it)")]
    TooLarge {
        /// What was read (`robots.txt`, `the embeddings answer`, ...).
        what: String,
        /// The limit.
        limit: usize,
    },
    /// The transfer failed.
    #[error(transparent)]
    Transport(#[from] reqwest::Error),
}

/// `reqwest::Client::builder()`, with the process's TLS crypto provider installed first (every
/// HTTP client of incus-ai is built from here). reqwest is built without a provider of its
/// own: its default, aws-lc, is a C library whose build was the slowest part of compiling
/// incus-ai; rustls's ring provider does the same job.
pub fn builder() -> reqwest::ClientBuilder {
    install_tls_provider();
    reqwest::Client::builder()
}

/// Makes ring the process's rustls crypto provider, once (one installed before is kept).
pub fn install_tls_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A client builder with incus-ai's defaults: its user agent, no proxy from the environment,
/// `timeout` for whole requests and at most 10 s to connect.
pub fn client_builder(timeout: Duration) -> reqwest::ClientBuilder {
    builder()
        .user_agent(concat!("incus-ai/", env!("CARGO_PKG_VERSION")))
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .no_proxy()
}

/// Reads the whole body of `resp`, failing as soon as it exceeds `limit` bytes (counted after
/// content decoding, so a small gzip answer cannot expand without bound).
pub async fn read_body(
    mut resp: reqwest::Response,
    limit: usize,
    what: &str,
) -> Result<Vec<u8>, BodyError> {
    let too_large = || BodyError::TooLarge {
        what: what.to_string(),
        limit,
    };
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Reads at most `limit` bytes of the body of `resp` and drops the rest (for files where a
/// prefix is useful, as robots.txt: crawlers use the first 500 KiB).
pub async fn read_prefix(mut resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, BodyError> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        let room = limit - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= limit {
            break;
        }
    }
    Ok(body)
}

/// A rolling tail: keeps only the last `max` bytes of what is pushed into it.
#[derive(Debug, Default)]
pub struct Tail {
    max: usize,
    buf: std::collections::VecDeque<u8>,
    /// Bytes dropped from the front.
    pub dropped: usize,
}

impl Tail {
    /// A tail of at most `max` bytes.
    pub fn new(max: usize) -> Tail {
        Tail {
            max,
            ..Tail::default()
        }
    }

    /// Appends bytes, dropping the oldest beyond the limit.
    pub fn push(&mut self, bytes: &[u8]) {
        let keep = &bytes[bytes.len().saturating_sub(self.max)..];
        self.dropped += bytes.len() - keep.len();
        self.buf.extend(keep);
        while self.buf.len() > self.max {
            self.buf.pop_front();
            self.dropped += 1;
        }
    }

    /// The bytes kept.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf.into()
    }
}

/// Reads the last `max` bytes of the body of `resp` (instance logs: the end is what matters),
/// never holding more than that.
pub async fn read_tail(mut resp: reqwest::Response, max: usize) -> Result<Vec<u8>, BodyError> {
    let mut tail = Tail::new(max);
    while let Some(chunk) = resp.chunk().await? {
        tail.push(&chunk);
    }
    Ok(tail.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tail_keeps_the_last_bytes() {
        let mut t = Tail::new(4);
        t.push(b"ab");
        t.push(b"cdef");
        t.push(b"g");
        assert_eq!(t.dropped, 3);
        assert_eq!(t.into_bytes(), b"defg");
        let mut t = Tail::new(2);
        t.push(b"0123456789");
        assert_eq!(t.into_bytes(), b"89");
    }
}
