//! `export aichat --use-local-model`: AIChat's `config.yaml` gains an `incus-ai` client (type
//! `openai-compatible`, `api_base` of `incus-ai serve`) declaring the local embedding model and
//! incus-ai's reranker ([`RERANKER`]), and `rag_embedding_model` names the local model when it
//! named nothing (an admin's own embedding model is kept; the reranker serves it too). The file is edited as text: every
//! other line stays as the admin wrote it (comments too), a backup is kept, and the result must
//! parse and resolve before it replaces the original.

use std::path::{Path, PathBuf};

use super::config::{AichatConfig, AichatError};

/// AIChat's name for incus-ai's client (the prefix of its model ids).
pub const CLIENT: &str = "incus-ai";
/// The reranker `serve` answers `/v1/rerank` as (AIChat's model id `incus-ai:rerank`).
pub const RERANKER: &str = "rerank";

/// The chunk size the client offers AIChat for the local model (`default_chunk_size`, bytes).
/// Smaller chunks let the reranker's fixed context budget hold more distinct sections, and the
/// part of a long section that answers rather than all of it: measured by `make eval` (what
/// `aichat --dry-run` injects, reranked; dev / real / hard): 1,500 bytes 0.900 / 0.760 / 0.660,
/// 1,200 0.925 / 0.740 / 0.680, 1,000 0.900 / 0.760 / 0.700, 800 0.900 / 0.780 / 0.690, each at
/// a median context of 7.3-7.6 KB.
pub const CHUNK_SIZE: usize = 1000;

/// What the edit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalClient {
    /// `incus-ai:<model>`, the RAG's embedding model.
    pub model: String,
    /// The copy of the file as it was, when it was changed.
    pub backup: Option<PathBuf>,
    /// Whether `rag_embedding_model` was set by this edit.
    pub set_default: bool,
}

/// The client block, its list items indented by `indent` spaces.
fn block(indent: usize, api_base: &str, model: &str, batch: usize) -> String {
    let i = " ".repeat(indent);
    format!(
        "{i}- type: openai-compatible\n{i}  name: {CLIENT}\n{i}  api_base: {api_base}\n{i}  models:\n{i}  - name: {model}\n{i}    type: embedding\n{i}    max_input_tokens: 256\n{i}    max_batch_size: {batch}\n{i}    default_chunk_size: {CHUNK_SIZE}\n{i}  - name: {RERANKER}\n{i}    type: reranker\n"
    )
}

/// `text` with the client added (under `clients:`, or a new `clients:` at the end) and, when
/// `make_default`, `rag_embedding_model` set when it names nothing; and whether it was set.
pub fn edit(
    text: &str,
    api_base: &str,
    model: &str,
    batch: usize,
    make_default: bool,
) -> (String, bool) {
    let lines: Vec<&str> = text.lines().collect();
    let key = |l: &str, k: &str| l.starts_with(k) && l[k.len()..].trim_start().starts_with(':');
    let mut out = String::with_capacity(text.len() + 300);
    let has_default = !make_default
        || lines.iter().any(|l| {
            key(l, "rag_embedding_model")
                && !l
                    .split_once(':')
                    .is_some_and(|(_, v)| matches!(v.trim(), "" | "null" | "~"))
        });
    let id = format!("{CLIENT}:{model}");
    let mut set_default = false;
    let clients = lines.iter().position(|l| key(l, "clients"));
    for (n, l) in lines.iter().enumerate() {
        if key(l, "rag_embedding_model") && !has_default {
            out.push_str(&format!("rag_embedding_model: {id}\n"));
            set_default = true;
            continue;
        }
        if Some(n) == clients {
            let inline = l.split_once(':').map(|(_, v)| v.trim()).unwrap_or("");
            out.push_str("clients:\n");
            // The indentation of the existing items (AIChat's template uses none).
            let indent = lines[n + 1..]
                .iter()
                .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                .filter(|l| l.trim_start().starts_with("- "))
                .map_or(0, |l| l.len() - l.trim_start().len());
            out.push_str(&block(indent, api_base, model, batch));
            if !inline.is_empty() && inline != "[]" {
                // `clients: [...]` inline: kept as it was is impossible; parse check rejects.
                out.push_str(l);
                out.push('\n');
            }
            continue;
        }
        out.push_str(l);
        out.push('\n');
    }
    if clients.is_none() {
        out.push_str("clients:\n");
        out.push_str(&block(0, api_base, model, batch));
    }
    if !has_default && !set_default {
        out.insert_str(0, &format!("rag_embedding_model: {id}\n"));
        set_default = true;
    }
    (out, set_default)
}

/// Adds the client to `config_file` (created when missing) unless a client named
/// [`CLIENT`] is there already; `make_default`: the local model becomes the
/// `rag_embedding_model` when none is set.
pub fn install(
    config_file: &Path,
    api_base: &str,
    model: &str,
    batch: usize,
    make_default: bool,
) -> Result<LocalClient, AichatError> {
    let err = |detail: String| AichatError::Config {
        path: config_file.to_path_buf(),
        detail,
    };
    let text = match std::fs::read_to_string(config_file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(err(e.to_string())),
    };
    let id = format!("{CLIENT}:{model}");
    let cfg = AichatConfig::parse(&text, config_file)?;
    if cfg
        .clients
        .iter()
        .any(|c| c.name.as_deref() == Some(CLIENT))
    {
        // Already there: the admin's version of it wins.
        cfg.endpoint(&id, Some("embedding"), config_file)?;
        return Ok(LocalClient {
            model: id,
            backup: None,
            set_default: false,
        });
    }
    let (new, set_default) = edit(&text, api_base, model, batch, make_default);
    let parsed = AichatConfig::parse(&new, config_file).map_err(|e| {
        err(format!(
            "adding the {CLIENT} client would not parse ({e}); add it by hand: {}",
            block(0, api_base, model, batch).replace('\n', " ")
        ))
    })?;
    parsed.endpoint(&id, Some("embedding"), config_file)?;
    // Edited where it really is (through a link into a dotfiles repository), with its mode
    // and owner; the backup (it holds the admin's API keys) gets the same. The new file is
    // staged first, so a file that cannot be written leaves nothing behind, backup included.
    let real = crate::util::fsx::resolve(config_file);
    let original = std::fs::metadata(&real).ok();
    let staged = crate::util::fsx::write_temp_like(&real, new.as_bytes(), original.as_ref())
        .map_err(|e| err(format!("cannot write {}: {e}", real.display())))?;
    let backup = if text.is_empty() {
        None
    } else {
        let b = config_file.with_extension("yaml.incus-ai.bak");
        crate::util::fsx::write_temp_like(&b, text.as_bytes(), original.as_ref())
            .and_then(|t| t.persist(&b).map_err(|e| e.error))
            .map_err(|e| err(format!("backup {}: {e}", b.display())))?;
        Some(b)
    };
    if let Err(e) = staged.persist(&real) {
        if let Some(b) = &backup {
            let _ = std::fs::remove_file(b);
        }
        return Err(err(format!("cannot write {}: {}", real.display(), e.error)));
    }
    Ok(LocalClient {
        model: id,
        backup,
        set_default,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "http://127.0.0.1:8765/v1";

    fn check(text: &str) -> AichatConfig {
        let (out, _) = edit(text, BASE, "all-MiniLM-L6-v2", 32, true);
        let cfg = AichatConfig::parse(&out, Path::new("c.yaml")).unwrap();
        let e = cfg
            .endpoint(
                "incus-ai:all-MiniLM-L6-v2",
                Some("embedding"),
                Path::new("c.yaml"),
            )
            .unwrap();
        assert_eq!(e.api_base, BASE);
        assert_eq!(e.model.default_chunk_size, Some(CHUNK_SIZE));
        // Every line of the original is still there, in order (but an empty `clients: []`
        // or `rag_embedding_model: null`, which the edit fills).
        let mut rest = out.lines();
        for l in text.lines() {
            let filled = l.starts_with("rag_embedding_model") || l == "clients: []";
            assert!(filled || rest.any(|o| o == l), "{l:?} lost in {out}");
        }
        cfg
    }

    #[test]
    fn the_client_joins_any_config_and_keeps_every_line() {
        // Empty, no clients, clients unindented (AIChat's template), indented, with comments.
        let cfg = check("");
        assert_eq!(
            cfg.rag_embedding_model.as_deref(),
            Some("incus-ai:all-MiniLM-L6-v2")
        );
        check("model: openai:gpt-4o # mine\nsave: true\n");
        let cfg = check(
            "model: local:chat\nclients:\n- type: openai-compatible\n  name: local\n  api_base: http://127.0.0.1:1/v1\n  models:\n  - name: chat\n",
        );
        assert_eq!(cfg.clients.len(), 2);
        let cfg =
            check("clients:\n  # my clients\n  - type: openai\n    api_key: sk-x\nrag_top_k: 5\n");
        assert_eq!(cfg.clients.len(), 2);
        assert_eq!(cfg.rag_top_k, Some(5));
        check("clients: []\n");
        check("rag_embedding_model: null\nclients:\n");
    }

    #[test]
    fn an_admins_embedding_model_is_kept() {
        let text = "rag_embedding_model: ollama:nomic\nclients:\n- type: openai-compatible\n  name: ollama\n  api_base: http://127.0.0.1:11434/v1\n  models:\n  - name: nomic\n    type: embedding\n";
        let (out, set) = edit(text, BASE, "m", 32, true);
        assert!(!set);
        let cfg = AichatConfig::parse(&out, Path::new("c.yaml")).unwrap();
        assert_eq!(cfg.rag_embedding_model.as_deref(), Some("ollama:nomic"));
    }

    #[test]
    fn install_backs_up_writes_once_and_refuses_what_would_not_parse() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("config.yaml");
        let original = "model: local:chat   # keep me\nclients:\n- type: openai-compatible\n  name: local\n  api_base: http://127.0.0.1:1/v1\n";
        std::fs::write(&f, original).unwrap();
        let r = install(&f, BASE, "all-MiniLM-L6-v2", 32, true).unwrap();
        assert!(r.set_default);
        assert_eq!(
            std::fs::read_to_string(r.backup.unwrap()).unwrap(),
            original
        );
        let after = std::fs::read_to_string(&f).unwrap();
        assert!(after.contains("model: local:chat   # keep me\n"));
        // A second run changes nothing.
        let again = install(&f, BASE, "all-MiniLM-L6-v2", 32, true).unwrap();
        assert_eq!(again.backup, None);
        assert_eq!(std::fs::read_to_string(&f).unwrap(), after);
        // A flow-style list cannot be extended as text: refused, the file untouched.
        let g = d.path().join("flow.yaml");
        std::fs::write(&g, "clients: [{type: openai, api_key: k}]\n").unwrap();
        let e = install(&g, BASE, "m", 32, true).unwrap_err().to_string();
        assert!(e.contains("add it by hand"), "{e}");
        assert_eq!(
            std::fs::read_to_string(&g).unwrap(),
            "clients: [{type: openai, api_key: k}]\n"
        );
    }
}
