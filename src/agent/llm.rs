//! The chat model: any OpenAI-compatible endpoint through async-openai, configured in
//! incus-ai's config file (`[llm]`) or by naming an AIChat client model (`--model CLIENT:MODEL`),
//! whose `api_base`/`api_key` come from AIChat's `config.yaml`.

use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use futures::StreamExt;
use serde_json::{Value, json};

use crate::config::LlmConfig;
use crate::export::aichat_config::{AichatConfig, AichatPaths};

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

/// A chat model endpoint.
pub struct Llm {
    client: Client<OpenAIConfig>,
    /// Model name on the wire.
    pub model: String,
    /// Endpoint, for messages.
    pub api_base: String,
}

impl Llm {
    /// The model configured in `[llm]` or named with `--model CLIENT:MODEL`; `None` when no
    /// model is configured.
    pub fn resolve(cfg: &LlmConfig, model_flag: Option<&str>) -> Result<Option<Llm>, LlmError> {
        let aichat_model = model_flag.map(str::to_string).or(cfg.aichat_model.clone());
        if let Some(id) = aichat_model {
            let paths = AichatPaths::discover();
            let aichat = AichatConfig::load(&paths.config_file)
                .map_err(|e| LlmError::Config(e.to_string()))?;
            let e = aichat
                .endpoint(&id, None, &paths.config_file)
                .map_err(|e| LlmError::Config(e.to_string()))?;
            return Ok(Some(Llm::new(
                &e.api_base,
                e.api_key.as_deref(),
                &e.wire_name,
            )));
        }
        match (&cfg.api_base, &cfg.model) {
            (Some(base), Some(model)) => {
                let key = cfg
                    .api_key
                    .clone()
                    .or_else(|| cfg.api_key_env.as_ref().and_then(|v| std::env::var(v).ok()));
                Ok(Some(Llm::new(base, key.as_deref(), model)))
            }
            (None, None) => Ok(None),
            _ => Err(LlmError::Config(
                "[llm] needs both api_base and model (or aichat_model = \"CLIENT:MODEL\")".into(),
            )),
        }
    }

    /// A client for `api_base` and `model`.
    pub fn new(api_base: &str, api_key: Option<&str>, model: &str) -> Llm {
        let config = OpenAIConfig::new()
            .with_api_base(api_base.trim_end_matches('/'))
            .with_api_key(api_key.unwrap_or_default());
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .connect_timeout(Duration::from_secs(10))
            .no_proxy()
            .build()
            .expect("HTTP client");
        Llm {
            client: Client::with_config(config).with_http_client(http),
            model: model.to_string(),
            api_base: api_base.to_string(),
        }
    }

    fn error(&self, detail: impl std::fmt::Display) -> LlmError {
        LlmError::Endpoint {
            api_base: self.api_base.clone(),
            model: self.model.clone(),
            detail: detail.to_string().replace('\n', " "),
        }
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
            let v: Value = self
                .client
                .chat()
                .create_byot(request)
                .await
                .map_err(|e| self.error(e))?;
            let msg = &v["choices"][0]["message"];
            return Ok(Reply {
                content: msg["content"].as_str().unwrap_or("").to_string(),
                tool_calls: msg["tool_calls"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| ToolCall {
                        id: c["id"].as_str().unwrap_or("").to_string(),
                        name: c["function"]["name"].as_str().unwrap_or("").to_string(),
                        arguments: c["function"]["arguments"]
                            .as_str()
                            .unwrap_or("{}")
                            .to_string(),
                    })
                    .collect(),
            });
        };
        request["stream"] = json!(true);
        let mut stream = self
            .client
            .chat()
            .create_stream_byot::<Value, Value>(request)
            .await
            .map_err(|e| self.error(e))?;
        let mut reply = Reply::default();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.error(e))?;
            let delta = &chunk["choices"][0]["delta"];
            if let Some(t) = delta["content"].as_str() {
                on_text(t);
                reply.content.push_str(t);
            }
            for c in delta["tool_calls"].as_array().into_iter().flatten() {
                let i = c["index"].as_u64().unwrap_or(reply.tool_calls.len() as u64) as usize;
                while reply.tool_calls.len() <= i {
                    reply.tool_calls.push(ToolCall {
                        id: String::new(),
                        name: String::new(),
                        arguments: String::new(),
                    });
                }
                let call = &mut reply.tool_calls[i];
                if let Some(id) = c["id"].as_str() {
                    call.id = id.to_string();
                }
                if let Some(n) = c["function"]["name"].as_str() {
                    call.name.push_str(n);
                }
                if let Some(a) = c["function"]["arguments"].as_str() {
                    call.arguments.push_str(a);
                }
            }
        }
        for (i, c) in reply.tool_calls.iter_mut().enumerate() {
            if c.id.is_empty() {
                c.id = format!("call_{i}");
            }
        }
        Ok(reply)
    }
}
