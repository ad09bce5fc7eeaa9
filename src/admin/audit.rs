//! The audit log: one JSON line per proposed change in `<data dir>/audit.jsonl` (time,
//! question, tool, arguments, command, decision, request, operation, result, error), secrets
//! removed before the line is written. Lines are appended with one write each, so concurrent
//! writers (an MCP server and an `ask`) never interleave within a line.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What became of a proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// A person said yes; it was sent.
    Approved,
    /// A person said no (or did not answer).
    Declined,
    /// Nobody could be asked, or the proposal itself was refused (too many, unreadable).
    Refused,
    /// A change tool was called without `--allow-changes`.
    NotOffered,
}

/// The request a change became.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestLine {
    /// `POST`, `PUT` or `PATCH`.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Body.
    pub body: Value,
}

/// One audit line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// RFC 3339, UTC.
    pub time: String,
    /// The remote.
    pub remote: String,
    /// The question being answered.
    pub question: String,
    /// The tool called.
    pub tool: String,
    /// Its arguments as the model sent them.
    pub arguments: Value,
    /// The `incus` command it stands for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// What became of it.
    pub decision: Verdict,
    /// Why, in words (the answer given, why nobody was asked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The request sent (or that would have been).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestLine>,
    /// The operation id, for background changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// What the object shows afterwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Entry {
    /// A line for `tool` called with `arguments`, now.
    pub fn new(
        remote: &str,
        question: &str,
        tool: &str,
        arguments: &Value,
        decision: Verdict,
    ) -> Entry {
        Entry {
            time: time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            remote: remote.to_string(),
            question: question.chars().take(2000).collect(),
            tool: tool.chars().take(100).collect(),
            arguments: arguments.clone(),
            command: None,
            decision,
            reason: None,
            request: None,
            operation: None,
            result: None,
            error: None,
        }
    }
}

/// Why the audit log could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The file could not be written or read.
    #[error("audit log {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The audit log of a data dir.
#[derive(Debug, Clone)]
pub struct Audit {
    path: PathBuf,
}

impl Audit {
    /// The log in `data_root` (`audit.jsonl`).
    pub fn in_data_dir(data_root: &Path) -> Audit {
        Audit {
            path: data_root.join("audit.jsonl"),
        }
    }

    /// Its file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether lines can be appended (no change runs that could not be written down).
    pub fn writable(&self) -> Result<(), AuditError> {
        let io = |source| AuditError::Io {
            path: self.path.clone(),
            source,
        };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map(drop)
            .map_err(io)
    }

    /// Appends one line, secrets removed (`secret`: a value to blank wherever it appears).
    pub fn record(&self, entry: &Entry, secret: Option<&str>) -> Result<(), AuditError> {
        let mut v = serde_json::to_value(entry).unwrap_or_default();
        crate::util::redact::json(&mut v);
        let mut line = serde_json::to_string(&v).unwrap_or_default();
        if let Some(s) = secret.filter(|s| !s.is_empty()) {
            let quoted = serde_json::to_string(s).unwrap_or_default();
            let inner = &quoted[1..quoted.len() - 1];
            line = line.replace(inner, crate::util::redact::REDACTED);
        }
        line.push('\n');
        let io = |source| AuditError::Io {
            path: self.path.clone(),
            source,
        };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(io)?;
        f.write_all(line.as_bytes()).map_err(io)
    }

    /// Every line so far (none when there is no log yet); lines that do not decode are skipped.
    pub fn read(&self) -> Result<Vec<Entry>, AuditError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(AuditError::Io {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        Ok(text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_appended_and_secrets_removed() {
        let dir = tempfile::tempdir().unwrap();
        let audit = Audit::in_data_dir(dir.path());
        assert!(audit.read().unwrap().is_empty());
        let args = serde_json::json!({"target": "server", "key": "core.trust_password", "value": "hunter2"});
        let mut e = Entry::new(
            "local",
            "set the password",
            "set_config",
            &args,
            Verdict::Declined,
        );
        e.command = Some("incus config set core.trust_password=hunter2".into());
        audit.record(&e, Some("hunter2")).unwrap();
        audit
            .record(
                &Entry::new(
                    "local",
                    "q",
                    "stop_instance",
                    &serde_json::json!({}),
                    Verdict::NotOffered,
                ),
                None,
            )
            .unwrap();
        let text = std::fs::read_to_string(audit.path()).unwrap();
        assert!(!text.contains("hunter2"), "{text}");
        let lines = audit.read().unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].decision, Verdict::Declined);
        assert_eq!(lines[1].decision, Verdict::NotOffered);
        assert_eq!(
            lines[0].command.as_deref(),
            Some("incus config set core.trust_password=[redacted]")
        );
    }
}
