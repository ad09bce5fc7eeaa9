//! MyST directives unwrapped: admonitions, tabs, terminals, code blocks, version notes, and
//! configuration options turned into `config-option` headings.

use super::{ADMONITIONS, Renderer};
use crate::knowledge::document::CONFIG_OPTION_CLASS;
use crate::knowledge::sources::myst::include::split_options;

impl Renderer<'_> {
    pub(super) fn directive(
        &mut self,
        name: &str,
        arg: &str,
        body: &[String],
        out: &mut Vec<String>,
    ) {
        let (opts, skip) = split_options(body);
        let content = &body[skip..];
        let opt = |k: &str| {
            opts.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        match name {
            n if ADMONITIONS.contains(&n) => {
                let title = if n == "admonition" || !arg.is_empty() {
                    arg.to_string()
                } else {
                    capitalize(n)
                };
                if title.is_empty() {
                    self.lines(content, out);
                } else {
                    out.push(format!("**{}:**", self.inline(&title)));
                    out.push(String::new());
                    self.lines(content, out);
                }
            }
            "tabs" | "glossary" | "list-table" | "container" | "only" | "rst-class" | "card" => {
                self.lines(content, out)
            }
            "group-tab" | "tab" | "tab-item" => {
                out.push(format!("**{}:**", self.inline(arg)));
                out.push(String::new());
                self.lines(content, out);
            }
            "config:option" => self.config_option(arg, &opts, content, out),
            "terminal" => {
                let mut code: Vec<String> = opts
                    .iter()
                    .filter(|(k, _)| k == "input")
                    .map(|(_, v)| format!("$ {v}"))
                    .collect();
                code.extend(content.iter().skip_while(|l| l.trim().is_empty()).cloned());
                push_fence(out, "", &code);
            }
            "code-block" | "code" | "sourcecode" => push_fence(out, arg, content),
            "versionadded" | "versionchanged" | "deprecated" => {
                let what = match name {
                    "versionadded" => "Added in version",
                    "versionchanged" => "Changed in version",
                    _ => "Deprecated since version",
                };
                out.push(format!("*{what} {arg}.*"));
                out.push(String::new());
                self.lines(content, out);
            }
            "figure" => self.lines(content, out),
            "toctree" | "image" | "youtube" | "raw" | "eval-rst" | "spelling:ignore"
            | "include" | "literalinclude" => {
                if let (Some(t), "youtube") = (opt("title"), name) {
                    out.push(format!("Video: {t}"));
                }
            }
            _ => self.lines(content, out),
        }
    }

    fn config_option(
        &mut self,
        arg: &str,
        opts: &[(String, String)],
        content: &[String],
        out: &mut Vec<String>,
    ) {
        let mut parts = arg.split_whitespace();
        let key = parts.next().unwrap_or_default();
        let group = parts.next().unwrap_or_default();
        let anchor = if group.is_empty() {
            key.to_string()
        } else {
            format!("{group}:{key}")
        };
        let level = (self.section_level + 1).clamp(2, 6) as usize;
        out.push(String::new());
        out.push(format!(
            "{} {key} {{#{anchor} .{CONFIG_OPTION_CLASS}}}",
            "#".repeat(level)
        ));
        out.push(String::new());
        let value = |k: &str| {
            opts.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| unquote(v))
                .filter(|v| !v.is_empty())
        };
        if let Some(s) = value("shortdesc") {
            out.push(self.inline(&s));
            out.push(String::new());
        }
        out.push(format!("- Key: `{key}`"));
        for (field, label) in [
            ("type", "Type"),
            ("default", "Default"),
            ("defaultdesc", "Default"),
            ("initialvaluedesc", "Initial value"),
            ("liveupdate", "Live update"),
            ("condition", "Condition"),
            ("scope", "Scope"),
            ("required", "Required"),
            ("managed", "Managed"),
            ("resource", "Resource"),
            ("readonly", "Read-only"),
        ] {
            if let Some(v) = value(field) {
                out.push(format!("- {label}: {}", self.inline(&v)));
            }
        }
        out.push(String::new());
        self.lines(content, out);
    }
}

fn push_fence(out: &mut Vec<String>, lang: &str, code: &[String]) {
    let mut ticks = "```".to_string();
    while code.iter().any(|l| l.trim_start().starts_with(&ticks)) {
        ticks.push('`');
    }
    out.push(format!("{ticks}{lang}"));
    let trimmed_end = code
        .iter()
        .rposition(|l| !l.trim().is_empty())
        .map_or(0, |i| i + 1);
    out.extend(code[..trimmed_end].iter().cloned());
    out.push(ticks);
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    let inner = v
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(v);
    inner.replace("\\\"", "\"")
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
