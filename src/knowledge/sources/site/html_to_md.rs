//! The HTML-to-markdown renderer of a docs article: headings with their section anchors,
//! prose, code and terminal blocks, tables, admonitions, every tab panel and configuration
//! options. Recursion is depth-limited (deeper parts become plain text) and every page gets a
//! work budget proportional to its size, so no arrangement of elements costs more than linear
//! time.

use std::collections::HashMap;

use scraper::{ElementRef, Html, Node};

use crate::knowledge::document::CONFIG_OPTION_CLASS;
use crate::knowledge::markdown::{
    code_span, escape_pipes, escape_text, fence, push_block, unescape,
};

/// Below this depth the article is flattened to plain text instead of rendered.
const MAX_RENDER_DEPTH: usize = 64;

/// Renders `article` of `doc`: the page title (its first heading) and the markdown body.
pub fn render_article(doc: &Html, article: ElementRef) -> (Option<String>, String) {
    let mut r = Renderer {
        budget: 4 * doc.tree.nodes().count() + 1000,
        ..Renderer::default()
    };
    let body = r.blocks(article, 0);
    (r.title, body)
}

/// Whether `el` is the nearest ancestor of `node` that `is_owner` accepts: `node` belongs to
/// `el` and not to one of the same kind nested inside it.
fn owned_by(node: ElementRef, el: ElementRef, is_owner: impl Fn(&ElementRef) -> bool) -> bool {
    node.ancestors()
        .filter_map(ElementRef::wrap)
        .find(|a| *a == el || is_owner(a))
        .is_some_and(|a| a == el)
}

pub fn text_of(el: ElementRef) -> String {
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

fn flush(out: &mut String, para: &mut String) {
    let p = collapse(para);
    para.clear();
    push_block(out, &p);
}

fn collapse(s: &str) -> String {
    crate::util::text::collapse_ws(s)
}
