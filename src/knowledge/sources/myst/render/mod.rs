//! Renders MyST (after include expansion) into the normalized markdown of
//! [`crate::knowledge::document`]: directives unwrapped, roles resolved, headings given the anchors
//! Sphinx gives them, configuration options turned into `config-option` headings.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use regex::{Captures, Regex};

mod directives;
mod roles;
pub use roles::plain_roles;

use super::fence::{Fence, FenceTracker, LineKind, dedent};
use roles::plain_title;

/// Titles of labels and pages across the whole docs tree, for `{ref}` and `{doc}` roles.
#[derive(Debug, Default, Clone)]
pub struct Catalog {
    /// `(label)=` target → title of the heading it marks.
    pub labels: HashMap<String, String>,
    /// `doc/`-relative path without `.md` → page title.
    pub pages: HashMap<String, String>,
}

static ROLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{([A-Za-z0-9_:+-]+)\}`([^`]*)`").expect("static regex"));
static LABEL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\(([^()\s]+)\)=\s*$").expect("static regex"));
static HEADING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$").expect("static regex"));
static COMMENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?s)<!--.*?-->").expect("static regex"));
static TARGET: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(.*?)\s*<([^<>]+)>$").expect("static regex"));

const ADMONITIONS: &[&str] = &[
    "note",
    "tip",
    "important",
    "warning",
    "caution",
    "attention",
    "danger",
    "error",
    "hint",
    "seealso",
    "admonition",
];

/// Labels and the page title of one (include-expanded) page, for the catalog.
pub fn scan_labels(text: &str) -> (Option<String>, Vec<(String, String)>) {
    let mut title = None;
    let mut labels = Vec::new();
    let mut pending: Vec<String> = Vec::new();
    let mut fences = FenceTracker::default();
    for line in text.lines() {
        if fences.feed(line) != LineKind::Text {
            continue;
        }
        if let Some(c) = LABEL.captures(line) {
            pending.push(c[1].to_string());
        } else if let Some(c) = HEADING.captures(line) {
            let t = plain_title(&c[2]);
            if title.is_none() && c[1].len() == 1 {
                title = Some(t.clone());
            }
            for l in pending.drain(..) {
                labels.push((l, t.clone()));
            }
        } else if !line.trim().is_empty() {
            pending.clear();
        }
    }
    (title, labels)
}

/// The anchor docutils gives a section without a label.
pub fn docutils_id(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-');
    out.trim_start_matches(|c: char| c.is_ascii_digit() || c == '-')
        .to_string()
}

/// Renders one page. `doc_path` is its `doc/`-relative path.
pub struct Renderer<'a> {
    catalog: &'a Catalog,
    doc_path: &'a str,
    substitutions: &'a HashMap<String, String>,
    section_level: u8,
    pending_label: Option<String>,
    anchors: HashSet<String>,
    /// Next suffix to try per anchor base, so repeated headings cost constant time each.
    next_suffix: HashMap<String, usize>,
    /// Directives being rendered around the current line.
    depth: usize,
    /// The page title (first level-1 heading).
    pub title: Option<String>,
}

/// Directives nested deeper than this are rendered as plain text (Incus's docs nest about 3).
pub const MAX_DIRECTIVE_DEPTH: usize = 16;
/// Largest page after substitutions; beyond it, placeholders stay unexpanded.
pub const MAX_SUBSTITUTED_BYTES: usize = 16 << 20;

impl<'a> Renderer<'a> {
    /// A renderer for one page.
    pub fn new(
        catalog: &'a Catalog,
        doc_path: &'a str,
        substitutions: &'a HashMap<String, String>,
    ) -> Self {
        Renderer {
            catalog,
            doc_path,
            substitutions,
            section_level: 1,
            pending_label: None,
            anchors: HashSet::new(),
            next_suffix: HashMap::new(),
            depth: 0,
            title: None,
        }
    }

    /// Renders the whole (include-expanded) page body.
    pub fn render(&mut self, text: &str) -> String {
        let text = self.substitute(text);
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        let mut out = Vec::new();
        self.lines(&lines, &mut out);
        let mut s = String::new();
        let mut blank = true;
        for l in out {
            let is_blank = l.trim().is_empty();
            if is_blank && blank {
                continue;
            }
            blank = is_blank;
            s.push_str(l.trim_end());
            s.push('\n');
        }
        s
    }

    fn substitute(&self, text: &str) -> String {
        static SUB: LazyLock<Regex> =
            LazyLock::new(|| Regex::new(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}").expect("static regex"));
        if self.substitutions.is_empty() {
            return text.to_string();
        }
        let mut grown = text.len();
        SUB.replace_all(text, |c: &Captures| match self.substitutions.get(&c[1]) {
            Some(v) if grown + v.len() <= MAX_SUBSTITUTED_BYTES => {
                grown += v.len();
                v.clone()
            }
            _ => c[0].to_string(),
        })
        .into_owned()
    }

    fn lines(&mut self, lines: &[String], out: &mut Vec<String>) {
        let mut i = 0;
        while i < lines.len() {
            let line = &lines[i];
            if let Some(f) = Fence::parse(line) {
                let close = f.find_close(lines, i);
                let body_end = close.min(lines.len());
                // Unindented bodies are borrowed, not copied: nesting costs no memory per level.
                let dedented;
                let body: &[String] = if f.indent == 0 {
                    &lines[i + 1..body_end]
                } else {
                    dedented = dedent(&lines[i + 1..body_end], f.indent);
                    &dedented
                };
                match f.directive().filter(|_| self.depth < MAX_DIRECTIVE_DEPTH) {
                    Some((name, arg)) => {
                        let (name, arg) = (name.to_string(), arg.to_string());
                        let mut rendered = Vec::new();
                        self.depth += 1;
                        self.directive(&name, &arg, body, &mut rendered);
                        self.depth -= 1;
                        let pad = " ".repeat(f.indent);
                        out.push(String::new());
                        out.extend(rendered.into_iter().map(|l| format!("{pad}{l}")));
                        out.push(String::new());
                    }
                    None if f.directive().is_some() => {
                        // Too deep: the directive's lines are kept as text, not unwrapped.
                        out.extend(
                            lines[i..=close.min(lines.len() - 1)]
                                .iter()
                                .map(|l| self.inline(l.trim_start_matches([' ', '`', '~', ':']))),
                        );
                    }
                    None => {
                        out.extend(lines[i..=close.min(lines.len() - 1)].iter().cloned());
                        if close >= lines.len() {
                            out.push(f.ch.to_string().repeat(f.count).to_string());
                        }
                    }
                }
                i = close + 1;
                continue;
            }
            let trimmed = line.trim_start();
            if line.starts_with('%') {
                i += 1;
                continue;
            }
            if trimmed.starts_with("<!--") && !trimmed.contains("-->") {
                while i < lines.len() && !lines[i].contains("-->") {
                    i += 1;
                }
                i += 1;
                continue;
            }
            if let Some(c) = LABEL.captures(line) {
                self.pending_label = Some(c[1].to_string());
                i += 1;
                continue;
            }
            if let Some(c) = HEADING.captures(line) {
                let level = c[1].len() as u8;
                let text = self.inline(&c[2]);
                let title = plain_title(&c[2]);
                if level == 1 && self.title.is_none() {
                    self.title = Some(title.clone());
                }
                self.section_level = level;
                let anchor = self.anchor(&title);
                out.push(String::new());
                out.push(format!("{} {} {{#{anchor}}}", &c[1], text));
                out.push(String::new());
                i += 1;
                continue;
            }
            if !trimmed.is_empty() {
                self.pending_label = None;
            }
            out.push(self.inline(line));
            i += 1;
        }
    }

    fn anchor(&mut self, title: &str) -> String {
        let base = self
            .pending_label
            .take()
            .unwrap_or_else(|| docutils_id(title));
        let base = if base.is_empty() {
            "section".to_string()
        } else {
            base
        };
        if self.anchors.insert(base.clone()) {
            return base;
        }
        let n = self.next_suffix.entry(base.clone()).or_insert(1);
        loop {
            let anchor = format!("{base}-{n}");
            *n += 1;
            if self.anchors.insert(anchor.clone()) {
                return anchor;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::document::Page;

    fn render(src: &str) -> String {
        let mut catalog = Catalog::default();
        catalog
            .labels
            .insert("instances-limit-units".into(), "Units for limits".into());
        catalog.pages.insert(
            "howto/cluster_manage".into(),
            "How to manage a cluster".into(),
        );
        let subs = HashMap::from([("type".to_string(), "volume".to_string())]);
        Renderer::new(&catalog, "reference/x.md", &subs).render(src)
    }

    #[test]
    fn headings_take_labels_or_docutils_ids() {
        let md = render(
            "(cluster-manage)=\n# How to manage\n\nx\n\n## Deal with `offline` members\n\ny\n",
        );
        assert!(md.contains("# How to manage {#cluster-manage}"), "{md}");
        assert!(
            md.contains("## Deal with `offline` members {#deal-with-offline-members}"),
            "{md}"
        );
    }

    #[test]
    fn config_options_become_key_sections_with_fields() {
        let src = "## Resource limits\n\n```{config:option} limits.memory instance-resource-limits\n:defaultdesc: \"`1GiB` (VMs)\"\n:liveupdate: \"yes\"\n:shortdesc: \"Usage limit for the host's memory\"\n:type: \"string\"\nPercentage of the host's memory.\n\nSee {ref}`instances-limit-units` for details.\n```\n";
        let page = Page::parse(&render(src));
        let s = &page.sections[0];
        assert_eq!(s.keys, vec!["limits.memory"]);
        assert_eq!(
            s.anchor.as_deref(),
            Some("instance-resource-limits:limits.memory")
        );
        assert_eq!(s.level, 3);
        assert!(
            s.text.contains("Usage limit for the host's memory"),
            "{}",
            s.text
        );
        assert!(s.text.contains("Default: 1GiB (VMs)"), "{}", s.text);
        assert!(
            s.text.contains("See Units for limits for details."),
            "{}",
            s.text
        );
    }

    #[test]
    fn tabs_admonitions_terminals_roles_and_substitutions() {
        let src = "# T\n\n`````{tabs}\n````{group-tab} CLI\n```{note}\nUse {config:option}`server-core:core.https_address` and the {{type}}.\n```\n\n    incus storage create p dir\n````\n`````\n\n```{terminal}\n:input: incus cluster list\n\n+----+\n```\n\n% a comment\n<!-- hidden -->\nSee {doc}`../howto/cluster_manage` and {abbr}`ACME (Automatic Certificate Management Environment)`.\n\n```{toctree}\n:hidden:\nfoo\n```\n";
        let md = render(src);
        let page = Page::parse(&md);
        let s = &page.sections[0];
        assert!(
            s.text
                .contains("CLI: Note: Use core.https_address and the volume."),
            "{}",
            s.text
        );
        assert!(s.code.contains("incus storage create p dir"), "{}", s.code);
        assert!(
            s.code.contains("$ incus cluster list\n+----+"),
            "{}",
            s.code
        );
        assert!(
            s.text
                .contains("See How to manage a cluster and ACME (Automatic"),
            "{}",
            s.text
        );
        assert!(
            !md.contains("comment") && !md.contains("hidden") && !md.contains("foo"),
            "{md}"
        );
    }

    #[test]
    fn code_blocks_pass_through_untouched() {
        let md = render("# T\n\n```yaml\n# not a heading\n(x)=\n{ref}`y`\n```\n");
        assert!(
            md.contains("```yaml\n# not a heading\n(x)=\n{ref}`y`\n```"),
            "{md}"
        );
    }

    #[test]
    fn scan_finds_title_and_labels() {
        let (title, labels) =
            scan_labels("(a)=\n# Title `x`\n\n(b)=\n\n## Sub\n```\n(c)=\n## not\n```\n");
        assert_eq!(title.as_deref(), Some("Title x"));
        assert_eq!(
            labels,
            vec![("a".into(), "Title x".into()), ("b".into(), "Sub".into())]
        );
    }
}
