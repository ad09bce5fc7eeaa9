//! AIChat's own configuration, found the way AIChat finds it: `$AICHAT_CONFIG_DIR`, else
//! `$XDG_CONFIG_HOME/aichat`, else `~/.config/aichat`; `config.yaml` there (or
//! `$AICHAT_CONFIG_FILE`), RAGs in `$AICHAT_RAGS_DIR` or `<config dir>/rags`, roles in
//! `<config dir>/roles`. The user configures an endpoint once, in AIChat.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Why AIChat's configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AichatError {
    /// `config.yaml` cannot be read or parsed.
    #[error("AIChat config {path}: {detail}")]
    Config {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// No embedding model named anywhere.
    #[error(
        "no embedding model: AIChat's {path} names no rag_embedding_model; run `incus-ai export aichat --use-local-model` to use incus-ai's own (served to AIChat by `incus-ai serve`), or pass --embedding-model CLIENT:MODEL"
    )]
    NoEmbeddingModel {
        /// The config file.
        path: PathBuf,
    },
    /// The named model is not declared.
    #[error(
        "embedding model {model} is not declared in {path}; add it under the client's models with `type: embedding`"
    )]
    UnknownModel {
        /// `client:model`.
        model: String,
        /// The config file.
        path: PathBuf,
    },
    /// The client has no endpoint.
    #[error("AIChat client {client} has no api_base in {path} (nor {env})")]
    NoApiBase {
        /// The client name.
        client: String,
        /// The config file.
        path: PathBuf,
        /// The environment variable that would also do.
        env: String,
    },
}

/// Where AIChat keeps things.
#[derive(Debug, Clone)]
pub struct AichatPaths {
    /// The configuration folder.
    pub config_dir: PathBuf,
    /// `config.yaml`.
    pub config_file: PathBuf,
    /// Where RAG files live.
    pub rags_dir: PathBuf,
    /// Where roles live.
    pub roles_dir: PathBuf,
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

impl AichatPaths {
    /// Resolves the paths from the environment, as AIChat 0.30 does.
    pub fn discover() -> AichatPaths {
        let config_dir = env_path("AICHAT_CONFIG_DIR")
            .unwrap_or_else(|| crate::util::paths::config_home().join("aichat"));
        AichatPaths {
            config_file: env_path("AICHAT_CONFIG_FILE")
                .unwrap_or_else(|| config_dir.join("config.yaml")),
            rags_dir: env_path("AICHAT_RAGS_DIR").unwrap_or_else(|| config_dir.join("rags")),
            roles_dir: env_path("AICHAT_ROLES_DIR").unwrap_or_else(|| config_dir.join("roles")),
            config_dir,
        }
    }
}

/// The keys of `config.yaml` that incus-ai reads.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AichatConfig {
    /// Default chat model, `client:model`.
    pub model: Option<String>,
    /// Embedding model used for RAGs.
    pub rag_embedding_model: Option<String>,
    /// Reranker for RAGs.
    pub rag_reranker_model: Option<String>,
    /// Chunks retrieved per query.
    pub rag_top_k: Option<usize>,
    /// Splitter chunk size in bytes.
    pub rag_chunk_size: Option<usize>,
    /// Splitter overlap in bytes.
    pub rag_chunk_overlap: Option<usize>,
    /// Whether tool calling is on (agents need it).
    pub function_calling: Option<bool>,
    /// LLM clients.
    pub clients: Vec<ClientConf>,
}

/// One entry of `clients`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ClientConf {
    /// `openai`, `openai-compatible`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// The prefix of its model ids (defaults to the type).
    pub name: Option<String>,
    /// Endpoint, e.g. `http://127.0.0.1:11434/v1`.
    pub api_base: Option<String>,
    /// Bearer token.
    pub api_key: Option<String>,
    /// Declared models.
    pub models: Vec<ModelConf>,
}

/// One model of a client.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ModelConf {
    /// Name in AIChat.
    pub name: String,
    /// Name on the wire, when different.
    pub real_name: Option<String>,
    /// `chat` (default), `embedding`, `reranker`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Input limit in tokens.
    pub max_input_tokens: Option<usize>,
    /// Largest batch of inputs per embeddings request.
    pub max_batch_size: Option<usize>,
    /// Chunk size AIChat offers for this embedding model.
    pub default_chunk_size: Option<usize>,
}

/// An OpenAI-compatible endpoint and model, resolved from AIChat's configuration.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// `client:model` as AIChat names it.
    pub id: String,
    /// Model name sent on the wire.
    pub wire_name: String,
    /// `…/v1`, without trailing slash.
    pub api_base: String,
    /// Bearer token, if any.
    pub api_key: Option<String>,
    /// The model's declaration.
    pub model: ModelConf,
}

fn env_name(client: &str, what: &str) -> String {
    format!("{}_{what}", client.to_ascii_uppercase().replace('-', "_"))
}

fn read_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl AichatConfig {
    /// Reads `config.yaml`; a missing file gives the defaults.
    pub fn load(path: &Path) -> Result<AichatConfig, AichatError> {
        let mut cfg: AichatConfig = match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, path)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => AichatConfig::default(),
            Err(e) => {
                return Err(AichatError::Config {
                    path: path.to_path_buf(),
                    detail: e.to_string(),
                });
            }
        };
        // Environment overrides, as AIChat applies them.
        if let Some(v) = read_env("AICHAT_RAG_EMBEDDING_MODEL") {
            cfg.rag_embedding_model = Some(v);
        }
        if let Some(v) = read_env("AICHAT_RAG_CHUNK_SIZE").and_then(|v| v.parse().ok()) {
            cfg.rag_chunk_size = Some(v);
        }
        if let Some(v) = read_env("AICHAT_RAG_CHUNK_OVERLAP").and_then(|v| v.parse().ok()) {
            cfg.rag_chunk_overlap = Some(v);
        }
        if let Some(v) = read_env("AICHAT_RAG_TOP_K").and_then(|v| v.parse().ok()) {
            cfg.rag_top_k = Some(v);
        }
        Ok(cfg)
    }

    /// Parses the text of `config.yaml` (read from `path`), without the environment's
    /// overrides. An empty file gives the defaults.
    pub fn parse(text: &str, path: &Path) -> Result<AichatConfig, AichatError> {
        if text.trim().is_empty() {
            return Ok(AichatConfig::default());
        }
        serde_norway::from_str(text).map_err(|e| AichatError::Config {
            path: path.to_path_buf(),
            detail: e.to_string().replace('\n', " "),
        })
    }

    /// Resolves a `client:model` id of the given type (`embedding`, or `None` for chat).
    pub fn endpoint(
        &self,
        id: &str,
        kind: Option<&str>,
        config_file: &Path,
    ) -> Result<Endpoint, AichatError> {
        let unknown = || AichatError::UnknownModel {
            model: id.to_string(),
            path: config_file.to_path_buf(),
        };
        let (client_name, model_name) = id.split_once(':').ok_or_else(unknown)?;
        let client = self
            .clients
            .iter()
            .find(|c| c.name.as_deref().unwrap_or(&c.kind) == client_name)
            .ok_or_else(unknown)?;
        let model = client.models.iter().find(|m| m.name == model_name).cloned();
        let model = match (model, kind) {
            (Some(m), Some(k)) if m.kind.as_deref() == Some(k) => m,
            (Some(m), None) if m.kind.as_deref().is_none_or(|k| k == "chat") => m,
            // Chat models may be used without being listed; embedding models may not.
            (None, None) => ModelConf {
                name: model_name.to_string(),
                ..ModelConf::default()
            },
            _ => return Err(unknown()),
        };
        let api_base = client
            .api_base
            .clone()
            .or_else(|| read_env(&env_name(client_name, "API_BASE")))
            .or_else(|| (client.kind == "openai").then(|| "https://api.openai.com/v1".to_string()))
            .ok_or_else(|| AichatError::NoApiBase {
                client: client_name.to_string(),
                path: config_file.to_path_buf(),
                env: env_name(client_name, "API_BASE"),
            })?;
        let api_key = client
            .api_key
            .clone()
            .or_else(|| read_env(&env_name(client_name, "API_KEY")));
        Ok(Endpoint {
            id: id.to_string(),
            wire_name: model
                .real_name
                .clone()
                .unwrap_or_else(|| model.name.clone()),
            api_base: api_base.trim_end_matches('/').to_string(),
            api_key,
            model,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "model: local:chat\nrag_embedding_model: local:embed\nrag_top_k: 4\nclients:\n- type: openai-compatible\n  name: local\n  api_base: http://127.0.0.1:9/v1/\n  api_key: k\n  models:\n  - name: chat\n  - name: embed\n    real_name: nomic-embed\n    type: embedding\n    max_batch_size: 16\n    default_chunk_size: 1200\n- type: openai\n  api_key: sk\n  models:\n  - name: text-embedding-3-small\n    type: embedding\n";

    #[test]
    fn endpoints_resolve_from_the_clients_list() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("config.yaml");
        std::fs::write(&p, CONFIG).unwrap();
        let cfg = AichatConfig::load(&p).unwrap();
        let e = cfg
            .endpoint(
                cfg.rag_embedding_model.as_deref().unwrap(),
                Some("embedding"),
                &p,
            )
            .unwrap();
        assert_eq!(e.api_base, "http://127.0.0.1:9/v1");
        assert_eq!(e.wire_name, "nomic-embed");
        assert_eq!(e.model.max_batch_size, Some(16));
        let o = cfg
            .endpoint("openai:text-embedding-3-small", Some("embedding"), &p)
            .unwrap();
        assert_eq!(o.api_base, "https://api.openai.com/v1");
        let chat = cfg.endpoint("local:whatever", None, &p).unwrap();
        assert_eq!(chat.wire_name, "whatever");
        let err = cfg
            .endpoint("local:chat", Some("embedding"), &p)
            .unwrap_err()
            .to_string();
        assert!(err.contains("type: embedding"), "{err}");
        assert!(cfg.endpoint("nope:x", None, &p).is_err());
    }
}
