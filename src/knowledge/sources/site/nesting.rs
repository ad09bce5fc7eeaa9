//! How deep the elements of an HTML page nest, estimated in one pass over the text before the
//! page is parsed: an HTML parser spends time proportional to the depth on every element, so
//! a page nested thousands deep would take quadratic time before anything could refuse it.

/// Deepest element nesting a page may have. Sphinx pages nest about 20 deep; an HTML parser
/// does work proportional to the depth for each element, so a page nested thousands deep
/// would cost quadratic time before anything else could look at it.
pub const MAX_NESTING: usize = 512;

/// Elements that never hold content (no end tag).
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
];
/// Elements whose end tag is implied by a sibling (they do not nest in practice).
const IMPLIED_END: &[&str] = &[
    "p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "thead", "tbody", "tfoot", "rb",
    "rt", "rp", "rtc", "colgroup", "caption",
];

/// An upper estimate of how deep the elements of `html` nest, in one pass over the text:
/// start tags open, end tags close, void and self-closing tags do neither, and comments,
/// scripts and styles are skipped.
pub fn nesting_depth(html: &str) -> usize {
    let b = html.as_bytes();
    let (mut i, mut depth, mut max) = (0usize, 0usize, 0usize);
    while let Some(off) = memchr_lt(&b[i..]) {
        i += off + 1;
        if b[i..].starts_with(b"!--") {
            i = html[i..].find("-->").map_or(b.len(), |e| i + e + 3);
            continue;
        }
        let closing = b.get(i) == Some(&b'/');
        let start = i + usize::from(closing);
        let end = start
            + b[start..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == b'-')
                .count();
        if end == start {
            continue;
        }
        let name = html[start..end].to_ascii_lowercase();
        let tag_end = html[end..].find('>').map_or(b.len(), |e| end + e);
        let self_closing = tag_end > 0 && b.get(tag_end - 1) == Some(&b'/');
        i = tag_end.min(b.len());
        if VOID.contains(&name.as_str()) || IMPLIED_END.contains(&name.as_str()) {
            continue;
        }
        if closing {
            depth = depth.saturating_sub(1);
        } else if !self_closing {
            depth += 1;
            max = max.max(depth);
            if name == "script" || name == "style" {
                let close = format!("</{name}");
                i = find_ignore_case(&b[i..], close.as_bytes()).map_or(b.len(), |e| i + e);
            }
        }
    }
    max
}

fn memchr_lt(b: &[u8]) -> Option<usize> {
    b.iter().position(|c| *c == b'<')
}

fn find_ignore_case(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_estimated_in_one_pass() {
        assert_eq!(nesting_depth("<div><p>a<p>b</div>"), 1);
        assert_eq!(
            nesting_depth("<div><div><br><img src=x><span/></div></div>"),
            2
        );
        assert_eq!(nesting_depth("<ul><li>a<li>b</ul>"), 1);
        assert_eq!(
            nesting_depth("<!-- <div><div> --><script><div><div></script><b>"),
            1
        );
        assert_eq!(nesting_depth(&"<div>".repeat(10_000)), 10_000);
        assert_eq!(nesting_depth("<a <b <c"), 1);
    }
}
