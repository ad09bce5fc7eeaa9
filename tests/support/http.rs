//! A real HTTP/1.1 server on 127.0.0.1 for tests, eval and bench: serves a folder (with
//! ETag / Last-Modified and 304s) or answers from a handler that can misbehave on purpose.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A request as the handler sees it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

/// What to answer.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Wait this long before answering.
    pub delay: Duration,
    /// Close the connection after sending this many body bytes (a cut-off answer).
    pub cut_after: Option<usize>,
    /// Send the body again and again, chunked, until the client hangs up (an endless answer).
    pub endless: bool,
}

impl Response {
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
            body: body.into(),
            delay: Duration::ZERO,
            cut_after: None,
            endless: false,
        }
    }
    /// An answer that never ends: `chunk` repeated until the client hangs up.
    pub fn endless(status: u16, chunk: impl Into<Vec<u8>>) -> Self {
        let mut r = Response::new(status, chunk);
        r.endless = true;
        r
    }
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.retain(|(h, _)| !h.eq_ignore_ascii_case(k));
        self.headers.push((k.into(), v.into()));
        self
    }
    pub fn delay(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }
    pub fn redirect(to: &str) -> Self {
        Response::new(302, "").header("Location", to)
    }
}

pub type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

/// A running server; stops when dropped.
pub struct Server {
    pub addr: SocketAddr,
    pub requests: Arc<AtomicUsize>,
    pub log: Arc<Mutex<Vec<Request>>>,
    /// Requests being answered at once, now and at most so far.
    pub in_flight: Arc<(AtomicUsize, AtomicUsize)>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Starts a server on an ephemeral loopback port.
    pub async fn start(handler: Handler) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        Server::accepting(listener, addr, handler)
    }

    /// Starts a server on a unix socket at `path` (an Incus daemon's socket, say).
    pub async fn start_unix(path: &Path, handler: Handler) -> Server {
        let _ = std::fs::remove_file(path);
        let listener = tokio::net::UnixListener::bind(path).expect("bind unix socket");
        Server::accepting(listener, "127.0.0.1:0".parse().unwrap(), handler)
    }

    fn accepting<L: Listener>(listener: L, addr: SocketAddr, handler: Handler) -> Server {
        let requests = Arc::new(AtomicUsize::new(0));
        let log = Arc::new(Mutex::new(Vec::new()));
        let in_flight: Arc<(AtomicUsize, AtomicUsize)> = Arc::default();
        let (r2, l2, f2) = (requests.clone(), log.clone(), in_flight.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok(sock) = listener.next().await else {
                    continue;
                };
                tokio::spawn(serve_connection(
                    sock,
                    handler.clone(),
                    r2.clone(),
                    l2.clone(),
                    f2.clone(),
                ));
            }
        });
        Server {
            addr,
            requests,
            log,
            in_flight,
            task,
        }
    }

    /// Paths requested so far.
    pub fn paths(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.path.clone())
            .collect()
    }

    /// Serves `dir` under the URL prefix `prefix` (e.g. `/incus/docs/main/`).
    pub async fn serve_dir(dir: &Path, prefix: &str) -> Server {
        let files = StaticFiles {
            dir: dir.to_path_buf(),
            prefix: prefix.to_string(),
        };
        Server::start(Arc::new(move |r: &Request| files.answer(r))).await
    }
}

/// A TCP or unix listener.
trait Listener: Send + 'static {
    type Socket: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static;
    fn next(&self) -> impl std::future::Future<Output = std::io::Result<Self::Socket>> + Send;
}

impl Listener for TcpListener {
    type Socket = tokio::net::TcpStream;
    async fn next(&self) -> std::io::Result<Self::Socket> {
        self.accept().await.map(|(s, _)| s)
    }
}

impl Listener for tokio::net::UnixListener {
    type Socket = tokio::net::UnixStream;
    async fn next(&self) -> std::io::Result<Self::Socket> {
        self.accept().await.map(|(s, _)| s)
    }
}

/// Answers the requests of one connection until it closes or an answer is cut off.
async fn serve_connection<S>(
    mut sock: S,
    handler: Handler,
    requests: Arc<AtomicUsize>,
    log: Arc<Mutex<Vec<Request>>>,
    in_flight: Arc<(AtomicUsize, AtomicUsize)>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    /// Counts a request as in flight while it lives (also when the client hangs up).
    struct Flight(Arc<(AtomicUsize, AtomicUsize)>);
    impl Drop for Flight {
        fn drop(&mut self) {
            self.0.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
    while let Some(req) = read_request(&mut sock).await {
        requests.fetch_add(1, Ordering::SeqCst);
        log.lock().unwrap().push(req.clone());
        let now = in_flight.0.fetch_add(1, Ordering::SeqCst) + 1;
        in_flight.1.fetch_max(now, Ordering::SeqCst);
        let _flight = Flight(in_flight.clone());
        let resp = handler(&req);
        if !resp.delay.is_zero() {
            tokio::time::sleep(resp.delay).await;
        }
        let close = req
            .headers
            .get("connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"));
        if write_response(&mut sock, &req, &resp).await.is_err()
            || resp.cut_after.is_some()
            || close
        {
            return;
        }
    }
}

async fn read_request<S: tokio::io::AsyncRead + Unpin>(sock: &mut S) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let mut lines = head.lines();
            let first = lines.next()?;
            let mut parts = first.split_whitespace();
            let method = parts.next()?.to_string();
            let path = parts.next()?.to_string();
            let headers: HashMap<String, String> = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                .collect();
            let len: usize = headers
                .get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = buf[end + 4..].to_vec();
            while body.len() < len {
                let n = sock.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                body.extend_from_slice(&chunk[..n]);
            }
            body.truncate(len);
            return Some(Request {
                method,
                path,
                headers,
                body,
            });
        }
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn write_response<S: tokio::io::AsyncWrite + Unpin>(
    sock: &mut S,
    req: &Request,
    resp: &Response,
) -> std::io::Result<()> {
    let reason = match resp.status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        404 => "Not Found",
        500 => "Internal Server Error",
        _ => "Status",
    };
    let mut head = format!("HTTP/1.1 {} {}\r\n", resp.status, reason);
    for (k, v) in &resp.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if resp.endless {
        head.push_str("Transfer-Encoding: chunked\r\n\r\n");
        sock.write_all(head.as_bytes()).await?;
        let chunk = format!("{:x}\r\n", resp.body.len());
        loop {
            sock.write_all(chunk.as_bytes()).await?;
            sock.write_all(&resp.body).await?;
            sock.write_all(b"\r\n").await?;
        }
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", resp.body.len()));
    sock.write_all(head.as_bytes()).await?;
    if req.method != "HEAD" && resp.status != 304 {
        match resp.cut_after {
            Some(n) => sock.write_all(&resp.body[..n.min(resp.body.len())]).await?,
            None => sock.write_all(&resp.body).await?,
        }
    }
    sock.flush().await
}

/// Static files with validators, like a plain web server.
pub struct StaticFiles {
    pub dir: PathBuf,
    pub prefix: String,
}

impl StaticFiles {
    pub fn answer(&self, r: &Request) -> Response {
        let path = r.path.split(['?', '#']).next().unwrap_or("");
        let Some(rel) = path.strip_prefix(&self.prefix) else {
            return Response::new(404, "not found");
        };
        if rel.split('/').any(|c| c == "..") {
            return Response::new(404, "not found");
        }
        let mut file = self.dir.join(rel);
        if file.is_dir() {
            if !path.ends_with('/') {
                return Response::redirect(&format!("{path}/"));
            }
            file = file.join("index.html");
        }
        let Ok(meta) = std::fs::metadata(&file) else {
            return Response::new(404, "not found");
        };
        let mtime = meta
            .modified()
            .ok()
            .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        let etag = format!("\"{:x}-{:x}\"", mtime, meta.len());
        let last_modified = httpdate(mtime);
        if r.headers.get("if-none-match") == Some(&etag) {
            return Response::new(304, "").header("ETag", &etag);
        }
        let body = std::fs::read(&file).unwrap_or_default();
        let ctype = match file.extension().and_then(|e| e.to_str()) {
            Some("html") => "text/html; charset=utf-8",
            Some("css") => "text/css",
            Some("js") => "application/javascript",
            Some("txt") => "text/plain; charset=utf-8",
            _ => "application/octet-stream",
        };
        Response::new(200, body)
            .header("Content-Type", ctype)
            .header("ETag", &etag)
            .header("Last-Modified", &last_modified)
    }
}

/// RFC 7231 date for a Unix time.
pub fn httpdate(secs: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(secs as i64).unwrap();
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    t.format(&format).unwrap()
}
