//! Writing markdown: the one place fences, code spans, escapes and tables are made, for the
//! HTML renderer, the MyST renderer and the installation snapshot.

/// A fenced code block, its fence longer than any run of backticks inside.
pub fn fence(lang: &str, code: &str) -> String {
    let mut ticks = "```".to_string();
    while code.contains(&ticks) {
        ticks.push('`');
    }
    format!("{ticks}{lang}\n{}\n{ticks}", code.trim_end_matches('\n'))
}

/// An inline code span.
pub fn code_span(s: &str) -> String {
    if s.is_empty() {
        return String::new();
    }
    if s.contains('`') {
        format!("`` {s} ``")
    } else {
        format!("`{s}`")
    }
}

/// Appends a block after a blank line (nothing for an empty block).
pub fn push_block(out: &mut String, block: &str) {
    let block = block.trim_matches('\n');
    if block.trim().is_empty() {
        return;
    }
    if !out.is_empty() {
        out.push_str("\n\n");
    }
    out.push_str(block);
}

/// Escapes what would otherwise turn plain text into markdown syntax.
pub fn escape_text(t: &str) -> String {
    let t = crate::util::text::normalize_quotes(t);
    let mut out = String::with_capacity(t.len());
    let mut prev: Option<char> = None;
    for c in t.chars() {
        match c {
            '\\' | '`' | '*' | '[' | ']' | '<' | '>' | '|' => {
                out.push('\\');
                out.push(c);
            }
            '_' if !prev.is_some_and(char::is_alphanumeric) => out.push_str("\\_"),
            _ => out.push(c),
        }
        prev = Some(c);
    }
    out
}

/// Escapes `|` that is not escaped yet (code spans inside table cells).
pub fn escape_pipes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev = ' ';
    for c in s.chars() {
        if c == '|' && prev != '\\' {
            out.push('\\');
        }
        out.push(c);
        prev = c;
    }
    out
}

/// Plain text of escaped markdown (backslashes and backticks removed).
pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut esc = false;
    for c in s.chars() {
        if c == '\\' && !esc {
            esc = true;
            continue;
        }
        esc = false;
        out.push(c);
    }
    out.replace('`', "")
}

/// A table: a header row, a separator, then the rows; `|` in cells escaped, newlines folded.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!(
        "| {} |\n|{}\n",
        header.join(" | "),
        " --- |".repeat(header.len())
    );
    for r in rows {
        let mut cells: Vec<String> = r
            .iter()
            .map(|c| escape_pipes(&c.replace('\n', " ")))
            .collect();
        cells.resize(header.len().max(cells.len()), String::new());
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_spans_escapes_and_tables() {
        assert_eq!(fence("sh", "a ``` b\n"), "````sh\na ``` b\n````");
        assert_eq!(code_span("a`b"), "`` a`b ``");
        assert_eq!(escape_text("a_b *x* <y>"), "a_b \\*x\\* \\<y\\>");
        assert_eq!(unescape("\\*x\\* `k`"), "*x* k");
        assert_eq!(
            table(&["K", "V"], &[vec!["a|b".into(), "c\nd".into()]]),
            "| K | V |\n| --- | --- |\n| a\\|b | c d |\n"
        );
        let mut out = String::new();
        push_block(&mut out, "one");
        push_block(&mut out, "\n\n");
        push_block(&mut out, "two");
        assert_eq!(out, "one\n\ntwo");
    }
}
