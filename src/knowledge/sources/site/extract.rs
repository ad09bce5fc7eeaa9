//! Turns one page of the Sphinx/Furo docs site into a normalized page: its links, its
//! canonical URL and source path, and its article (rendered by [`super::html_to_md`]).
//! Header links, navigation, the table of contents and footers are dropped.

use std::sync::LazyLock;

use scraper::{ElementRef, Html, Selector};
use url::Url;

use super::html_to_md::{render_article, text_of};
use super::nesting::{MAX_NESTING, nesting_depth};
use crate::knowledge::document::PageMeta;

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

    let (title, body) = render_article(&doc, article);
    let title = title.unwrap_or_else(|| {
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
