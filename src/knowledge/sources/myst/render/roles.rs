//! MyST roles in a line of prose: `{ref}`, `{doc}`, `{config:option}` and the others resolved
//! to their text, inline comments dropped.

use regex::Captures;

use super::{COMMENT, ROLE, Renderer, TARGET};

/// A heading's text without markup, as Sphinx shows it in references.
pub(super) fn plain_title(s: &str) -> String {
    let s = ROLE.replace_all(s, |c: &Captures| role_text(&c[2]).to_string());
    s.replace('`', "").trim().to_string()
}

/// Roles in text read outside the docs tree (the server's own key descriptions): a
/// `{config:option}` becomes its key in code, a `{ref}` its text (or its label in words), any
/// other role its text.
pub fn plain_roles(s: &str) -> String {
    if !s.contains("}`") {
        return s.to_string();
    }
    ROLE.replace_all(s, |c: &Captures| {
        let body = &c[2];
        match &c[1] {
            "config:option" => {
                let key = body.split_once(':').map_or(body, |(_, k)| k);
                format!("`{}`", role_text(key))
            }
            "ref" if role_text(body) == body => body.replace(['-', '_'], " "),
            _ => role_text(body).to_string(),
        }
    })
    .into_owned()
}

/// `text <target>` → `text`; `target` → `target`.
pub(super) fn role_text(body: &str) -> &str {
    TARGET
        .captures(body)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str())
        .filter(|t| !t.is_empty())
        .unwrap_or(body)
}

fn role_target(body: &str) -> &str {
    TARGET
        .captures(body)
        .and_then(|c| c.get(2))
        .map(|m| m.as_str())
        .unwrap_or(body)
}

impl Renderer<'_> {
    /// Resolves roles and drops inline comments on one line of prose.
    pub(super) fn inline(&self, line: &str) -> String {
        let line = if line.contains("<!--") {
            COMMENT.replace_all(line, "").into_owned()
        } else {
            line.to_string()
        };
        if !line.contains("}`") {
            return line;
        }
        ROLE.replace_all(&line, |c: &Captures| {
            let body = &c[2];
            match &c[1] {
                "ref" => {
                    let text = role_text(body);
                    if text != body {
                        text.to_string()
                    } else {
                        self.catalog
                            .labels
                            .get(body)
                            .cloned()
                            .unwrap_or_else(|| body.replace(['-', '_'], " "))
                    }
                }
                "doc" => {
                    let text = role_text(body);
                    if text != body {
                        return text.to_string();
                    }
                    let target = self.resolve_doc(role_target(body));
                    self.catalog
                        .pages
                        .get(&target)
                        .cloned()
                        .unwrap_or_else(|| body.to_string())
                }
                "config:option" => {
                    let key = body.split_once(':').map_or(body, |(_, k)| k);
                    format!("`{}`", role_text(key))
                }
                _ => role_text(body).to_string(),
            }
        })
        .into_owned()
    }

    fn resolve_doc(&self, target: &str) -> String {
        let target = target.trim_end_matches(".md");
        if let Some(abs) = target.strip_prefix('/') {
            return abs.to_string();
        }
        let dir = self.doc_path.rsplit_once('/').map_or("", |(d, _)| d);
        let mut parts: Vec<&str> = if dir.is_empty() {
            vec![]
        } else {
            dir.split('/').collect()
        };
        for p in target.split('/') {
            match p {
                ".." => {
                    parts.pop();
                }
                "." | "" => {}
                p => parts.push(p),
            }
        }
        parts.join("/")
    }
}
