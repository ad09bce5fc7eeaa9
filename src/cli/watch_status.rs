//! `incus-ai watch status` and the `/metrics` endpoint of `watch --listen`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;

use super::{Context, Failure, exit, print_json};
use crate::watch::ledger::rfc3339;
use crate::watch::outbox::Outbox;
use crate::watch::{self, Files, Watch};

/// Prints what fires, the silences, each remote's reads and each sink's queue.
pub fn status(ctx: &Context, files: &Files, as_json: bool) -> Result<u8, Failure> {
    let ledger = watch::load_ledger(files);
    let mut silences = watch::load_silences(files);
    silences.prune(watch::now());
    let outbox = Outbox::open(&files.outbox());
    let sinks: Vec<String> = ctx
        .config
        .watch
        .notify
        .iter()
        .enumerate()
        .map(|(i, n)| format!("{}-{}", n.kind, i + 1))
        .chain(outbox.queues.keys().cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if as_json {
        let firing: Vec<_> = ledger
            .firing()
            .map(|e| {
                json!({"id": e.id, "remote": e.key.remote, "check": e.key.check, "subject": e.key.subject,
                    "project": e.key.project, "severity": e.finding["severity"], "title": e.finding["title"],
                    "since": rfc3339(e.started_at), "notified": e.notified, "flapping": e.flapping, "review": e.review})
            })
            .collect();
        let remotes: serde_json::Map<String, serde_json::Value> = ledger
            .remotes
            .iter()
            .map(|(r, s)| {
                (r.clone(), json!({"last_read": s.last_read.map(rfc3339), "last_complete_read": s.last_complete.map(rfc3339),
                    "incomplete_in_a_row": s.incomplete, "unreadable": s.unreadable}))
            })
            .collect();
        let queues: serde_json::Map<String, serde_json::Value> = sinks
            .iter()
            .map(|s| {
                let q = outbox.queues.get(s).cloned().unwrap_or_default();
                (s.clone(), json!({"queued": q.pending.len(), "delivered": q.delivered, "failures": q.failures,
                    "dropped": q.dropped, "last_delivery": q.last_delivery.map(rfc3339),
                    "last_error": q.last_error.map(|(t, e)| json!({"at": rfc3339(t), "error": e}))}))
            })
            .collect();
        print_json(
            &json!({"firing": firing, "silences": silences.list, "remotes": remotes, "sinks": queues}),
        );
        return Ok(exit::OK);
    }
    crate::outln!("firing: {}", ledger.entries.len());
    for e in ledger.firing() {
        crate::outln!(
            "  {} {} {} on {} since {}{}{}: {}",
            e.finding["severity"].as_str().unwrap_or_default(),
            e.key.check,
            e.key.subject,
            e.key.remote,
            rfc3339(e.started_at),
            if e.notified { "" } else { " (silenced)" },
            if e.flapping { " (flapping: held)" } else { "" },
            e.finding["title"].as_str().unwrap_or_default()
        );
    }
    crate::outln!("silences: {}", silences.list.len());
    for s in &silences.list {
        crate::outln!(
            "  {} {} until {}: {}",
            s.id,
            s.check,
            rfc3339(s.until),
            s.reason
        );
    }
    for (r, s) in &ledger.remotes {
        crate::outln!(
            "remote {r}: last complete read {}{}",
            s.last_complete.map_or("never".to_string(), rfc3339),
            if s.incomplete > 0 {
                format!(", {} incomplete read(s) since", s.incomplete)
            } else {
                String::new()
            }
        );
    }
    for s in &sinks {
        let q = outbox.queues.get(s).cloned().unwrap_or_default();
        crate::outln!(
            "sink {s}: {} queued, {} delivered, {} failures, {} dropped{}",
            q.pending.len(),
            q.delivered,
            q.failures,
            q.dropped,
            q.last_error
                .map(|(t, e)| format!("; last error {}: {e}", rfc3339(t)))
                .unwrap_or_default()
        );
    }
    Ok(exit::OK)
}

fn answer(
    watch: &Watch,
    req: &Request<hyper::body::Incoming>,
    bound: SocketAddr,
) -> Response<Full<Bytes>> {
    let text = |status: StatusCode, body: String, kind: &'static str| {
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = status;
        r.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static(kind),
        );
        r
    };
    if let Err(crate::util::httpd::Foreign(why)) = crate::util::httpd::check_local(req, bound) {
        return text(StatusCode::FORBIDDEN, why, "text/plain");
    }
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/metrics") => {
            text(StatusCode::OK, watch.metrics(), "text/plain; version=0.0.4")
        }
        _ => text(StatusCode::NOT_FOUND, "GET /metrics\n".into(), "text/plain"),
    }
}

/// Serves `/metrics` on `addr` (loopback only) in the background.
pub async fn serve_metrics(addr: SocketAddr, watch: Arc<Watch>) -> Result<(), Failure> {
    if !addr.ip().is_loopback() {
        return Err(Failure::new(
            exit::FAILURE,
            format!("watch --listen {addr}: only loopback addresses are served"),
        ));
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Failure::new(exit::FAILURE, format!("watch --listen {addr}: {e}")))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Failure::new(exit::FAILURE, format!("watch --listen {addr}: {e}")))?;
    crate::errln!("incus-ai watch: metrics on http://{bound}/metrics");
    let service = hyper::service::service_fn(move |req| {
        let watch = Arc::clone(&watch);
        async move { Ok::<_, Infallible>(answer(&watch, &req, bound)) }
    });
    tokio::spawn(crate::util::httpd::run(
        listener,
        crate::util::httpd::Limits::default(),
        "watch --listen",
        service,
    ));
    Ok(())
}
