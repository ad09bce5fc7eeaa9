//! What the model sees of a tool's answer: redacted, bounded and fenced as data (the cut made
//! inside the fence, so the fence always closes), and saying what could not be read.

use serde_json::{Value, json};

use super::{Answer, MAX_OUTPUT, ToolOutput, Toolbox};

/// Cuts `text` to `MAX_OUTPUT` characters with a marker the model can see.
pub fn bounded(text: String) -> String {
    let count = text.chars().count();
    if count <= MAX_OUTPUT {
        return text;
    }
    let cut: String = text.chars().take(MAX_OUTPUT).collect();
    format!(
        "{cut}\n[output truncated: {} more characters not shown; ask for less, e.g. with filters]",
        count - MAX_OUTPUT
    )
}

/// Wraps a tool result so that the model reads it as data, never as instructions: no text
/// inside can close the fence or open a prompt tag, whatever its spelling.
pub fn fence(tool: &str, body: &str) -> String {
    let body = crate::util::text::defuse_prompt_tags(body);
    format!("<data tool=\"{tool}\">\n{body}\n</data>")
}

impl Toolbox {
    /// An answer built from a cluster state that is missing endpoints says which, so that
    /// the model never calls empty or healthy what was not read.
    pub(super) fn incomplete(&self, answer: Value) -> Value {
        let Some((st, _, _)) = self.state.as_ref().filter(|_| self.used_state) else {
            return answer;
        };
        if st.errors.is_empty() {
            return answer;
        }
        let unreadable: Vec<Value> = st
            .errors
            .iter()
            .map(|e| json!({"path": e.path, "status": e.status, "error": e.message}))
            .collect();
        let mut out = match answer {
            Value::Object(m) => m,
            other => serde_json::Map::from_iter([("result".to_string(), other)]),
        };
        out.insert("complete".into(), json!(false));
        out.insert("unreadable".into(), Value::Array(unreadable));
        out.insert(
            "unreadable_note".into(),
            json!("These endpoints could not be read: what they hold is missing from this answer (no findings or an empty list here is no verdict). Say so in the answer."),
        );
        Value::Object(out)
    }
}

/// What the model sees of a tool's answer: redacted, bounded, fenced (the cut is made inside
/// the fence, so the fence always closes); or the error.
pub(super) fn render(name: &str, result: Answer) -> ToolOutput {
    match result {
        Ok(mut v) => {
            crate::util::redact::json(&mut v);
            let body = serde_json::to_string_pretty(&v).unwrap_or_default();
            let body = crate::util::text::defuse_prompt_tags(&body).into_owned();
            let truncated = body.chars().count() > MAX_OUTPUT;
            ToolOutput {
                text: fence(name, &bounded(body)),
                is_error: false,
                truncated,
            }
        }
        Err(e) => ToolOutput {
            text: format!("error: {e}"),
            is_error: true,
            truncated: false,
        },
    }
}
