//! The chat model: any OpenAI-compatible endpoint (`POST {api_base}/chat/completions`, plain
//! or streamed as server-sent events), configured in incus-ai's config file (`[llm]`) or by
//! naming an AIChat client model (`--model CLIENT:MODEL`), whose `api_base`/`api_key` come from
//! AIChat's `config.yaml`. Whatever the endpoint sends is bounded: the answer's size, each
//! streamed event, the number of tool calls and their arguments.

use std::time::Duration;

use serde_json::{Value, json};

use crate::aichat::config::{AichatConfig, AichatPaths};

/// Why the model could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// The endpoint failed.
    #[error("LLM endpoint {api_base} (model {model}): {detail}")]
    Endpoint {
        /// The endpoint.
        api_base: String,
        /// The model.
        model: String,
        /// Why.
        detail: String,
    },
    /// The configuration names a model that cannot be resolved.
    #[error("{0}")]
    Config(String),
}

/// A tool call the model asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// Call id, echoed in the tool message.
    pub id: String,
    /// Tool name.
    pub name: String,
    /// Arguments, a JSON text.
    pub arguments: String,
}

/// One reply of the model.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    /// Text.
    pub content: String,
    /// Tool calls.
    pub tool_calls: Vec<ToolCall>,
}

/// Largest non-streamed answer read.
const MAX_ANSWER_BYTES: usize = 8 << 20;
/// Largest single streamed event (one `data:` line).
const MAX_EVENT_BYTES: usize = 1 << 20;
/// Longest reply text kept.
const MAX_REPLY_CHARS: usize = 256 << 10;
/// Most tool calls taken from one reply; a call index beyond this is refused.
pub const MAX_TOOL_CALLS: usize = 16;
/// Longest arguments of one tool call.
const MAX_ARGUMENT_BYTES: usize = 64 << 10;

/// A chat model endpoint.
pub struct Llm {
    http: reqwest::Client,
    api_key: Option<String>,
    /// Model name on the wire.
    pub model: String,
    /// Endpoint, for messages.
    pub api_base: String,
}

impl Llm {
    /// The chat model `id` (`CLIENT:MODEL`) of AIChat's `config.yaml`, with its client's
    /// `api_base` and `api_key`.
    pub fn from_aichat(id: &str) -> Result<Llm, LlmError> {
        let paths = AichatPaths::discover();
        let aichat =
            AichatConfig::load(&paths.config_file).map_err(|e| LlmError::Config(e.to_string()))?;
        let e = aichat
            .endpoint(id, None, &paths.config_file)
            .map_err(|e| LlmError::Config(e.to_string()))?;
        Ok(Llm::new(&e.api_base, e.api_key.as_deref(), &e.wire_name))
    }

    /// A client for `api_base` and `model`.
    pub fn new(api_base: &str, api_key: Option<&str>, model: &str) -> Llm {
        let http = crate::util::http::client_builder(Duration::from_secs(300))
            .build()
            .unwrap_or_default();
        Llm {
            http,
            api_key: api_key.filter(|k| !k.is_empty()).map(str::to_string),
            model: model.to_string(),
            api_base: api_base.trim_end_matches('/').to_string(),
        }
    }

    fn error(&self, detail: impl std::fmt::Display) -> LlmError {
        LlmError::Endpoint {
            api_base: self.api_base.clone(),
            model: self.model.clone(),
            detail: crate::util::out::one_line(&detail.to_string()),
        }
    }

    async fn post(&self, request: &Value) -> Result<reqwest::Response, LlmError> {
        let mut req = self
            .http
            .post(format!("{}/chat/completions", self.api_base))
            .json(request);
        if let Some(k) = &self.api_key {
            req = req.bearer_auth(k);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| self.error(crate::util::text::error_chain(&e.without_url())))?;
        if !resp.status().is_success() {
            let status = resp.status().as_u16();
            let body = crate::util::http::read_prefix(resp, 2048)
                .await
                .unwrap_or_default();
            let v: Value = serde_json::from_slice(&body).unwrap_or_default();
            let msg = v["error"]["message"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| {
                    String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned()
                });
            return Err(self.error(format!("HTTP {status}: {msg}")));
        }
        Ok(resp)
    }

    /// One chat turn. With `on_text`, the answer is streamed and each piece of text is passed on
    /// as it arrives.
    pub async fn chat(
        &self,
        messages: &[Value],
        tools: &[Value],
        on_text: Option<&mut dyn FnMut(&str)>,
    ) -> Result<Reply, LlmError> {
        let mut request = json!({"model": self.model, "messages": messages});
        if !tools.is_empty() {
            request["tools"] = json!(tools);
            request["tool_choice"] = json!("auto");
        }
        let Some(on_text) = on_text else {
            request["stream"] = json!(false);
            let resp = self.post(&request).await?;
            let body = crate::util::http::read_body(resp, MAX_ANSWER_BYTES, "the model's answer")
                .await
                .map_err(|e| self.error(e))?;
            let v: Value = serde_json::from_slice(&body)
                .map_err(|e| self.error(format!("not a chat completion: {e}")))?;
            let msg = &v["choices"][0]["message"];
            let mut reply = Reply::default();
            let mut acc = Accumulator::default();
            acc.text(&mut reply, msg["content"].as_str().unwrap_or(""));
            for (i, c) in msg["tool_calls"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                let mut c = c.clone();
                c["index"] = json!(i);
                acc.tool_call(&mut reply, &c).map_err(|e| self.error(e))?;
            }
            return Ok(acc.finish(reply));
        };
        request["stream"] = json!(true);
        let mut resp = self.post(&request).await?;
        let mut reply = Reply::default();
        let mut acc = Accumulator::default();
        let mut line = Vec::new();
        'read: loop {
            let chunk = resp
                .chunk()
                .await
                .map_err(|e| self.error(crate::util::text::error_chain(&e.without_url())))?;
            let Some(chunk) = chunk else { break };
            for &b in chunk.iter() {
                if b != b'\n' {
                    if line.len() >= MAX_EVENT_BYTES {
                        return Err(self.error(format!(
                            "a streamed event is larger than {MAX_EVENT_BYTES} bytes"
                        )));
                    }
                    line.push(b);
                    continue;
                }
                let text = String::from_utf8_lossy(&line).into_owned();
                line.clear();
                let Some(data) = text.trim_end_matches('\r').strip_prefix("data:") else {
                    continue;
                };
                let data = data.trim();
                if data == "[DONE]" {
                    break 'read;
                }
                let Ok(event) = serde_json::from_str::<Value>(data) else {
                    continue;
                };
                let delta = &event["choices"][0]["delta"];
                if let Some(t) = delta["content"].as_str() {
                    let kept = acc.text(&mut reply, t);
                    on_text(kept);
                }
                for c in delta["tool_calls"].as_array().into_iter().flatten() {
                    acc.tool_call(&mut reply, c).map_err(|e| self.error(e))?;
                }
            }
        }
        Ok(acc.finish(reply))
    }
}

/// Builds a reply from pieces, within the limits.
#[derive(Default)]
struct Accumulator {
    chars: usize,
}

impl Accumulator {
    /// Appends text up to [`MAX_REPLY_CHARS`]; returns what was kept.
    fn text<'a>(&mut self, reply: &mut Reply, t: &'a str) -> &'a str {
        let room = MAX_REPLY_CHARS.saturating_sub(self.chars);
        let end = t.char_indices().nth(room).map_or(t.len(), |(i, _)| i);
        let kept = &t[..end];
        self.chars += kept.chars().count();
        reply.content.push_str(kept);
        kept
    }

    /// Applies one tool-call delta; its `index` must stay below [`MAX_TOOL_CALLS`].
    fn tool_call(&mut self, reply: &mut Reply, c: &Value) -> Result<(), String> {
        // Without an index, a delta with a new id starts a call; others continue the last.
        let i = match (c["index"].as_u64(), c["id"].as_str()) {
            (Some(i), _) => i,
            (None, Some(id)) if reply.tool_calls.last().is_none_or(|l| l.id != id) => {
                reply.tool_calls.len() as u64
            }
            (None, _) => reply.tool_calls.len().saturating_sub(1) as u64,
        };
        if i >= MAX_TOOL_CALLS as u64 {
            return Err(format!(
                "the model sent tool call number {i}; at most {MAX_TOOL_CALLS} are taken from one reply"
            ));
        }
        let i = i as usize;
        while reply.tool_calls.len() <= i {
            reply.tool_calls.push(ToolCall {
                id: String::new(),
                name: String::new(),
                arguments: String::new(),
            });
        }
        let call = &mut reply.tool_calls[i];
        if let Some(id) = c["id"].as_str() {
            call.id = id.chars().take(128).collect();
        }
        if let Some(n) = c["function"]["name"].as_str()
            && call.name.len() + n.len() <= 128
        {
            call.name.push_str(n);
        }
        if let Some(a) = c["function"]["arguments"].as_str() {
            if call.arguments.len() + a.len() > MAX_ARGUMENT_BYTES {
                return Err(format!(
                    "the arguments of tool call {i} are longer than {MAX_ARGUMENT_BYTES} bytes"
                ));
            }
            call.arguments.push_str(a);
        }
        Ok(())
    }

    fn finish(self, mut reply: Reply) -> Reply {
        for (i, c) in reply.tool_calls.iter_mut().enumerate() {
            if c.id.is_empty() {
                c.id = format!("call_{i}");
            }
            if c.arguments.trim().is_empty() {
                c.arguments = "{}".into();
            }
        }
        reply
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_call_indexes_and_sizes_are_bounded() {
        let mut acc = Accumulator::default();
        let mut r = Reply::default();
        let delta = |i: u64, args: &str| json!({"index": i, "id": "c", "function": {"name": "search_docs", "arguments": args}});
        acc.tool_call(&mut r, &delta(0, "{\"query\":")).unwrap();
        acc.tool_call(
            &mut r,
            &json!({"index": 0, "function": {"arguments": "\"x\"}"}}),
        )
        .unwrap();
        assert_eq!(r.tool_calls[0].arguments, "{\"query\":\"x\"}");
        let e = acc
            .tool_call(&mut r, &delta(4_000_000_000, "{}"))
            .unwrap_err();
        assert!(e.contains("at most 16"), "{e}");
        assert_eq!(r.tool_calls.len(), 1);
        let e = acc
            .tool_call(&mut r, &delta(1, &"a".repeat(MAX_ARGUMENT_BYTES + 1)))
            .unwrap_err();
        assert!(e.contains("longer than"), "{e}");
        let long = "x".repeat(MAX_REPLY_CHARS + 10);
        assert_eq!(acc.text(&mut r, &long).len(), MAX_REPLY_CHARS);
        assert_eq!(acc.text(&mut r, "more"), "");
    }
}
