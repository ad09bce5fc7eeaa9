//! The normalized page: what every source produces and every later stage reads.
//!
//! A page is stored in the mirror as CommonMark with a small front matter block:
//!
//! ```text
//! ---
//! title: How to manage a cluster
//! url: https://linuxcontainers.org/incus/docs/main/howto/cluster_manage/
//! doc_path: howto/cluster_manage.md
//! ---
//!
//! # How to manage a cluster {#cluster-manage}
//! ...
//! #### limits.memory {#instance-resource-limits:limits.memory .config-option}
//! ```
//!
//! Headings carry their canonical anchor as a heading attribute; configuration options are
//! headings of class `config-option`. [`Page::parse`] turns that text into heading sections.

pub use crate::util::text::collapse_ws;
use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

/// Class given to headings that define one configuration key.
pub const CONFIG_OPTION_CLASS: &str = "config-option";

/// Class given to headings whose section defines a group of keys: each definition-list term
/// of that section that is only inline code names one key (the running server's reference).
pub const CONFIG_GROUP_CLASS: &str = "config-group";

/// Metadata carried in a page's front matter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageMeta {
    /// Page title (the first heading unless given).
    pub title: String,
    /// Canonical URL of the page, without anchor.
    pub url: String,
    /// Path relative to the docs' `doc/` folder, e.g. `howto/cluster_manage.md`, when known.
    pub doc_path: Option<String>,
}

impl PageMeta {
    /// Renders the front matter block that starts a normalized page.
    pub fn front_matter(&self) -> String {
        let mut out = String::from("---\n");
        out.push_str(&format!("title: {}\n", one_line(&self.title)));
        out.push_str(&format!("url: {}\n", one_line(&self.url)));
        if let Some(p) = &self.doc_path {
            out.push_str(&format!("doc_path: {}\n", one_line(p)));
        }
        out.push_str("---\n\n");
        out
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Splits a normalized page into its front matter and its markdown body.
pub fn split_front_matter(text: &str) -> (PageMeta, &str) {
    let mut meta = PageMeta::default();
    let Some(rest) = text.strip_prefix("---\n") else {
        return (meta, text);
    };
    let Some(end) = rest.find("\n---\n") else {
        return (meta, text);
    };
    for line in rest[..end].lines() {
        if let Some((k, v)) = line.split_once(':') {
            let v = v.trim().to_string();
            match k.trim() {
                "title" => meta.title = v,
                "url" => meta.url = v,
                "doc_path" if !v.is_empty() => meta.doc_path = Some(v),
                _ => {}
            }
        }
    }
    (meta, rest[end + 5..].trim_start_matches('\n'))
}

/// One heading section of a page: the unit that is indexed and returned by search.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// Anchor of the heading (`cluster-evacuate`), when known.
    pub anchor: Option<String>,
    /// Heading level, 1 for the page title.
    pub level: u8,
    /// Heading texts from the page title down to this section's heading.
    pub breadcrumb: Vec<String>,
    /// Markdown of the section body, without its heading line.
    pub markdown: String,
    /// Plain prose text (inline code included, code blocks excluded).
    pub text: String,
    /// Contents of the code blocks.
    pub code: String,
    /// Configuration keys this section defines.
    pub keys: Vec<String>,
}

impl Section {
    /// The heading of this section (last breadcrumb element).
    pub fn heading(&self) -> &str {
        self.breadcrumb.last().map(String::as_str).unwrap_or("")
    }

    /// Breadcrumb joined for display: `Manage a cluster > Evacuate and restore`.
    pub fn breadcrumb_string(&self) -> String {
        self.breadcrumb.join(" > ")
    }

    /// The section URL: the page URL with this section's anchor, except for the title section.
    pub fn url(&self, page_url: &str) -> String {
        match &self.anchor {
            Some(a) if self.level > 1 => format!("{page_url}#{a}"),
            _ => page_url.to_string(),
        }
    }
}

/// A parsed normalized page.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// Front matter.
    pub meta: PageMeta,
    /// Heading sections in document order; sections without any text are dropped.
    pub sections: Vec<Section>,
}

struct Builder {
    anchor: Option<String>,
    level: u8,
    breadcrumb: Vec<String>,
    start: usize,
    text: String,
    code: String,
    keys: Vec<String>,
    /// The section lists a group of keys as definition terms.
    group: bool,
}

impl Builder {
    fn finish(self, body: &str, end: usize) -> Section {
        Section {
            anchor: self.anchor,
            level: self.level,
            breadcrumb: self.breadcrumb,
            markdown: body[self.start.min(end)..end].trim().to_string(),
            text: collapse_ws(&self.text),
            code: self.code.trim().to_string(),
            keys: self.keys,
        }
    }
}

/// GitHub-style slug for headings without an explicit anchor.
pub fn slugify(s: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in s.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() || c == '_' {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c);
        } else {
            dash = true;
        }
    }
    out
}

fn level_num(l: HeadingLevel) -> u8 {
    match l {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// Markdown extensions used for every normalized page.
pub fn markdown_options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_HEADING_ATTRIBUTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_DEFINITION_LIST
}

impl Page {
    /// Parses a normalized page (front matter optional) into heading sections.
    pub fn parse(text: &str) -> Page {
        let (mut meta, body) = split_front_matter(text);
        let mut sections = Vec::new();
        let mut stack: Vec<(u8, String)> = Vec::new();
        let mut cur: Option<Builder> = Some(Builder {
            anchor: None,
            level: 1,
            breadcrumb: Vec::new(),
            start: 0,
            text: String::new(),
            code: String::new(),
            keys: Vec::new(),
            group: false,
        });
        let mut in_heading: Option<(u8, Option<String>, HeadingClass, String)> = None;
        let mut in_code = false;
        // The inline code of the definition term being read, if it is nothing else.
        let mut term: Option<Option<String>> = None;
        let mut heading_start = 0;

        for (event, range) in Parser::new_ext(body, markdown_options()).into_offset_iter() {
            match event {
                Event::Start(Tag::Heading {
                    level, id, classes, ..
                }) => {
                    heading_start = range.start;
                    let has = |class: &str| classes.iter().any(|c| c.as_ref() == class);
                    let class = if has(CONFIG_OPTION_CLASS) {
                        HeadingClass::Key
                    } else if has(CONFIG_GROUP_CLASS) {
                        HeadingClass::KeyGroup
                    } else {
                        HeadingClass::Plain
                    };
                    in_heading = Some((
                        level_num(level),
                        id.map(|s| s.to_string()),
                        class,
                        String::new(),
                    ));
                }
                Event::End(TagEnd::Heading(_)) => {
                    let Some((level, id, class, title)) = in_heading.take() else {
                        continue;
                    };
                    let heading = Heading {
                        level,
                        id,
                        class,
                        title: collapse_ws(&title),
                    };
                    if let Some(b) = cur.take() {
                        push_section(&mut sections, b.finish(body, heading_start));
                    }
                    cur = Some(open_section(&mut meta, &mut stack, heading, range.end));
                }
                Event::Start(Tag::CodeBlock(kind)) => {
                    in_code = true;
                    if let (Some(b), CodeBlockKind::Fenced(_)) = (cur.as_mut(), &kind) {
                        b.code.push('\n');
                    }
                }
                Event::End(TagEnd::CodeBlock) => {
                    in_code = false;
                    if let Some(b) = cur.as_mut() {
                        b.code.push('\n');
                    }
                }
                Event::Start(Tag::DefinitionListTitle) => term = Some(None),
                Event::End(TagEnd::DefinitionListTitle) => {
                    if let (Some(Some(key)), Some(b)) = (term.take(), cur.as_mut())
                        && b.group
                        && !key.is_empty()
                    {
                        b.keys.push(key);
                    }
                    if let Some(b) = cur.as_mut() {
                        b.text.push(' ');
                    }
                }
                Event::Code(t) if term == Some(None) => {
                    term = Some(Some(t.to_string()));
                    if let Some(b) = cur.as_mut() {
                        b.text.push_str(&t);
                    }
                }
                Event::Text(t) | Event::Code(t) => {
                    if let Some(k) = term.as_mut()
                        && !t.trim().is_empty()
                    {
                        // A term with more than one code span names no key.
                        *k = Some(String::new());
                    }
                    if let Some(h) = in_heading.as_mut() {
                        h.3.push_str(&t);
                    } else if let Some(b) = cur.as_mut() {
                        if in_code {
                            b.code.push_str(&t);
                        } else {
                            b.text.push_str(&t);
                        }
                    }
                }
                Event::SoftBreak | Event::HardBreak => {
                    if let Some(b) = cur.as_mut() {
                        b.text.push(' ');
                    }
                }
                Event::End(
                    TagEnd::Paragraph
                    | TagEnd::Item
                    | TagEnd::TableCell
                    | TagEnd::DefinitionListDefinition,
                ) => {
                    if let Some(b) = cur.as_mut() {
                        b.text.push(' ');
                    }
                }
                _ => {}
            }
        }
        if let Some(b) = cur.take() {
            push_section(&mut sections, b.finish(body, body.len()));
        }
        Page { meta, sections }
    }
}

/// A heading just read: its level, explicit anchor, what its section defines, text.
struct Heading {
    level: u8,
    id: Option<String>,
    class: HeadingClass,
    title: String,
}

/// What a heading's section defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HeadingClass {
    /// Nothing in particular.
    Plain,
    /// The key that is its title.
    Key,
    /// The keys of its definition terms.
    KeyGroup,
}

/// Keeps a section that has any text or code.
fn push_section(sections: &mut Vec<Section>, s: Section) {
    if !s.text.is_empty() || !s.code.is_empty() {
        sections.push(s);
    }
}

/// Starts the section of heading `h`, whose body begins at `start`: its breadcrumb from the
/// headings above it (the page title first), its anchor (explicit, else a slug).
fn open_section(
    meta: &mut PageMeta,
    stack: &mut Vec<(u8, String)>,
    h: Heading,
    start: usize,
) -> Builder {
    while stack.last().is_some_and(|(l, _)| *l >= h.level) {
        stack.pop();
    }
    if h.level == 1 && meta.title.is_empty() {
        meta.title = h.title.clone();
    }
    stack.push((h.level, h.title.clone()));
    let mut breadcrumb: Vec<String> = stack.iter().map(|(_, t)| t.clone()).collect();
    if h.level > 1 && !meta.title.is_empty() && stack[0].0 > 1 {
        breadcrumb.insert(0, meta.title.clone());
    }
    let anchor =
        h.id.or_else(|| Some(slugify(&h.title)).filter(|s| !s.is_empty()));
    Builder {
        anchor,
        level: h.level,
        breadcrumb,
        start,
        text: String::new(),
        code: String::new(),
        keys: if h.class == HeadingClass::Key {
            vec![h.title]
        } else {
            Vec::new()
        },
        group: h.class == HeadingClass::KeyGroup,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "---\ntitle: How to manage a cluster\nurl: https://example.org/docs/howto/cluster_manage/\ndoc_path: howto/cluster_manage.md\n---\n\n# How to manage a cluster {#cluster-manage}\n\nIntro with `incus cluster list`.\n\n## Evacuate and restore {#cluster-evacuate}\n\nRun this:\n\n```bash\nincus cluster evacuate m1\n```\n\n### Empty heading\n\n#### limits.memory {#instance-resource-limits:limits.memory .config-option}\n\nUsage limit for the host's memory\n";

    #[test]
    fn a_key_group_defines_the_keys_of_its_terms_and_only_there() {
        let page = Page::parse(
            "# Keys {.config-group}\n\n`boot.autostart`\n: Whether to start.\n\n`a` and `b`\n: Two.\n\nThe `c` key\n: Prose.\n\n`d` (bool)\n: Typed.\n\n## Other\n\n`e`\n: Not a group.\n",
        );
        assert_eq!(page.sections[0].keys, vec!["boot.autostart".to_string()]);
        assert!(
            page.sections[0]
                .text
                .contains("boot.autostart Whether to start.")
        );
        assert_eq!(page.sections[1].keys, Vec::<String>::new());
    }

    #[test]
    fn parses_sections_with_anchors_breadcrumbs_code_and_keys() {
        let page = Page::parse(PAGE);
        assert_eq!(page.meta.title, "How to manage a cluster");
        assert_eq!(
            page.meta.doc_path.as_deref(),
            Some("howto/cluster_manage.md")
        );
        assert_eq!(page.sections.len(), 3, "{:#?}", page.sections);
        let s0 = &page.sections[0];
        assert_eq!(
            s0.url(&page.meta.url),
            "https://example.org/docs/howto/cluster_manage/"
        );
        assert_eq!(s0.text, "Intro with incus cluster list.");
        let s1 = &page.sections[1];
        assert_eq!(s1.anchor.as_deref(), Some("cluster-evacuate"));
        assert_eq!(s1.code, "incus cluster evacuate m1");
        assert_eq!(
            s1.breadcrumb_string(),
            "How to manage a cluster > Evacuate and restore"
        );
        assert!(s1.markdown.contains("```bash"));
        let s2 = &page.sections[2];
        assert_eq!(s2.keys, vec!["limits.memory".to_string()]);
        assert_eq!(
            s2.url(&page.meta.url),
            "https://example.org/docs/howto/cluster_manage/#instance-resource-limits:limits.memory"
        );
        assert_eq!(
            s2.breadcrumb,
            vec![
                "How to manage a cluster",
                "Evacuate and restore",
                "Empty heading",
                "limits.memory"
            ]
        );
    }

    #[test]
    fn pages_without_front_matter_take_the_first_heading_as_title_and_slug_anchors() {
        let page = Page::parse("# Backups\n\nNightly.\n\n## Off-site copies!\n\nrsync.\n");
        assert_eq!(page.meta.title, "Backups");
        assert_eq!(page.sections[1].anchor.as_deref(), Some("off-site-copies"));
    }

    #[test]
    fn front_matter_round_trips() {
        let meta = PageMeta {
            title: "T".into(),
            url: "u".into(),
            doc_path: Some("a/b.md".into()),
        };
        let text = format!("{}# T\n\nx\n", meta.front_matter());
        assert_eq!(split_front_matter(&text).0, meta);
    }
}
