//! Turns one page of the Sphinx/Furo docs site into a normalized page.
//!
//! Only `<article role="main">` is kept: headings with their section anchors, prose, code
//! blocks, terminal blocks, tables, admonitions, every tab panel and configuration options.
//! Header links, navigation, the table of contents and footers are dropped.

use std::collections::HashMap;
use std::sync::LazyLock;

use scraper::{ElementRef, Html, Node, Selector};
use url::Url;

use crate::knowledge::document::{CONFIG_OPTION_CLASS, PageMeta};

/// What one fetched HTML page yields.
#[derive(Debug, Clone)]
pub struct Extracted {
    /// The normalized page, or `None` when the page has no article (a redirect stub).
    pub markdown: Option<String>,
    /// `doc/`-relative source path from the "View this page" link, when present.
    pub doc_path: Option<String>,
    /// The "View this page" link, when it names no plain path under the site's `_sources/`
    /// (`../` runs, absolute paths, another site): such a page is not mirrored.
    pub unsafe_source: Option<String>,
    /// Absolute links found anywhere on the page (navigation included), fragments removed.
    pub links: Vec<Url>,
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).expect("static selector")
}

static ARTICLE: LazyLock<Selector> = LazyLock::new(|| sel(r#"article[role="main"]"#));
static LINKS: LazyLock<Selector> = LazyLock::new(|| sel("a[href]"));
static OG_URL: LazyLock<Selector> = LazyLock::new(|| sel(r#"meta[property="og:url"]"#));
static CANONICAL: LazyLock<Selector> = LazyLock::new(|| sel(r#"link[rel="canonical"]"#));
static REFRESH: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r#"(?i)<meta[^>]+http-equiv=["']?refresh["']?[^>]*content=["']([^"']+)["']"#)
        .expect("static regex")
});
static TITLE: LazyLock<Selector> = LazyLock::new(|| sel("head > title"));
static VIEW_SOURCE: LazyLock<Selector> = LazyLock::new(|| sel(".view-this-page"));

/// Deepest element nesting a page may have. Sphinx pages nest about 20 deep; an HTML parser
/// does work proportional to the depth for each element, so a page nested thousands deep
/// would cost quadratic time before anything else could look at it.
pub const MAX_NESTING: usize = 512;
/// Below this depth the article is flattened to plain text instead of rendered.
const MAX_RENDER_DEPTH: usize = 64;

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

/// Extracts the article and the links of a page fetched from `page_url`. `None` when the page
/// nests deeper than [`MAX_NESTING`] (it is not a docs page, and parsing it would not end).
pub fn extract(html: &str, page_url: &Url) -> Option<Extracted> {
    if nesting_depth(html) > MAX_NESTING {
        return None;
    }
    Some(extract_parsed(html, page_url))
}

fn extract_parsed(html: &str, page_url: &Url) -> Extracted {
    let doc = Html::parse_document(html);
    let mut links = Vec::new();
    for a in doc.select(&LINKS) {
        if let Some(u) = a.value().attr("href").and_then(|h| page_url.join(h).ok()) {
            links.push(u);
        }
    }
    // A redirect stub (its <meta> may sit inside <noscript>, which parses as text).
    for c in REFRESH.captures_iter(html) {
        if let Some(target) = refresh_target(&c[1])
            && let Ok(u) = page_url.join(target)
        {
            links.push(u);
        }
    }
    for u in &mut links {
        u.set_fragment(None);
    }

    // The first "View this page" box only, and its links by walking down from it: a selector
    // with a descendant combinator walks every link's ancestors, quadratic on nested pages.
    let source_link = doc.select(&VIEW_SOURCE).next().and_then(|view| {
        view.descendants()
            .filter_map(ElementRef::wrap)
            .filter(|e| e.value().name() == "a")
            .find_map(|a| a.value().attr("href"))
    });
    let (doc_path, unsafe_source) = match source_link.map(|h| source_path_from_link(h, page_url)) {
        Some(SourceLink::Path(p)) => (Some(p), None),
        Some(SourceLink::Unsafe(h)) => (None, Some(h)),
        Some(SourceLink::NotSource) | None => (None, None),
    };

    let Some(article) = doc.select(&ARTICLE).next() else {
        return Extracted {
            markdown: None,
            doc_path,
            unsafe_source,
            links,
        };
    };

    let canonical = doc
        .select(&OG_URL)
        .filter_map(|m| m.value().attr("content"))
        .chain(
            doc.select(&CANONICAL)
                .filter_map(|m| m.value().attr("href")),
        )
        .find_map(|u| Url::parse(u).ok())
        .unwrap_or_else(|| page_url.clone());

    let mut r = Renderer {
        budget: 4 * doc.tree.nodes().count() + 1000,
        ..Renderer::default()
    };
    let body = r.blocks(article, 0);
    let title = r.title.clone().unwrap_or_else(|| {
        doc.select(&TITLE)
            .next()
            .map(|t| {
                text_of(t)
                    .split(" - ")
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_string()
            })
            .unwrap_or_default()
    });
    let meta = PageMeta {
        title,
        url: canonical.to_string(),
        doc_path: doc_path.clone(),
    };
    Extracted {
        markdown: Some(format!("{}{}\n", meta.front_matter(), body.trim())),
        doc_path,
        unsafe_source,
        links,
    }
}

/// `0; url=../instances_backup/` → `../instances_backup/`
fn refresh_target(content: &str) -> Option<&str> {
    let lower = content.to_ascii_lowercase();
    let i = lower.find("url=")?;
    Some(
        content[i + 4..]
            .trim()
            .trim_matches(|c| c == '\'' || c == '"'),
    )
}

/// What a "View this page" link names.
#[derive(Debug, PartialEq)]
enum SourceLink {
    /// A markdown source under the site's `_sources/`: its `doc/`-relative path.
    Path(String),
    /// A link that tries to name a file elsewhere.
    Unsafe(String),
    /// Not a link to a markdown source at all.
    NotSource,
}

/// `../../_sources/howto/cluster_manage.md.txt` → `howto/cluster_manage.md`. The link is
/// resolved against the page (entities are already decoded, `..` runs collapsed by the URL
/// parser), must stay on the page's site, and what follows `_sources/` (percent-decoded) must
/// be a plain relative path: it becomes a file name in the mirror.
fn source_path_from_link(href: &str, page_url: &Url) -> SourceLink {
    if !href.contains("_sources") && !href.contains(".md") {
        return SourceLink::NotSource;
    }
    let unsafe_link = || SourceLink::Unsafe(crate::util::out::one_line(href));
    let Ok(u) = page_url.join(href) else {
        return unsafe_link();
    };
    if u.scheme() != page_url.scheme() || u.host() != page_url.host() || u.port() != page_url.port()
    {
        return unsafe_link();
    }
    let path = u.path();
    let Some(i) = path.find("/_sources/") else {
        return unsafe_link();
    };
    let raw = &path[i + "/_sources/".len()..];
    let Ok(decoded) = percent_encoding::percent_decode_str(raw).decode_utf8() else {
        return unsafe_link();
    };
    match decoded.strip_suffix(".txt") {
        Some(p) if p.ends_with(".md") && crate::util::fsx::is_normal_relative(p) => {
            SourceLink::Path(p.to_string())
        }
        _ => unsafe_link(),
    }
}

/// Whether `el` is the nearest ancestor of `node` that `is_owner` accepts: `node` belongs to
/// `el` and not to one of the same kind nested inside it.
fn owned_by(node: ElementRef, el: ElementRef, is_owner: impl Fn(&ElementRef) -> bool) -> bool {
    node.ancestors()
        .filter_map(ElementRef::wrap)
        .find(|a| *a == el || is_owner(a))
        .is_some_and(|a| a == el)
}

fn text_of(el: ElementRef) -> String {
    el.text().collect::<String>()
}

fn has_class(el: &ElementRef, class: &str) -> bool {
    el.value().classes().any(|c| c == class)
}

/// Elements whose content is never article text.
fn skipped(el: &ElementRef) -> bool {
    let name = el.value().name();
    matches!(
        name,
        "script"
            | "style"
            | "svg"
            | "img"
            | "button"
            | "iframe"
            | "noscript"
            | "form"
            | "input"
            | "hr"
    ) || [
        "headerlink",
        "anchor",
        "icon",
        "toctree-wrapper",
        "fn-bracket",
    ]
    .iter()
    .any(|c| has_class(el, c))
        || el.value().attr("role") == Some("tablist")
}

fn is_block(el: &ElementRef) -> bool {
    matches!(
        el.value().name(),
        "section"
            | "div"
            | "p"
            | "pre"
            | "ul"
            | "ol"
            | "li"
            | "table"
            | "dl"
            | "dt"
            | "dd"
            | "blockquote"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "figure"
            | "figcaption"
            | "aside"
            | "details"
            | "summary"
    )
}

#[derive(Default)]
struct Renderer {
    title: Option<String>,
    /// Elements being rendered above the current one.
    depth: usize,
    /// Elements left to render; each page gets a budget proportional to its size, so no
    /// arrangement of elements can make rendering cost more than linear time.
    budget: usize,
}

impl Renderer {
    /// Runs `f` one level deeper; past [`MAX_RENDER_DEPTH`] the element becomes its plain text
    /// (gathered without recursion), so no page can exhaust the stack.
    fn nested(&mut self, el: ElementRef, f: impl FnOnce(&mut Self) -> String) -> String {
        if self.budget == 0 {
            return String::new();
        }
        self.budget -= 1;
        if self.depth >= MAX_RENDER_DEPTH {
            return escape_text(&collapse(&text_of(el)));
        }
        self.depth += 1;
        let out = f(self);
        self.depth -= 1;
        out
    }

    /// Renders the children of `el` as markdown blocks; `level` is the current section depth.
    fn blocks(&mut self, el: ElementRef, level: u8) -> String {
        self.nested(el, |r| r.blocks_inner(el, level))
    }

    fn blocks_inner(&mut self, el: ElementRef, level: u8) -> String {
        let mut out = String::new();
        let mut para = String::new();
        let mut heading_done = false;
        for child in el.children() {
            match child.value() {
                Node::Text(t) => para.push_str(&escape_text(t)),
                Node::Element(_) => {
                    let c = ElementRef::wrap(child).expect("element");
                    if skipped(&c) {
                        continue;
                    }
                    if !is_block(&c) {
                        para.push_str(&self.inline(c));
                        continue;
                    }
                    flush(&mut out, &mut para);
                    let name = c.value().name();
                    if name.len() == 2 && name.starts_with('h') && !heading_done {
                        heading_done = true;
                        let anchor = (el.value().name() == "section")
                            .then(|| el.value().id())
                            .flatten();
                        let title = collapse(&self.inline(c));
                        if level <= 1 && self.title.is_none() {
                            self.title = Some(unescape(&title));
                        }
                        let hashes = "#".repeat(level.clamp(1, 6) as usize);
                        match anchor {
                            Some(a) => push_block(&mut out, &format!("{hashes} {title} {{#{a}}}")),
                            None => push_block(&mut out, &format!("{hashes} {title}")),
                        }
                    } else {
                        let block = self.block(c, level);
                        push_block(&mut out, &block);
                    }
                }
                _ => {}
            }
        }
        flush(&mut out, &mut para);
        out
    }

    fn block(&mut self, el: ElementRef, level: u8) -> String {
        self.nested(el, |r| r.block_inner(el, level))
    }

    fn block_inner(&mut self, el: ElementRef, level: u8) -> String {
        let name = el.value().name();
        if name == "section" {
            return self.blocks(el, level + 1);
        }
        if has_class(&el, "configoption") {
            return self.config_option(el, level);
        }
        if has_class(&el, "terminal") {
            return terminal(el);
        }
        if has_class(&el, "sphinx-tabs") {
            return self.tabs(el, level);
        }
        if has_class(&el, "admonition-title") {
            return format!("**{}:**", collapse(&self.inline(el)));
        }
        if let Some(lang) = el
            .value()
            .classes()
            .find_map(|c| c.strip_prefix("highlight-"))
        {
            return code_block(el, lang);
        }
        match name {
            "pre" => fence("", &text_of(el)),
            "p" | "dt" | "summary" | "figcaption" => {
                let t = collapse(&self.inline(el));
                if name == "dt" || name == "summary" {
                    format!("**{t}**")
                } else {
                    t
                }
            }
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                format!("**{}**", collapse(&self.inline(el)))
            }
            "ul" | "ol" => self.list(el, level, name == "ol"),
            "table" => self.table(el),
            _ => self.blocks(el, level),
        }
    }

    fn inline(&mut self, el: ElementRef) -> String {
        self.nested(el, |r| r.inline_inner(el))
    }

    fn inline_inner(&mut self, el: ElementRef) -> String {
        let name = el.value().name();
        if name == "code" || name == "kbd" || name == "samp" {
            return code_span(&collapse(&text_of(el)));
        }
        let mut s = String::new();
        for child in el.children() {
            match child.value() {
                Node::Text(t) => s.push_str(&escape_text(t)),
                Node::Element(e) => {
                    let c = ElementRef::wrap(child).expect("element");
                    if skipped(&c) {
                        continue;
                    }
                    if e.name() == "br" {
                        s.push(' ');
                    } else {
                        s.push_str(&self.inline(c));
                    }
                }
                _ => {}
            }
        }
        match name {
            "strong" | "b" if !s.trim().is_empty() => format!("**{}**", s.trim()),
            "em" | "i" if !s.trim().is_empty() => format!("*{}*", s.trim()),
            "abbr" => match el.value().attr("title") {
                Some(t) => format!("{s} ({})", escape_text(t)),
                None => s,
            },
            _ => s,
        }
    }

    fn list(&mut self, el: ElementRef, level: u8, ordered: bool) -> String {
        let mut out = String::new();
        let mut n = 0;
        for li in el.child_elements().filter(|c| c.value().name() == "li") {
            n += 1;
            let marker = if ordered {
                format!("{n}. ")
            } else {
                "- ".to_string()
            };
            let body = self.blocks(li, level);
            let indent = " ".repeat(marker.len());
            for (i, line) in body.trim().lines().enumerate() {
                if i == 0 {
                    out.push_str(&marker);
                } else if !line.is_empty() {
                    out.push_str(&indent);
                }
                out.push_str(line);
                out.push('\n');
            }
            if body.trim().is_empty() {
                out.push_str(marker.trim_end());
                out.push('\n');
            }
        }
        out
    }

    fn table(&mut self, el: ElementRef) -> String {
        let mut rows: Vec<Vec<String>> = Vec::new();
        // This table's rows only: a nested table is rendered where its cell is, once.
        for tr in el.descendants().filter_map(ElementRef::wrap) {
            if tr.value().name() != "tr" || !owned_by(tr, el, |e| e.value().name() == "table") {
                continue;
            }
            let cells: Vec<String> = tr
                .child_elements()
                .filter(|c| matches!(c.value().name(), "td" | "th"))
                .map(|c| escape_pipes(&collapse(&self.blocks(c, 6))))
                .collect();
            if !cells.is_empty() {
                rows.push(cells);
            }
        }
        let Some(width) = rows.iter().map(Vec::len).max() else {
            return String::new();
        };
        let mut out = String::new();
        for (i, row) in rows.iter().enumerate() {
            let mut cells = row.clone();
            cells.resize(width, String::new());
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
            if i == 0 {
                out.push_str(&format!("|{}\n", " --- |".repeat(width)));
            }
        }
        out
    }

    fn tabs(&mut self, el: ElementRef, level: u8) -> String {
        let labels: HashMap<String, String> = el
            .descendants()
            .filter_map(ElementRef::wrap)
            .filter(|b| b.value().attr("role") == Some("tab"))
            .filter_map(|b| Some((b.value().id()?.to_string(), collapse(&text_of(b)))))
            .collect();
        let mut out = String::new();
        for panel in el
            .descendants()
            .filter_map(ElementRef::wrap)
            .filter(|p| p.value().attr("role") == Some("tabpanel"))
            .filter(|p| owned_by(*p, el, |e| has_class(e, "sphinx-tabs")))
        {
            if let Some(label) = panel
                .value()
                .attr("aria-labelledby")
                .and_then(|id| labels.get(id))
            {
                push_block(&mut out, &format!("**{label}:**"));
            }
            push_block(&mut out, &self.blocks(panel, level));
        }
        out
    }

    fn config_option(&mut self, el: ElementRef, level: u8) -> String {
        let id = el.value().id().unwrap_or_default().to_string();
        let mut key = String::new();
        let mut shortdesc = String::new();
        let mut fields = String::new();
        let mut details = String::new();
        let own = |part: ElementRef| owned_by(part, el, |e| has_class(e, "configoption"));
        for part in el.descendants().filter_map(ElementRef::wrap) {
            if !own(part) {
                continue;
            }
            if has_class(&part, "key") && key.is_empty() {
                key = collapse(&text_of(part));
            } else if has_class(&part, "shortdesc") && shortdesc.is_empty() {
                shortdesc = collapse(&self.inline(part));
            } else if has_class(&part, "details") {
                for d in part.child_elements() {
                    if has_class(&d, "fields") {
                        for tr in d.descendants().filter_map(ElementRef::wrap) {
                            // Rows of the fields table itself, not of tables inside it.
                            let tables = tr
                                .ancestors()
                                .filter_map(ElementRef::wrap)
                                .take_while(|a| *a != d)
                                .filter(|a| a.value().name() == "table")
                                .count()
                                + usize::from(d.value().name() == "table");
                            if tr.value().name() != "tr" || tables != 1 {
                                continue;
                            }
                            let cells: Vec<String> = tr
                                .child_elements()
                                .map(|c| collapse(&self.inline(c)))
                                .collect();
                            if let [name, value] = cells.as_slice() {
                                let name = name.trim_matches('*').trim().trim_end_matches(':');
                                fields.push_str(&format!("- {name}: {value}\n"));
                            }
                        }
                    } else {
                        push_block(&mut details, &self.block(d, 6));
                    }
                }
            }
        }
        let hashes = "#".repeat((level + 1).clamp(2, 6) as usize);
        let mut out = format!("{hashes} {key} {{#{id} .{CONFIG_OPTION_CLASS}}}\n\n");
        push_block(&mut out, &shortdesc);
        push_block(&mut out, &fields);
        push_block(&mut out, &details);
        out
    }
}

fn terminal(el: ElementRef) -> String {
    let mut lines = Vec::new();
    for part in el.descendants().filter_map(ElementRef::wrap) {
        if has_class(&part, "command") {
            lines.push(format!("$ {}", collapse(&text_of(part))));
        } else if part.value().name() == "pre" {
            let t = text_of(part);
            if !t.trim().is_empty() {
                lines.push(t.trim_end().to_string());
            }
        }
    }
    fence("", &lines.join("\n"))
}

fn code_block(el: ElementRef, lang: &str) -> String {
    let text = el
        .descendants()
        .filter_map(ElementRef::wrap)
        .find(|p| p.value().name() == "pre")
        .map(text_of)
        .unwrap_or_else(|| text_of(el));
    let lang = match lang.split_whitespace().next().unwrap_or("") {
        "none" | "default" | "text" => "",
        l => l,
    };
    fence(lang, &text)
}

fn fence(lang: &str, code: &str) -> String {
    let mut ticks = "```".to_string();
    while code.contains(&ticks) {
        ticks.push('`');
    }
    format!("{ticks}{lang}\n{}\n{ticks}", code.trim_end_matches('\n'))
}

fn code_span(s: &str) -> String {
    if s.is_empty() {
        return String::new();
    }
    if s.contains('`') {
        format!("`` {s} ``")
    } else {
        format!("`{s}`")
    }
}

fn push_block(out: &mut String, block: &str) {
    let block = block.trim_matches('\n');
    if block.trim().is_empty() {
        return;
    }
    if !out.is_empty() {
        out.push_str("\n\n");
    }
    out.push_str(block);
}

fn flush(out: &mut String, para: &mut String) {
    let p = collapse(para);
    para.clear();
    push_block(out, &p);
}

fn collapse(s: &str) -> String {
    crate::util::text::collapse_ws(s)
}


/// Escapes what would otherwise turn plain text into markdown syntax.
fn escape_text(t: &str) -> String {
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
fn escape_pipes(s: &str) -> String {
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

fn unescape(s: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::document::Page;

    const HTML: &str = r##"<!doctype html><html><head><title>How to manage a cluster - Incus documentation</title>
<meta property="og:url" content="https://linuxcontainers.org/incus/docs/main/howto/cluster_manage/"></head>
<body><aside class="sidebar-drawer"><a href="../../faq/">FAQ</a></aside>
<article role="main" id="furo-main-content">
<section id="cluster-manage"><span id="how-to"></span><h1>How to manage a cluster<a class="headerlink" href="#cluster-manage">¶</a></h1>
<p>Use <code class="docutils literal"><span class="pre">incus</span> <span class="pre">cluster</span> <span class="pre">list</span></code> to see members &lt;name&gt;.</p>
<div class="admonition note"><p class="admonition-title">Note</p><p>Don’t panic.</p></div>
<section id="deal-with-offline-cluster-members"><h2>Deal with offline members<a class="headerlink" href="#x">¶</a></h2>
<div class="terminal docutils container"><div class="input"><div class="prompt"><code>user@host:~$</code></div><code class="command docutils literal"><span class="pre">incus</span> <span class="pre">cluster</span> <span class="pre">remove</span> <span class="pre">--force</span> <span class="pre">m2</span></code></div><div class="terminal-code highlight-text"><div class="highlight"><pre>done</pre></div></div></div>
<div class="sphinx-tabs docutils container"><div role="tablist"><button role="tab" id="tab-0-0">CLI</button><button role="tab" id="tab-0-1">API</button></div>
<div role="tabpanel" aria-labelledby="tab-0-0"><p>cli text</p></div><div role="tabpanel" aria-labelledby="tab-0-1" hidden="true"><div class="highlight-bash notranslate"><div class="highlight"><pre>curl -X DELETE x</pre></div></div></div></div>
<table class="docutils"><thead><tr><th>Key</th><th>Value</th></tr></thead><tbody><tr><td>a|b</td><td><p>c</p></td></tr></tbody></table>
<div class="configoption docutils container" id="server-cluster:cluster.offline_threshold"><div class="basicinfo"><span class="key"><code><span class="pre">cluster.offline_threshold</span></code></span><span class="shortdesc"><p>Threshold when an unresponsive member is considered offline</p></span><span class="anchor"><a href="#x"><i class="icon"><svg></svg></i></a></span></div>
<div class="details"><div class="table-wrapper fields"><table class="fields"><tbody><tr><td><strong>Key: </strong></td><td><code>cluster.offline_threshold</code></td></tr><tr><td><strong>Type: </strong></td><td><p>integer</p></td></tr></tbody></table></div><p>Specify the value in seconds.</p></div></div>
</section></section></article>
<footer><a class="next-page" href="../cluster_recover/">Next</a><div class="view-this-page"><a class="muted-link" href="../../_sources/howto/cluster_manage.md.txt">View</a></div></footer></body></html>"##;

    #[test]
    fn extracts_article_with_anchors_terminal_tabs_tables_and_config_options() {
        let url = Url::parse("http://127.0.0.1:1/incus/docs/main/howto/cluster_manage/").unwrap();
        let ex = extract(HTML, &url).unwrap();
        assert_eq!(ex.doc_path.as_deref(), Some("howto/cluster_manage.md"));
        assert!(ex.links.iter().any(|l| l.path() == "/incus/docs/main/faq/"));
        assert!(
            ex.links
                .iter()
                .any(|l| l.path() == "/incus/docs/main/howto/cluster_recover/")
        );
        let md = ex.markdown.unwrap();
        assert!(!md.contains('¶'), "{md}");
        assert!(!md.contains("Next"), "footer leaked: {md}");
        let page = Page::parse(&md);
        assert_eq!(
            page.meta.url,
            "https://linuxcontainers.org/incus/docs/main/howto/cluster_manage/"
        );
        assert_eq!(page.meta.title, "How to manage a cluster");
        let s0 = &page.sections[0];
        assert!(
            s0.text
                .contains("incus cluster list to see members <name>."),
            "{}",
            s0.text
        );
        assert!(s0.text.contains("Note: Don't panic."), "{}", s0.text);
        let s1 = &page.sections[1];
        assert_eq!(
            s1.anchor.as_deref(),
            Some("deal-with-offline-cluster-members")
        );
        assert!(
            s1.code.contains("$ incus cluster remove --force m2\ndone"),
            "{}",
            s1.code
        );
        assert!(s1.text.contains("CLI: cli text API:"), "{}", s1.text);
        assert!(s1.code.contains("curl -X DELETE x"));
        assert!(s1.markdown.contains("| a\\|b | c |"), "{}", s1.markdown);
        let s2 = &page.sections[2];
        assert_eq!(s2.keys, vec!["cluster.offline_threshold"]);
        assert_eq!(
            s2.anchor.as_deref(),
            Some("server-cluster:cluster.offline_threshold")
        );
        assert!(s2.text.contains("Threshold when an unresponsive member"));
        assert!(s2.text.contains("Type: integer"), "{}", s2.text);
        assert!(s2.text.contains("Specify the value in seconds."));
    }

    #[test]
    fn redirect_stubs_have_no_article_but_give_their_target() {
        let url = Url::parse("http://h/docs/howto/instances_snapshots/").unwrap();
        let ex = extract(
            r#"<html><head><noscript><meta http-equiv="refresh" content="0; url=../instances_backup/" /></noscript></head></html>"#,
            &url,
        )
        .unwrap();
        assert!(ex.markdown.is_none());
        assert_eq!(
            ex.links[0].as_str(),
            "http://h/docs/howto/instances_backup/"
        );
    }
}
