//! Loopback HTTP servers that stay up, for `serve` and `mcp --listen`: a bounded number of
//! connections (one more gets a 503 and is closed), a time limit on request headers and on
//! idle connections, a backoff when `accept` fails (descriptors exhausted) with one log line
//! per failing streak, and the checks that keep web pages out: the `Host` must be a loopback
//! name (no DNS rebinding) and a browser's `Origin`, when sent, a loopback origin.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};

/// What one server allows.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections open at once; one more is answered 503 and closed.
    pub max_connections: usize,
    /// Time to send a request's headers.
    pub header_timeout: Duration,
    /// Time a connection may go without reading or writing a byte.
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 64,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// A boxed error, as hyper takes them.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Serves `service` on `listener` until the process ends. `name` prefixes the log lines.
pub async fn run<S, B>(listener: TcpListener, limits: Limits, name: &'static str, service: S)
where
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut backoff = Backoff::default();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => {
                backoff.recovered(name);
                stream
            }
            Err(e) => {
                tokio::time::sleep(backoff.failed(name, &e)).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            busy(&stream, limits.max_connections);
            continue;
        };
        let service = service.clone();
        tokio::spawn(async move {
            let io = TokioIo::new(Idle::new(stream, limits.idle_timeout));
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .max_buf_size(64 << 10)
                .serve_connection(io, service);
            if let Err(e) = conn.await {
                tracing::debug!("{name}: connection ended: {e}");
            }
            drop(slot);
        });
    }
}

/// Answers a connection over the limit with a 503, without waiting for it.
fn busy(stream: &tokio::net::TcpStream, max: usize) {
    let body = format!(
        "{{\"error\": {{\"message\": \"{max} connections are open; try again shortly\", \"type\": \"server_error\", \"code\": 503}}}}"
    );
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.try_write(answer.as_bytes());
}

/// How long to wait after a failed `accept`: from 40 ms doubling to 2 s. Said once, and again
/// only when a minute has passed since (descriptors running out come and go in bursts).
#[derive(Debug, Default)]
struct Backoff {
    failures: u32,
    warned: Option<std::time::Instant>,
}

impl Backoff {
    fn failed(&mut self, name: &str, e: &io::Error) -> Duration {
        if self
            .warned
            .is_none_or(|t| t.elapsed() > Duration::from_secs(60))
        {
            tracing::warn!(
                "{name}: cannot accept connections: {e}; retrying with backoff (said once a minute at most; raise the descriptor limit, e.g. LimitNOFILE=)"
            );
            self.warned = Some(std::time::Instant::now());
        }
        self.failures = self.failures.saturating_add(1);
        Duration::from_millis(20u64 << self.failures.min(7)).min(Duration::from_secs(2))
    }

    fn recovered(&mut self, name: &str) {
        if self.failures > 0 {
            tracing::debug!(
                "{name}: accepting connections again after {} failed attempts",
                self.failures
            );
            self.failures = 0;
        }
    }
}

/// A stream that fails with `TimedOut` once it has neither read nor written for `timeout`.
struct Idle<S> {
    inner: S,
    timeout: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl<S> Idle<S> {
    fn new(inner: S, timeout: Duration) -> Idle<S> {
        Idle {
            inner,
            timeout,
            deadline: Box::pin(tokio::time::sleep(timeout)),
        }
    }

    fn touch(&mut self) {
        let next = Instant::now() + self.timeout;
        self.deadline.as_mut().reset(next);
    }

    fn expired<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "idle connection closed",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Idle<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    this.touch();
                }
                Poll::Ready(r)
            }
            Poll::Pending => this.expired(cx),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Idle<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(r) => {
                if matches!(r, Ok(n) if n > 0) {
                    this.touch();
                }
                Poll::Ready(r)
            }
            Poll::Pending => this.expired(cx),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Whether `host` (without port, brackets removed) names this machine's loopback.
fn loopback_name(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Splits `host[:port]` (IPv6 in brackets) into host and port.
fn split_authority(authority: &str) -> (&str, Option<&str>) {
    if let Some(rest) = authority.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((h, tail)) => (h, tail.strip_prefix(':')),
            None => (authority, None),
        };
    }
    match authority.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h, Some(p)),
        _ => (authority, None),
    }
}

/// Why a request is not served: it does not come from this machine's own programs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Foreign(pub String);

/// Checks that a request names this loopback server (`Host`) and, when a browser sent it,
/// comes from a page on this machine's loopback (`Origin`); `bound` is where the server
/// listens.
pub fn check_local<B>(req: &Request<B>, bound: SocketAddr) -> Result<(), Foreign> {
    let header = |name: hyper::header::HeaderName| {
        req.headers()
            .get(name)
            .map(|v| v.to_str().unwrap_or("\u{fffd}").to_string())
    };
    let host = header(hyper::header::HOST)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .ok_or_else(|| Foreign("a Host header is required".into()))?;
    let (name, port) = split_authority(&host);
    let port_ok = port.is_none_or(|p| p.parse::<u16>().ok() == Some(bound.port()));
    if !loopback_name(name) || !port_ok {
        return Err(Foreign(format!(
            "Host {host:?} is not this server (only localhost, 127.0.0.1 or [::1] on port {} are served)",
            bound.port()
        )));
    }
    if let Some(origin) = header(hyper::header::ORIGIN) {
        let local = url::Url::parse(&origin).ok().is_some_and(|u| {
            matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(loopback_name)
        });
        if !local {
            return Err(Foreign(format!(
                "requests from web pages are refused (Origin {:?})",
                origin.chars().take(100).collect::<String>()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(host: Option<&str>, origin: Option<&str>) -> Request<()> {
        let mut b = Request::builder().uri("/v1/models");
        if let Some(h) = host {
            b = b.header("host", h);
        }
        if let Some(o) = origin {
            b = b.header("origin", o);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn only_this_machines_programs_and_pages_are_served() {
        let bound: SocketAddr = "127.0.0.1:8765".parse().unwrap();
        for (host, origin) in [
            (Some("127.0.0.1:8765"), None),
            (Some("localhost:8765"), None),
            (Some("localhost"), None),
            (Some("[::1]:8765"), None),
            (Some("127.0.0.1:8765"), Some("http://localhost:3000")),
            (Some("127.0.0.1:8765"), Some("http://127.0.0.1:8765")),
        ] {
            assert!(
                check_local(&req(host, origin), bound).is_ok(),
                "{host:?} {origin:?}"
            );
        }
        for (host, origin) in [
            (None, None),
            (Some("evil.example:8765"), None),
            (Some("127.0.0.1.nip.io:8765"), None),
            (Some("127.0.0.1:9999"), None),
            (Some("127.0.0.1:8765"), Some("https://evil.example")),
            (Some("127.0.0.1:8765"), Some("null")),
            (
                Some("127.0.0.1:8765"),
                Some("http://localhost.evil.example"),
            ),
        ] {
            assert!(
                check_local(&req(host, origin), bound).is_err(),
                "{host:?} {origin:?}"
            );
        }
    }

    #[test]
    fn backoff_grows_and_is_bounded() {
        let mut b = Backoff::default();
        let e = io::Error::other("too many open files");
        let waits: Vec<_> = (0..12).map(|_| b.failed("t", &e)).collect();
        assert!(waits.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(waits[0], Duration::from_millis(40));
        assert_eq!(*waits.last().unwrap(), Duration::from_secs(2));
        b.recovered("t");
        assert_eq!(b.failures, 0);
    }
}
