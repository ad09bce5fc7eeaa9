//! Replays API answers recorded from real Incus daemons (tests/fixtures/recorded/*.json, made
//! by record.py), edited to show faults that cannot be produced here, on a loopback unix socket.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};

use super::fixtures;
use super::http::{Request, Response, Server};

/// Chooses a replacement answer for a request (`None`: the recorded one).
pub type Change = Arc<dyn Fn(&Request) -> Option<Response> + Send + Sync>;

/// Recorded answers by path (with query).
#[derive(Clone)]
pub struct Recording {
    pub answers: BTreeMap<String, (u16, Value)>,
}

impl Recording {
    pub fn load(name: &str) -> Recording {
        let text =
            std::fs::read_to_string(fixtures().join("recorded").join(format!("{name}.json")))
                .unwrap();
        let raw: BTreeMap<String, Value> = serde_json::from_str(&text).unwrap();
        Recording {
            answers: raw
                .into_iter()
                .map(|(k, v)| (k, (v["status"].as_u64().unwrap() as u16, v["body"].clone())))
                .collect(),
        }
    }

    /// The `metadata` of a recorded answer, to edit.
    pub fn meta(&mut self, path: &str) -> &mut Value {
        &mut self
            .answers
            .get_mut(path)
            .unwrap_or_else(|| panic!("no recorded answer for {path}"))
            .1["metadata"]
    }

    /// Answers `path` with `metadata`.
    pub fn set(&mut self, path: &str, metadata: Value) {
        self.answers.insert(
            path.into(),
            (200, json!({"type": "sync", "status": "Success", "status_code": 200, "metadata": metadata})),
        );
    }

    /// Answers `path` with an Incus error.
    pub fn fail(&mut self, path: &str, status: u16, message: &str) {
        self.answers.insert(
            path.into(),
            (
                status,
                json!({"type": "error", "error": message, "error_code": status, "metadata": null}),
            ),
        );
    }

    /// Adds an active warning.
    pub fn warn(
        &mut self,
        kind: &str,
        severity: &str,
        location: &str,
        entity_url: &str,
        message: &str,
    ) {
        let w = json!({
            "uuid": format!("{:08x}-test", self.answers.len()), "type": kind, "severity": severity, "status": "new",
            "location": location, "project": "", "entity_url": entity_url, "count": 3,
            "first_seen_at": "2026-11-26T06:00:00Z", "last_seen_at": "2026-11-26T07:00:00Z", "last_message": message,
        });
        self.meta("/1.0/warnings?recursion=1")
            .as_array_mut()
            .unwrap()
            .push(w);
    }

    /// An instance of the recording, to edit.
    pub fn instance(&mut self, name: &str) -> &mut Value {
        self.meta("/1.0/instances?recursion=1&all-projects=true")
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|i| i["name"] == name)
            .unwrap()
    }

    /// A member of the recording, to edit.
    pub fn member(&mut self, name: &str) -> &mut Value {
        self.meta("/1.0/cluster/members?recursion=1")
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|m| m["server_name"] == name)
            .unwrap()
    }

    /// Adds what `review` reads on top of `doctor`, built from the recorded answers: each
    /// member 8 GiB and 4 CPUs, the instances (as recorded, edits included) with 32 MiB in
    /// use, no custom volumes.
    pub fn with_review_answers(mut self) -> Recording {
        let instances: Vec<Value> = self
            .meta("/1.0/instances?recursion=1&all-projects=true")
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                let mut i = i.clone();
                i["state"] = json!({"memory": {"usage": 32u64 << 20}});
                i
            })
            .collect();
        self.set(
            "/1.0/instances?recursion=2&all-projects=true",
            Value::Array(instances),
        );
        for m in ["m1", "m2", "m3"] {
            self.set(
                &format!("/1.0/resources?target={m}"),
                json!({"cpu": {"total": 4, "sockets": [{"name": "Core i5-8500T", "vendor": "GenuineIntel"}]}, "memory": {"total": 8u64 << 30}}),
            );
        }
        let server = self.meta("/1.0").clone();
        for m in ["m1", "m2", "m3"] {
            self.set(&format!("/1.0?target={m}"), server.clone());
        }
        for p in ["default", "pool2"] {
            self.set(
                &format!("/1.0/storage-pools/{p}/volumes?recursion=1&all-projects=true"),
                json!([]),
            );
        }
        self
    }

    /// Serves the answers on a unix socket; any method but GET fails the test.
    pub async fn serve(self, socket: &Path) -> Server {
        self.serve_with(socket, BTreeMap::new()).await
    }

    /// [`Recording::serve`], with some paths answered otherwise (delays, garbage, endless).
    pub async fn serve_with(self, socket: &Path, overrides: BTreeMap<String, Response>) -> Server {
        self.serve_changing(
            socket,
            Arc::new(move |r: &Request| overrides.get(&r.path).cloned()),
        )
        .await
    }

    /// Like [`Recording::serve_with`], with the replacement answers chosen by `change` at each
    /// request (`None`: the recorded answer), so that a server can change while it is read.
    pub async fn serve_changing(self, socket: &Path, change: Change) -> Server {
        let answers = Arc::new(self.answers);
        Server::start_unix(
            socket,
            Arc::new(move |r: &Request| {
                assert_eq!(r.method, "GET", "incus-ai sent {} {}", r.method, r.path);
                if let Some(o) = change(r) {
                    return o;
                }
                match answers.get(&r.path) {
                    Some((status, Value::String(text))) => {
                        Response::new(*status, text.clone()).header("Content-Type", "text/plain")
                    }
                    Some((status, body)) => Response::new(*status, body.to_string())
                        .header("Content-Type", "application/json"),
                    None => Response::new(
                        404,
                        json!({"type": "error", "error": "not found", "error_code": 404})
                            .to_string(),
                    )
                    .header("Content-Type", "application/json"),
                }
            }),
        )
        .await
    }
}
