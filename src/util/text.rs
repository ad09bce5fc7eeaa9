//! Small text helpers shared across modules: one-line error chains, whitespace, quotes, and
//! defusing prompt tags.

/// An error and its sources on one line (`a: b: c`), each cause once.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        let t = inner.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = inner.source();
    }
    s.replace('\n', " ")
}

/// `s` as part of a file name: ASCII letters, digits and `-` kept, anything else `_`.
pub fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Collapses runs of whitespace into single spaces.
pub fn collapse_ws(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for w in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// Typographic quotes from docutils' smart quotes, mapped back to ASCII.
pub fn normalize_quotes(s: &str) -> String {
    s.replace(['\u{2019}', '\u{2018}'], "'")
        .replace(['\u{201c}', '\u{201d}'], "\"")
}

/// Tags of AIChat's RAG template (and the agent's data fence) that text from the docs must not
/// open or close: a page saying `</context>` would end the context early and speak as the
/// prompt itself.
const PROMPT_TAGS: &[&str] = &["context", "rules", "user_query", "data", "system"];

/// `text` with every opening or closing prompt tag defused (`</context>` → `<\/context>`).
pub fn defuse_prompt_tags(text: &str) -> std::borrow::Cow<'_, str> {
    static TAG: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(&format!(r"(?i)<(\s*/?\s*)({})\b", PROMPT_TAGS.join("|")))
            .expect("static regex")
    });
    TAG.replace_all(text, "<\\$1$2")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_tags_are_defused_whatever_their_spelling() {
        assert_eq!(
            defuse_prompt_tags("a </context> b <RULES> c < / Context > <data tool=x> <contexts>"),
            "a <\\/context> b <\\RULES> c <\\ / Context > <\\data tool=x> <contexts>"
        );
        assert_eq!(defuse_prompt_tags("x < y and <b>"), "x < y and <b>");
    }
}
