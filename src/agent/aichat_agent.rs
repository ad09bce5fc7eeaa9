//! `incus-ai export aichat-agent`: an AIChat agent (`aichat --agent incus`) whose tools are
//! incus-ai's, following AIChat's llm-functions conventions: `functions.json` declares them
//! (`"agent": true`, so AIChat runs `bin/<agent> <tool> '<json>'`), the dispatcher writes the
//! result to `$LLM_OUTPUT`, and the docs RAG is attached as the agent's `rag.yaml`.
//!
//! With `allow_changes` the change tools are declared too and the dispatcher passes
//! `--allow-changes`: each change is asked about on `/dev/tty` (default No), refused without a
//! terminal, and a no is a result the model reads ("declined"), never a failing exit (AIChat
//! ends the whole turn when a tool exits non-zero).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;

use crate::aichat::config::{AichatConfig, AichatPaths};

/// Why the agent could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// A file could not be read or written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Serializing the agent's declaration failed.
    #[error("cannot serialize the agent's {what}: {detail}")]
    Serialize {
        /// Which file.
        what: &'static str,
        /// Why.
        detail: String,
    },
}

fn write(path: &Path, text: &str) -> Result<(), AgentError> {
    crate::util::fsx::write_atomic(path, text.as_bytes()).map_err(|source| AgentError::Write {
        path: path.to_path_buf(),
        source,
    })
}
use crate::agent::tools::offered;

/// What was installed.
#[derive(Debug, Clone, Serialize)]
pub struct AgentReport {
    /// Agent name.
    pub name: String,
    /// `<functions dir>/agents/<name>`.
    pub functions_dir: PathBuf,
    /// Tools declared.
    pub tools: Vec<&'static str>,
    /// The agent's RAG, when the docs RAG existed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rag: Option<PathBuf>,
    /// Set when AIChat's config does not enable function calling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// A command to try.
    pub try_command: String,
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Installs the agent `name`; `exe` is the incus-ai binary the tools run, `data_dir` its data.
pub fn install(
    name: &str,
    exe: &Path,
    data_dir: &Path,
    remote: Option<&str>,
    allow_changes: bool,
) -> Result<AgentReport, AgentError> {
    let paths = AichatPaths::discover();
    let functions = std::env::var_os("AICHAT_FUNCTIONS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| paths.config_dir.join("functions"));
    let dir = functions.join("agents").join(name);
    let index = serde_norway::to_string(&json!({
        "name": name,
        "description": if allow_changes {
            "Diagnoses the Incus cluster from its live state and the Incus docs; proposes changes you confirm one by one."
        } else {
            "Diagnoses the Incus cluster from its live state and the Incus docs (read-only)."
        },
        "version": env!("CARGO_PKG_VERSION"),
        "instructions": crate::agent::SYSTEM_PROMPT,
        "conversation_starters": ["Why is node2 offline?", "Is it safe to upgrade now?", "Why did web1 not come back after the reboot?"],
    }))
    .expect("agent index serializes");
    write(&dir.join("index.yaml"), &index)?;
    let declarations: Vec<serde_json::Value> = offered(allow_changes)
        .map(|t| json!({"name": t.name, "description": t.description, "parameters": t.parameters(), "agent": true}))
        .collect();
    write(
        &dir.join("functions.json"),
        &serde_json::to_string_pretty(&declarations).expect("json"),
    )?;
    let remote_arg = remote
        .map(|r| format!(" --remote {}", quote(r)))
        .unwrap_or_default()
        + if allow_changes {
            " --allow-changes"
        } else {
            ""
        };
    let dispatcher = format!(
        "#!/bin/sh\n# Installed by incus-ai: AIChat runs `{name} <tool> '<json arguments>'`; the tool's\n# read-only, redacted output goes to $LLM_OUTPUT.\nargs=\"$2\"\n[ -n \"$args\" ] || args='{{}}'\nexec {} --data-dir {} tool{remote_arg} \"$1\" \"$args\" > \"${{LLM_OUTPUT:-/dev/stdout}}\"\n",
        quote(&exe.display().to_string()),
        quote(&data_dir.display().to_string()),
    );
    let bin = dir.join("bin").join(name);
    write(&bin, &dispatcher)?;
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).map_err(|source| {
        AgentError::Write {
            path: bin.clone(),
            source,
        }
    })?;
    let docs_rag = paths.rags_dir.join(format!("{name}.yaml"));
    let rag = if docs_rag.exists() {
        let to = std::env::var_os(format!(
            "{}_DATA_DIR",
            name.to_ascii_uppercase().replace('-', "_")
        ))
        .map(PathBuf::from)
        .unwrap_or_else(|| paths.config_dir.join("agents").join(name))
        .join("rag.yaml");
        let text = std::fs::read_to_string(&docs_rag).map_err(|source| AgentError::Write {
            path: docs_rag.clone(),
            source,
        })?;
        write(&to, &text)?;
        Some(to)
    } else {
        None
    };
    let function_calling = AichatConfig::load(&paths.config_file)
        .ok()
        .and_then(|c| c.function_calling)
        .unwrap_or(false);
    Ok(AgentReport {
        name: name.to_string(),
        functions_dir: dir,
        tools: offered(allow_changes).map(|t| t.name).collect(),
        rag,
        warning: (!function_calling).then(|| {
            format!(
                "set `function_calling: true` in {} (AIChat agents need it)",
                paths.config_file.display()
            )
        }),
        try_command: format!("aichat --agent {name} \"why is node2 offline?\""),
    })
}
