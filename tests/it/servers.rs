//! The loopback servers (`serve`, `mcp --listen`) stay up whatever local programs and web
//! pages send: web pages and foreign `Host`s are refused, idle and slow connections are
//! bounded and closed, queued work and MCP sessions are bounded, and running out of
//! descriptors costs neither a core nor the disk.

use crate::support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use support::{Env, free_port};

/// A server of the binary on a port of its own (its stderr kept), stopped when dropped.
struct Running {
    child: Child,
    addr: String,
}

impl Running {
    /// Runs `incus-ai ARGS`, with `ulimit -n` set first when given.
    fn start(env: &Env, args: &[&str], port: u16, nofile: Option<u32>) -> Running {
        let mut cmd = env.cmd(args);
        if let Some(n) = nofile {
            // The same command under a descriptor limit.
            let mut limited = std::process::Command::new("prlimit");
            limited
                .arg(format!("--nofile={n}:{n}"))
                .arg(cmd.get_program())
                .args(args)
                .env_clear();
            for (k, v) in cmd.get_envs() {
                if let Some(v) = v {
                    limited.env(k, v);
                }
            }
            cmd = limited;
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let addr = format!("127.0.0.1:{port}");
        let start = Instant::now();
        let mut child = child;
        while TcpStream::connect(&addr).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{args:?} did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // Whatever answered is this server, not another one on the same port.
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            child.try_wait().unwrap().is_none(),
            "{args:?} exited: another program holds port {port}"
        );
        Running { child, addr }
    }

    /// CPU seconds the process has used.
    fn cpu(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        let fields: Vec<&str> = stat.rsplit(") ").next().unwrap().split(' ').collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        ticks as f64 / 100.0
    }

    /// Peak resident memory, in MiB.
    fn peak_mib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
            .unwrap()
            / 1024
    }

    /// Stops it and returns what it wrote on stderr.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let mut err = String::new();
        let _ = self.child.stderr.take().unwrap().read_to_string(&mut err);
        let _ = self.child.wait();
        err
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends a raw request and returns the status line (empty when the server closed).
fn status(addr: &str, request: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let _ = s.write_all(request.as_bytes());
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

fn embeddings(addr: &str, host: &str, extra: &str, body: &str) -> String {
    status(
        addr,
        &format!(
            "POST /v1/embeddings HTTP/1.1\r\nHost: {host}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

#[test]
fn serve_answers_this_machines_programs_not_web_pages() {
    let env = Env::new();
    let port = free_port();
    let s = Running::start(
        &env,
        &["serve", "--listen", &format!("127.0.0.1:{port}")],
        port,
        None,
    );
    let body = r#"{"input": "hello"}"#;
    let json = "Content-Type: application/json\r\n";
    assert!(embeddings(&s.addr, &s.addr, json, body).contains(" 200 "));
    // A page's `fetch` with a text/plain body needs no preflight: its Origin gives it away.
    let page = embeddings(
        &s.addr,
        &s.addr,
        "Content-Type: text/plain\r\nOrigin: https://evil.example\r\n",
        body,
    );
    assert!(page.contains(" 403 "), "{page}");
    // DNS rebinding: the page's own name resolved to 127.0.0.1.
    let rebound = embeddings(&s.addr, &format!("evil.example:{port}"), json, body);
    assert!(rebound.contains(" 403 "), "{rebound}");
    let local_page = embeddings(
        &s.addr,
        &s.addr,
        "Origin: http://localhost:3000\r\nContent-Type: application/json\r\n",
        body,
    );
    assert!(local_page.contains(" 200 "), "{local_page}");
}

#[test]
fn serve_bounds_idle_connections_and_queued_work() {
    let env = Env::new();
    let port = free_port();
    let s = Running::start(
        &env,
        &["serve", "--listen", &format!("127.0.0.1:{port}")],
        port,
        None,
    );
    // 70 connections that never send a byte: the 65th on is turned away at once.
    let idle: Vec<TcpStream> = (0..70)
        .map(|_| TcpStream::connect(&s.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let turned_away = embeddings(&s.addr, &s.addr, "", "{}");
    assert!(turned_away.contains(" 503 "), "{turned_away}");
    // ... and the idle ones are closed after the header time limit (10 s).
    std::thread::sleep(Duration::from_secs(11));
    let closed = idle
        .iter()
        .filter(|c| {
            c.set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            match (&mut &**c).read(&mut [0u8; 64]) {
                Ok(0) => true,
                Ok(_) => false,
                Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
            }
        })
        .count();
    assert!(closed >= 60, "{closed} of 70 idle connections closed");
    assert!(embeddings(&s.addr, &s.addr, "", r#"{"input": "back"}"#).contains(" 200 "));

    // While one long request embeds, 19 requests of 1 MiB arrive: 7 wait their turn with
    // their bodies, the rest are told to retry before their bodies are read.
    let json = "Content-Type: application/json\r\n";
    let long = format!("\"{}\"", "word ".repeat(13_000));
    let heavy = format!("{{\"input\": [{}]}}", vec![long; 32].join(","));
    let padded = format!("{{\"input\": \"padded\"{}}}", " ".repeat(1 << 20));
    let answers: Vec<String> = std::thread::scope(|sc| {
        let first = sc.spawn(|| embeddings(&s.addr, &s.addr, json, &heavy));
        std::thread::sleep(Duration::from_millis(300));
        let rest: Vec<_> = (0..19)
            .map(|_| sc.spawn(|| embeddings(&s.addr, &s.addr, json, &padded)))
            .collect();
        std::iter::once(first)
            .chain(rest)
            .map(|h| h.join().unwrap())
            .collect()
    });
    let ok = answers.iter().filter(|a| a.contains(" 200 ")).count();
    let busy = answers.iter().filter(|a| a.contains(" 503 ")).count();
    assert_eq!(ok + busy, 20, "{answers:?}");
    assert!(answers[0].contains(" 200 ") && busy >= 8, "{answers:?}");
    let peak = s.peak_mib();
    assert!(peak < 400, "serve grew to {peak} MiB");
}

#[test]
fn running_out_of_descriptors_costs_neither_a_core_nor_the_disk() {
    let env = Env::new();
    let port = free_port();
    let s = Running::start(
        &env,
        &["serve", "--listen", &format!("127.0.0.1:{port}")],
        port,
        Some(40),
    );
    // More connections than descriptors: accept fails with EMFILE until some close.
    let held: Vec<TcpStream> = (0..60)
        .filter_map(|_| TcpStream::connect(&s.addr).ok())
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let before = s.cpu();
    std::thread::sleep(Duration::from_secs(3));
    let used = s.cpu() - before;
    drop(held);
    std::thread::sleep(Duration::from_millis(2500));
    assert!(embeddings(&s.addr, &s.addr, "", r#"{"input": "back"}"#).contains(" 200 "));
    let log = s.stop();
    assert!(
        used < 0.5,
        "{used:.2} s of CPU in 3 s while descriptors ran out"
    );
    assert!(log.len() < 4096, "{} bytes of log", log.len());
    assert_eq!(log.matches("cannot accept connections").count(), 1, "{log}");
}

#[test]
fn mcp_over_http_bounds_sessions_and_refuses_web_pages() {
    let env = Env::new();
    let port = free_port();
    let s = Running::start(
        &env,
        &["mcp", "--listen", &format!("127.0.0.1:{port}")],
        port,
        None,
    );
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"0"}}}"#;
    let post = |extra: &str| {
        status(
            &s.addr,
            &format!(
                "POST /mcp HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{init}",
                s.addr,
                init.len()
            ),
        )
    };
    assert!(post("Origin: https://evil.example\r\n").contains(" 403 "));
    let answers: Vec<String> = (0..70).map(|_| post("")).collect();
    let opened = answers.iter().filter(|a| a.contains(" 200 ")).count();
    let refused = answers.iter().filter(|a| a.contains(" 503 ")).count();
    assert_eq!((opened, refused), (64, 6), "{answers:?}");
}
