//! A read-only Incus REST client.
//!
//! [`Client`] has no way to send anything but `GET`: there is no method taking an HTTP method,
//! a body or a path to `POST`/`PUT`/`PATCH`/`DELETE`, so everything built on it (`status`,
//! `doctor`, `snapshot`, the agent's tools) is read-only by construction.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::ClientError;
use super::remote::{Endpoint, Target};
use super::tls;

/// Requests in flight at once on the local unix socket. incusd stalls new unix-socket
/// connections when one process opens four or more at once (measured on 6.0.4: about one run
/// in five hung until the timeout); two never did, and a local daemon answers in milliseconds.
const UNIX_IN_FLIGHT: usize = 2;
/// A local connect takes microseconds; one that takes longer is one of incusd's stalled
/// accepts and is retried on a fresh connection rather than waited for.
const UNIX_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Attempts of a request whose connection could not be established.
const CONNECT_ATTEMPTS: usize = 3;
/// When a GET has not answered after this long, a second one is sent (see `fetch`).
const HEDGE_AFTER: Duration = Duration::from_millis(1500);
/// Requests in flight at once over HTTPS.
const HTTPS_IN_FLIGHT: usize = 8;
/// Largest API answer read (a thousand instances with their config are a few MB).
pub const MAX_BODY_BYTES: usize = 64 << 20;

/// The connection-cap permits one request holds until its body is read.
struct Permits(#[allow(dead_code)] Vec<tokio::sync::OwnedSemaphorePermit>);

/// A connection to one Incus server (a cluster is reached through one of its members).
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    remote: String,
    requests: Arc<AtomicUsize>,
    in_flight: Arc<tokio::sync::Semaphore>,
    timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("remote", &self.remote)
            .field("base", &self.base)
            .finish()
    }
}

fn read(path: &Path) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path).map_err(|e| ClientError::Certificate {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })
}

impl Client {
    /// Prepares a client for `target`; every request times out after `timeout`.
    pub fn connect(target: &Target, timeout: Duration) -> Result<Client, ClientError> {
        let (http, base, in_flight) = http_client(target, timeout)?;
        Ok(Client::over(http, base, &target.remote, in_flight, timeout))
    }

    /// A client over an HTTP client of [`http_client`] (the administration's writer shares
    /// its connection pool with the reads: incusd stalls a process that opens several
    /// unix-socket connections at once).
    pub(crate) fn over(
        http: reqwest::Client,
        base: String,
        remote: &str,
        in_flight: usize,
        timeout: Duration,
    ) -> Client {
        Client {
            http,
            base,
            remote: remote.to_string(),
            requests: Arc::new(AtomicUsize::new(0)),
            in_flight: Arc::new(tokio::sync::Semaphore::new(in_flight)),
            timeout,
        }
    }

    /// The remote's name.
    pub fn remote(&self) -> &str {
        &self.remote
    }

    /// Requests sent so far (all clones share the count).
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    /// `GET path` within `timeout`: the response, before its body is read. Holds one permit
    /// of the connection cap; when the answer is late, a second request is sent only if a
    /// permit of its own is free (four connections at once stall incusd).
    async fn send(
        &self,
        path: &str,
        timeout: Duration,
    ) -> Result<(reqwest::Response, Permits), ClientError> {
        debug_assert!(path.starts_with('/'));
        let first_permit =
            self.in_flight
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| ClientError::Unreachable {
                    remote: self.remote.clone(),
                    detail: "client closed".into(),
                })?;
        let url = format!("{}{}", self.base, path);
        let first = self.send_with_retry(&url, path, timeout);
        tokio::pin!(first);
        if timeout <= HEDGE_AFTER {
            // No time left for a second request to be worth sending.
            return Ok((first.await?, Permits(vec![first_permit])));
        }
        // A GET can be repeated safely: when the answer is late, a second request on another
        // connection often comes back first (incusd stalls single requests while it writes
        // heartbeat results right after a member goes offline).
        tokio::select! {
            r = &mut first => Ok((r?, Permits(vec![first_permit]))),
            _ = tokio::time::sleep(HEDGE_AFTER) => {
                let Ok(second_permit) = self.in_flight.clone().try_acquire_owned() else {
                    return Ok((first.await?, Permits(vec![first_permit])));
                };
                let second = self.send_with_retry(&url, path, timeout - HEDGE_AFTER);
                tokio::pin!(second);
                let permits = Permits(vec![first_permit, second_permit]);
                // The first answer wins; a request that fails waits for the other one (which
                // has its own time limit), and when both fail the first one's error is told.
                let r = tokio::select! {
                    r = &mut first => match r {
                        Ok(resp) => Ok(resp),
                        Err(e) => second.await.map_err(|_| e),
                    },
                    r = &mut second => match r {
                        Ok(resp) => Ok(resp),
                        Err(_) => first.await,
                    },
                };
                Ok((r?, permits))
            }
        }
    }

    /// `GET path`: the status, the whole body (at most [`MAX_BODY_BYTES`]) and the ETag.
    async fn fetch(
        &self,
        path: &str,
        timeout: Duration,
    ) -> Result<(u16, Vec<u8>, Option<String>), ClientError> {
        let (resp, _permits) = self.send(path, timeout).await?;
        let status = resp.status().as_u16();
        let etag = resp
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = crate::util::http::read_body(resp, MAX_BODY_BYTES, &format!("GET {path}"))
            .await
            .map_err(|e| self.body_error(path, e))?;
        Ok((status, body, etag))
    }

    fn body_error(&self, path: &str, e: crate::util::http::BodyError) -> ClientError {
        match e {
            crate::util::http::BodyError::TooLarge { limit, .. } => ClientError::TooLarge {
                path: path.to_string(),
                limit,
            },
            crate::util::http::BodyError::Transport(t) => self.transport_error(path, t),
        }
    }

    async fn send_with_retry(
        &self,
        url: &str,
        path: &str,
        timeout: Duration,
    ) -> Result<reqwest::Response, ClientError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.requests.fetch_add(1, Ordering::Relaxed);
            match self.http.get(url).timeout(timeout).send().await {
                Ok(resp) => return Ok(resp),
                // Nothing was sent yet: trying again cannot repeat a request.
                Err(e) if e.is_connect() && attempt < CONNECT_ATTEMPTS => {
                    tracing::debug!("GET {path}: connect failed ({e}), retrying");
                }
                Err(e) if e.is_timeout() && !e.is_connect() => {
                    return Err(ClientError::Timeout {
                        path: path.to_string(),
                        secs: timeout.as_secs_f64(),
                    });
                }
                Err(e) => return Err(self.transport_error(path, e)),
            }
        }
    }

    fn transport_error(&self, path: &str, e: reqwest::Error) -> ClientError {
        let chain = crate::util::text::error_chain(&e);
        if tls::is_pin_mismatch(&e) {
            return ClientError::ServerCertificate {
                remote: self.remote.clone(),
            };
        }
        // A connection never made (refused, or no answer within the connect timeout) is no
        // slow answer to the request, whatever it waited.
        if e.is_timeout() && !e.is_connect() {
            return ClientError::Timeout {
                path: path.to_string(),
                secs: self.timeout.as_secs_f64(),
            };
        }
        ClientError::Unreachable {
            remote: self.remote.clone(),
            detail: chain,
        }
    }

    /// Incus's event stream, `GET /1.0/events?type={types}` upgraded to a websocket (a read:
    /// the connection only ever carries what the server sends, and pongs); see
    /// [`super::events::Events`].
    pub async fn events(&self, types: &str) -> Result<super::events::Events, ClientError> {
        use base64::Engine;
        let path = format!("/1.0/events?type={types}");
        let mut nonce = [0u8; 16];
        super::events::fill_random(&mut nonce);
        self.requests.fetch_add(1, Ordering::Relaxed);
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .header(reqwest::header::CONNECTION, "Upgrade")
            .header(reqwest::header::UPGRADE, "websocket")
            .header("Sec-WebSocket-Version", "13")
            .header(
                "Sec-WebSocket-Key",
                base64::engine::general_purpose::STANDARD.encode(nonce),
            )
            // The stream stays open for days: only the connection has a time limit.
            .timeout(Duration::from_secs(10 * 365 * 86_400))
            .send()
            .await
            .map_err(|e| self.transport_error(&path, e))?;
        if resp.status() != reqwest::StatusCode::SWITCHING_PROTOCOLS {
            return Err(ClientError::Api {
                path,
                status: resp.status().as_u16(),
                message: "the event stream was not opened".into(),
            });
        }
        let io = resp
            .upgrade()
            .await
            .map_err(|e| self.transport_error(&path, e))?;
        Ok(super::events::Events::new(io))
    }

    /// `GET path` and the `metadata` of the answer, decoded.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.get_within(path, self.timeout).await
    }

    /// [`Client::get`] with its own timeout (probes that must not wait out the default).
    pub async fn get_within<T: DeserializeOwned>(
        &self,
        path: &str,
        timeout: Duration,
    ) -> Result<T, ClientError> {
        let mut value = self.value_within(path, timeout).await?;
        drop_nulls(&mut value);
        serde_json::from_value(value).map_err(|e| ClientError::Decode {
            path: path.to_string(),
            detail: e.to_string(),
        })
    }

    /// `GET path` and the `metadata` of the answer.
    pub async fn get_value(&self, path: &str) -> Result<serde_json::Value, ClientError> {
        self.value_within(path, self.timeout).await
    }

    /// `GET path`: the `metadata` of the answer and the object's ETag (what a change sends
    /// back as `If-Match`, so that it fails if the object changed since).
    pub async fn get_tagged(
        &self,
        path: &str,
    ) -> Result<(serde_json::Value, Option<String>), ClientError> {
        self.tagged_within(path, self.timeout).await
    }

    async fn value_within(
        &self,
        path: &str,
        timeout: Duration,
    ) -> Result<serde_json::Value, ClientError> {
        Ok(self.tagged_within(path, timeout).await?.0)
    }

    async fn tagged_within(
        &self,
        path: &str,
        timeout: Duration,
    ) -> Result<(serde_json::Value, Option<String>), ClientError> {
        let (status, body, etag) = self.fetch(path, timeout).await?;
        let envelope: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| ClientError::Decode {
                path: path.to_string(),
                detail: format!("HTTP {status}, not JSON: {e}"),
            })?;
        if envelope["type"] == "error" || status >= 400 {
            let message = envelope["error"].as_str().unwrap_or("").to_string();
            let code = envelope["error_code"].as_u64().map_or(status, |c| c as u16);
            return Err(ClientError::Api {
                path: path.to_string(),
                status: code,
                message,
            });
        }
        let metadata = envelope
            .get("metadata")
            .cloned()
            .unwrap_or(serde_json::Value::Null);
        Ok((metadata, etag))
    }

    /// `GET path` of a raw file (instance log files): its last `max` bytes, never holding
    /// more than that.
    pub async fn get_text(&self, path: &str, max: usize) -> Result<String, ClientError> {
        let (resp, _permits) = self.send(path, self.timeout).await?;
        let status = resp.status().as_u16();
        if status >= 400 {
            let body = crate::util::http::read_prefix(resp, 64 << 10)
                .await
                .map_err(|e| self.body_error(path, e))?;
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            return Err(ClientError::Api {
                path: path.to_string(),
                status,
                message: v["error"].as_str().unwrap_or("").to_string(),
            });
        }
        let tail = crate::util::http::read_tail(resp, max)
            .await
            .map_err(|e| self.body_error(path, e))?;
        Ok(String::from_utf8_lossy(&tail).into_owned())
    }

    /// The default timeout of one request.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

/// The HTTP client of `target` (unix socket or HTTPS with the remote's certificates), the base
/// URL and how many requests it may have in flight. Crate-private: [`Client`] only sends
/// `GET`; the administration's separate writer (`admin::writer`) sends changes.
pub(crate) fn http_client(
    target: &Target,
    timeout: Duration,
) -> Result<(reqwest::Client, String, usize), ClientError> {
    let builder = crate::util::http::builder()
        .timeout(timeout)
        // Each of the attempts of a request that cannot connect (`send_with_retry`) waits a
        // share of the timeout, so that all of them together fit in it.
        .connect_timeout((timeout / CONNECT_ATTEMPTS as u32).min(Duration::from_secs(5)))
        .user_agent(concat!("incus-ai/", env!("CARGO_PKG_VERSION")))
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none());
    let (builder, base, in_flight) = match &target.endpoint {
        Endpoint::Unix(path) => (
            builder
                .unix_socket(path.clone())
                .connect_timeout(UNIX_CONNECT_TIMEOUT),
            "http://incus".to_string(),
            UNIX_IN_FLIGHT,
        ),
        Endpoint::Https {
            url,
            client_cert,
            client_key,
            server_cert,
        } => {
            let cert = read(client_cert)?;
            let key = read(client_key)?;
            let pinned = server_cert.as_deref().map(read).transpose()?;
            let config =
                tls::client_config(&cert, client_cert, &key, client_key, pinned.as_deref())?;
            (
                builder.tls_backend_preconfigured(config),
                url.clone(),
                HTTPS_IN_FLIGHT,
            )
        }
    };
    let http = builder.build().map_err(|e| ClientError::Unreachable {
        remote: target.remote.clone(),
        detail: e.to_string(),
    })?;
    Ok((http, base, in_flight))
}

/// Removes `null` members so that they decode as their defaults (Incus sends `"used_by": null`
/// for empty lists).
pub(crate) fn drop_nulls(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            map.retain(|_, x| !x.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// Appends `?target=`/`&target=` (per-member views) and `project=` to a path.
pub fn with_query(path: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = path.to_string();
    for (k, v) in pairs {
        out.push(if out.contains('?') { '&' } else { '?' });
        out.push_str(k);
        out.push('=');
        out.push_str(&url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_decode_as_defaults() {
        let mut v = serde_json::json!([{"name": "br0", "used_by": null, "config": {"a": "b"}}]);
        drop_nulls(&mut v);
        let nets: Vec<crate::diagnosis::incus::api::Network> = serde_json::from_value(v).unwrap();
        assert!(nets[0].used_by.is_empty());
    }

    #[test]
    fn query_parameters_are_appended_and_encoded() {
        assert_eq!(
            with_query("/1.0/storage-pools/p", &[("target", "m 1")]),
            "/1.0/storage-pools/p?target=m+1"
        );
        assert_eq!(
            with_query("/1.0/instances?recursion=1", &[("project", "dev")]),
            "/1.0/instances?recursion=1&project=dev"
        );
    }
}
