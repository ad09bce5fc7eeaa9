//! A scripted OpenAI-compatible server on 127.0.0.1 standing in for the LLM: deterministic
//! embeddings (hashed bag of words, the same function as ../shared/aichat/stub_openai.py),
//! chat answers from a script, every request recorded.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::http::{Request, Response, Server};

/// Vector length of the stub embeddings.
pub const DIM: usize = 64;

/// The stub embedding of a text.
pub fn embed(text: &str) -> Vec<f32> {
    let mut v = vec![0f32; DIM];
    for tok in text
        .to_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| !t.is_empty())
    {
        let h = Sha256::digest(tok.as_bytes());
        let idx = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize % DIM;
        v[idx] += if h[4] & 1 == 1 { 1.0 } else { -1.0 };
    }
    v[DIM - 1] += 0.01;
    let norm = v
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(f32::MIN_POSITIVE);
    v.iter().map(|x| x / norm).collect()
}

/// Composes an answer from the tool results of the request.
pub type Compose = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// What the model says next.
#[derive(Clone)]
pub enum Turn {
    /// A final answer.
    Text(String),
    /// Tool calls: (name, JSON arguments).
    Tools(Vec<(String, String)>),
    /// A final answer built from the contents of all tool messages of the request.
    FromTools(Compose),
}

/// The server's state, shared with the test.
#[derive(Default)]
pub struct State {
    /// Every request: (path, JSON body).
    pub log: Mutex<Vec<(String, Value)>>,
    /// Scripted chat turns, in order; when empty, a default answer.
    pub script: Mutex<VecDeque<Turn>>,
    /// Answer every request with HTTP 500.
    pub failing: AtomicBool,
    /// Vector length of the embeddings (0: [`DIM`]); a model swapped behind the same name.
    pub dim: std::sync::atomic::AtomicUsize,
    /// Answer embeddings requests with this instead (an endless or broken answer).
    pub embeddings_answer: Mutex<Option<Response>>,
    /// Answer chat requests with this instead (a hostile stream).
    pub chat_answer: Mutex<Option<Response>>,
}

impl State {
    /// Appends turns to the script.
    pub fn script(&self, turns: Vec<Turn>) {
        self.script.lock().unwrap().extend(turns);
    }

    /// Requests to a path suffix (`/embeddings`, `/chat/completions`).
    pub fn requests(&self, suffix: &str) -> Vec<Value> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p.ends_with(suffix))
            .map(|(_, b)| b.clone())
            .collect()
    }

    /// Forgets the recorded requests.
    pub fn clear(&self) {
        self.log.lock().unwrap().clear();
    }
}

fn sse(chunks: Vec<Value>) -> Response {
    let mut body = String::new();
    for c in chunks {
        body.push_str(&format!("data: {c}\n\n"));
    }
    body.push_str("data: [DONE]\n\n");
    Response::new(200, body).header("Content-Type", "text/event-stream")
}

fn chat(state: &State, req: &Value) -> Response {
    let mut turn = state
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or_else(|| Turn::Text("Stub answer.".into()));
    if let Turn::FromTools(compose) = &turn {
        let tools: String = req["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["role"] == "tool")
            .map(|m| m["content"].as_str().unwrap_or("").to_string())
            .collect::<Vec<_>>()
            .join("\n");
        turn = Turn::Text(compose(&tools));
    }
    let stream = req["stream"].as_bool().unwrap_or(false);
    let model = req["model"].as_str().unwrap_or("stub-chat").to_string();
    match turn {
        Turn::FromTools(_) => unreachable!("composed above"),
        Turn::Text(t) if stream => {
            let words: Vec<Value> = t
                .split_inclusive(' ')
                .map(|w| json!({"id": "c", "object": "chat.completion.chunk", "created": 0, "model": model, "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": null}]}))
                .chain([json!({"id": "c", "object": "chat.completion.chunk", "created": 0, "model": model, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})])
                .collect();
            sse(words)
        }
        Turn::Text(t) => Response::new(
            200,
            json!({"id": "c", "object": "chat.completion", "created": 0, "model": model,
                   "choices": [{"index": 0, "message": {"role": "assistant", "content": t}, "finish_reason": "stop"}],
                   "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}})
            .to_string(),
        )
        .header("Content-Type", "application/json"),
        Turn::Tools(calls) => {
            let tool_calls: Vec<Value> = calls
                .iter()
                .enumerate()
                .map(|(i, (name, args))| json!({"id": format!("call_{i}"), "type": "function", "function": {"name": name, "arguments": args}}))
                .collect();
            if stream {
                let deltas: Vec<Value> = tool_calls
                    .iter()
                    .enumerate()
                    .map(|(i, c)| json!({"id": "c", "object": "chat.completion.chunk", "created": 0, "model": model, "choices": [{"index": 0, "delta": {"tool_calls": [{"index": i, "id": c["id"], "type": "function", "function": c["function"]}]}, "finish_reason": null}]}))
                    .chain([json!({"id": "c", "object": "chat.completion.chunk", "created": 0, "model": model, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})])
                    .collect();
                sse(deltas)
            } else {
                Response::new(
                    200,
                    json!({"id": "c", "object": "chat.completion", "created": 0, "model": model,
                           "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "tool_calls": tool_calls}, "finish_reason": "tool_calls"}],
                           "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}})
                    .to_string(),
                )
                .header("Content-Type", "application/json")
            }
        }
    }
}

fn answer(state: &State, r: &Request) -> Response {
    let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    state
        .log
        .lock()
        .unwrap()
        .push((r.path.clone(), body.clone()));
    if state.failing.load(Ordering::SeqCst) {
        return Response::new(
            500,
            json!({"error": {"message": "scripted failure", "type": "server_error"}}).to_string(),
        )
        .header("Content-Type", "application/json");
    }
    let path = r.path.trim_end_matches('/');
    if path.ends_with("/embeddings")
        && let Some(resp) = state.embeddings_answer.lock().unwrap().clone()
    {
        return resp;
    }
    if path.ends_with("/chat/completions")
        && let Some(resp) = state.chat_answer.lock().unwrap().clone()
    {
        return resp;
    }
    if path.ends_with("/embeddings") {
        let inputs: Vec<String> = match &body["input"] {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a
                .iter()
                .map(|v| v.as_str().unwrap_or("").to_string())
                .collect(),
            _ => vec![],
        };
        let data: Vec<Value> = inputs
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let mut v = embed(t);
                let dim = state.dim.load(Ordering::SeqCst);
                if dim > 0 {
                    v.resize(dim, 0.5);
                }
                json!({"object": "embedding", "index": i, "embedding": v})
            })
            .collect();
        return Response::new(
            200,
            json!({"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": 1, "total_tokens": 1}}).to_string(),
        )
        .header("Content-Type", "application/json");
    }
    if path.ends_with("/chat/completions") {
        return chat(state, &body);
    }
    if path.ends_with("/models") {
        return Response::new(200, json!({"object": "list", "data": [{"id": "stub-chat", "object": "model"}, {"id": "stub-embed", "object": "model"}]}).to_string())
            .header("Content-Type", "application/json");
    }
    Response::new(404, json!({"error": {"message": "not found"}}).to_string())
}

/// Starts the scripted server.
pub async fn start() -> (Server, Arc<State>) {
    let state = Arc::new(State::default());
    let s2 = state.clone();
    let server = Server::start(Arc::new(move |r: &Request| answer(&s2, r))).await;
    (server, state)
}

/// An AIChat configuration (config.yaml) pointing at the scripted server.
pub fn aichat_config(api_base: &str) -> String {
    format!(
        "model: local:stub-chat\nstream: true\nsave: false\nrag_embedding_model: local:stub-embed\nrag_top_k: 4\nfunction_calling: true\nclients:\n  - type: openai-compatible\n    name: local\n    api_base: {api_base}\n    models:\n      - name: stub-chat\n        max_input_tokens: 100000\n        supports_function_calling: true\n      - name: stub-embed\n        type: embedding\n        max_input_tokens: 100000\n        max_batch_size: 64\n"
    )
}
