//! A query embedded by a running `incus-ai serve` on loopback, so a short-lived `search`
//! does not load the model (about 0.1 s) for one query. Plain HTTP/1.1 over a std socket
//! (the caller may or may not be inside an async runtime), tight timeouts, a bounded answer,
//! and the vector checked (the model's id, its size, finite values): anything else is `None`
//! and the caller loads the model itself.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Time to connect to a server on this machine (it is there or it is not).
const CONNECT: Duration = Duration::from_millis(100);
/// Time for the answer (one query takes about 20 ms).
const ANSWER: Duration = Duration::from_secs(2);
/// Largest answer read (one vector of 384 floats is about 8 KiB of JSON).
const MAX_ANSWER: u64 = 1 << 20;

/// The vector of `text` from the server at `addr`, when it serves `model` with vectors of
/// `dimensions`; `None` on anything else.
pub fn embed_query(
    addr: SocketAddr,
    model: &str,
    dimensions: usize,
    text: &str,
) -> Option<Vec<f32>> {
    embed_queries(addr, model, dimensions, &[text])?.pop()
}

/// The vectors of `texts` (one request), as [`embed_query`].
pub fn embed_queries(
    addr: SocketAddr,
    model: &str,
    dimensions: usize,
    texts: &[&str],
) -> Option<Vec<Vec<f32>>> {
    if !addr.ip().is_loopback() || texts.is_empty() {
        return None;
    }
    let body = serde_json::json!({"model": model, "input": texts}).to_string();
    let mut stream = TcpStream::connect_timeout(&addr, CONNECT).ok()?;
    stream.set_read_timeout(Some(ANSWER)).ok()?;
    stream.set_write_timeout(Some(ANSWER)).ok()?;
    let head = format!(
        "POST /v1/embeddings HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body.as_bytes()).ok()?;
    let mut answer = Vec::new();
    stream.take(MAX_ANSWER).read_to_end(&mut answer).ok()?;
    let vectors = parse_all(&answer, model, dimensions)?;
    (vectors.len() == texts.len()).then_some(vectors)
}

/// The vector in an HTTP answer (status 200, a body of known length).
#[cfg(test)]
fn parse(answer: &[u8], model: &str, dimensions: usize) -> Option<Vec<f32>> {
    parse_all(answer, model, dimensions)?.into_iter().next()
}

/// The vectors in an HTTP answer (status 200, a body of known length), each checked.
fn parse_all(answer: &[u8], model: &str, dimensions: usize) -> Option<Vec<Vec<f32>>> {
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&answer[..split]).ok()?;
    let body = &answer[split + 4..];
    let mut lines = head.lines();
    if lines.next()?.split_whitespace().nth(1)? != "200" {
        return None;
    }
    let length: usize = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))?
        .1
        .trim()
        .parse()
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(body.get(..length)?).ok()?;
    if v["model"].as_str() != Some(model) {
        return None;
    }
    let data = v["data"].as_array()?;
    let vectors: Vec<Vec<f32>> = data
        .iter()
        .map(|d| serde_json::from_value::<Vec<f32>>(d["embedding"].clone()).ok())
        .collect::<Option<_>>()?;
    let ok = !vectors.is_empty()
        && vectors
            .iter()
            .all(|v| v.len() == dimensions && v.iter().all(|x| x.is_finite()));
    ok.then_some(vectors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: &str, body: &str) -> Vec<u8> {
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    #[test]
    fn only_a_whole_answer_of_the_model_and_size_counts() {
        let good = r#"{"model":"m","data":[{"embedding":[0.6,0.8]}]}"#;
        assert_eq!(parse(&answer("200 OK", good), "m", 2), Some(vec![0.6, 0.8]));
        for (status, body, model, dims) in [
            ("404 Not Found", good, "m", 2),
            ("200 OK", good, "other", 2),
            ("200 OK", good, "m", 384),
            ("200 OK", r#"{"model":"m","data":[]}"#, "m", 2),
            (
                "200 OK",
                r#"{"model":"m","data":[{"embedding":[1e39,0]}]}"#,
                "m",
                2,
            ),
            ("200 OK", "not json", "m", 2),
        ] {
            assert_eq!(
                parse(&answer(status, body), model, dims),
                None,
                "{status} {body}"
            );
        }
        // Cut short: fewer bytes than announced.
        let mut cut = answer("200 OK", good);
        cut.truncate(cut.len() - 3);
        assert_eq!(parse(&cut, "m", 2), None);
        assert_eq!(parse(b"garbage", "m", 2), None);
    }

    #[test]
    fn nothing_listening_is_none_at_once() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let t = std::time::Instant::now();
        assert_eq!(embed_query(port, "m", 2, "q"), None);
        assert!(t.elapsed() < Duration::from_secs(1));
        let public: SocketAddr = "192.0.2.1:8765".parse().unwrap();
        assert_eq!(embed_query(public, "m", 2, "q"), None);
    }
}
