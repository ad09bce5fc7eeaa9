//! The one client that can change Incus. It is a separate type from the GET-only
//! [`crate::diagnosis::incus::Client`] that every read uses, built only when a command
//! runs with `--allow-changes`, and it sends only the requests of a confirmed
//! [`Plan`](super::plan::Plan): reads with their ETag, one `POST`/`PUT`/`PATCH` with
//! `If-Match`, and the wait on its operation.

use std::time::Duration;

use serde_json::Value;

use crate::diagnosis::incus::client::{MAX_BODY_BYTES, drop_nulls, http_client};
use crate::diagnosis::incus::{Client, ClientError, Target};

/// How long an operation (an evacuation, a move) is waited for.
pub const OPERATION_WAIT: Duration = Duration::from_secs(600);

/// The methods a change may use (never `DELETE`: deleting stays propose-only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Method {
    /// `POST`
    #[serde(rename = "POST")]
    Post,
    /// `PUT`
    #[serde(rename = "PUT")]
    Put,
    /// `PATCH`
    #[serde(rename = "PATCH")]
    Patch,
}

impl Method {
    /// The HTTP word.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
        }
    }
}

/// Why a change could not be read, sent or finished. Each message says what happened to the
/// change.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The connection could not be prepared or used.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// No answer in time.
    #[error("{method} {path} timed out after {secs}s")]
    Timeout {
        /// The method.
        method: &'static str,
        /// The path.
        path: String,
        /// The limit.
        secs: f64,
    },
    /// Someone changed the object between the preview and the yes.
    #[error(
        "{method} {path}: the object changed since it was shown (ETag no longer matches); nothing was changed, read it again and propose the change anew"
    )]
    Stale {
        /// The method.
        method: &'static str,
        /// The path.
        path: String,
    },
    /// The API refused the request.
    #[error("{method} {path}: {status} {message}")]
    Api {
        /// The method.
        method: &'static str,
        /// The path.
        path: String,
        /// HTTP or Incus error code.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The request was accepted but reading the object back shows another value.
    #[error("the change was sent but {path} does not show it: {seen}")]
    NotApplied {
        /// What was read back.
        path: String,
        /// What it shows.
        seen: String,
    },
    /// The background operation ended in failure.
    #[error("operation {id} failed: {message}")]
    Operation {
        /// Its id.
        id: String,
        /// Its `err`.
        message: String,
    },
}

/// What a change request gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Sent {
    /// Done at once; the answer's metadata.
    Done(Value),
    /// Running in the background as this operation.
    Operation(String),
}

/// The write-capable client.
#[derive(Clone)]
pub struct Writer {
    /// Reads go through the GET-only client (retries, hedging, the connection cap).
    reader: Client,
    http: reqwest::Client,
    base: String,
    remote: String,
    timeout: Duration,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("remote", &self.remote)
            .finish()
    }
}

impl Writer {
    /// A writer for `target`; each request times out after `timeout` (operations are waited
    /// for up to [`OPERATION_WAIT`]). Its reads go through a GET-only [`Client`] over the same
    /// connection pool ([`Writer::reader`]): a session that may change things reads through it
    /// too, so one process never opens more unix-socket connections than incusd serves.
    pub fn connect(target: &Target, timeout: Duration) -> Result<Writer, ClientError> {
        let (http, base, in_flight) = http_client(target, timeout)?;
        Ok(Writer {
            reader: Client::over(
                http.clone(),
                base.clone(),
                &target.remote,
                in_flight,
                timeout,
            ),
            http,
            base,
            remote: target.remote.clone(),
            timeout,
        })
    }

    /// The GET-only client over the same connections.
    pub fn reader(&self) -> &Client {
        &self.reader
    }

    /// The remote's name.
    pub fn remote(&self) -> &str {
        &self.remote
    }

    /// `GET path`: the metadata and the object's ETag (when the server sent one).
    pub async fn read(&self, path: &str) -> Result<(Value, Option<String>), WriteError> {
        let (mut v, etag) = self.reader.get_tagged(path).await?;
        drop_nulls(&mut v);
        Ok((v, etag))
    }

    /// `GET path` decoded.
    pub async fn read_as<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<T, WriteError> {
        Ok(self.reader.get(path).await?)
    }

    /// Sends one change; `if_match` makes the server refuse it when the object changed.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Result<Sent, WriteError> {
        let url = format!("{}{path}", self.base);
        let mut req = match method {
            Method::Post => self.http.post(url),
            Method::Put => self.http.put(url),
            Method::Patch => self.http.patch(url),
        }
        .json(body);
        if let Some(tag) = if_match {
            req = req.header(reqwest::header::IF_MATCH, tag);
        }
        // Nothing was sent when the connection could not be made: only then is it tried again.
        let mut attempt = 0;
        let resp = loop {
            attempt += 1;
            let Some(r) = req.try_clone() else {
                break req.send().await;
            };
            match r.send().await {
                Err(e) if e.is_connect() && attempt < 3 => {
                    tracing::debug!("{} {path}: connect failed ({e}), retrying", method.as_str());
                }
                other => break other,
            }
        }
        .map_err(|e| self.transport(method.as_str(), path, e))?;
        if resp.status() == reqwest::StatusCode::PRECONDITION_FAILED {
            return Err(WriteError::Stale {
                method: method.as_str(),
                path: path.to_string(),
            });
        }
        let status = resp.status().as_u16();
        let envelope = self.envelope(method.as_str(), path, resp).await?;
        if envelope["type"] == "async" || status == 202 {
            let id = envelope["metadata"]["id"]
                .as_str()
                .map(str::to_string)
                .or_else(|| {
                    envelope["operation"]
                        .as_str()
                        .and_then(|o| o.rsplit('/').next())
                        .map(str::to_string)
                })
                .unwrap_or_default();
            return Ok(Sent::Operation(id));
        }
        Ok(Sent::Done(envelope["metadata"].clone()))
    }

    /// Waits for operation `id` to end; its metadata when it succeeded.
    pub async fn wait(&self, id: &str) -> Result<Value, WriteError> {
        let enc: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
        let path = format!(
            "/1.0/operations/{enc}/wait?timeout={}",
            OPERATION_WAIT.as_secs()
        );
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .timeout(OPERATION_WAIT + Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| self.transport("GET", &path, e))?;
        let op = self.answer("GET", &path, resp).await?;
        match op["status"].as_str() {
            Some("Success") => Ok(op),
            _ => Err(WriteError::Operation {
                id: id.to_string(),
                message: op["err"]
                    .as_str()
                    .filter(|e| !e.is_empty())
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("ended as {}", op["status"])),
            }),
        }
    }

    async fn envelope(
        &self,
        method: &'static str,
        path: &str,
        resp: reqwest::Response,
    ) -> Result<Value, WriteError> {
        let status = resp.status().as_u16();
        let body = crate::util::http::read_body(resp, MAX_BODY_BYTES, &format!("{method} {path}"))
            .await
            .map_err(|e| match e {
                crate::util::http::BodyError::TooLarge { limit, .. } => {
                    WriteError::Client(ClientError::TooLarge {
                        path: path.to_string(),
                        limit,
                    })
                }
                crate::util::http::BodyError::Transport(t) => self.transport(method, path, t),
            })?;
        let envelope: Value = serde_json::from_slice(&body).map_err(|e| {
            WriteError::Client(ClientError::Decode {
                path: path.to_string(),
                detail: format!("HTTP {status}, not JSON: {e}"),
            })
        })?;
        if envelope["type"] == "error" || status >= 400 {
            return Err(WriteError::Api {
                method,
                path: path.to_string(),
                status: envelope["error_code"].as_u64().map_or(status, |c| c as u16),
                message: envelope["error"].as_str().unwrap_or("").to_string(),
            });
        }
        Ok(envelope)
    }

    async fn answer(
        &self,
        method: &'static str,
        path: &str,
        resp: reqwest::Response,
    ) -> Result<Value, WriteError> {
        Ok(self
            .envelope(method, path, resp)
            .await?
            .get("metadata")
            .cloned()
            .unwrap_or(Value::Null))
    }

    fn transport(&self, method: &'static str, path: &str, e: reqwest::Error) -> WriteError {
        if e.is_timeout() {
            return WriteError::Timeout {
                method,
                path: path.to_string(),
                secs: self.timeout.as_secs_f64(),
            };
        }
        WriteError::Client(ClientError::Unreachable {
            remote: self.remote.clone(),
            detail: crate::util::text::error_chain(&e),
        })
    }
}
