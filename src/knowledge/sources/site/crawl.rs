//! The docs-site crawler: stays under the start URL, follows the site's links, runs a bounded
//! number of requests at once, honours robots.txt, and sends conditional requests so that an
//! unchanged page costs a 304 and no parsing.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use url::Url;

use super::extract::{MAX_NESTING, extract};
use super::robots::Robots;
use crate::util::progress::Progress;

/// Limits of one crawl.
#[derive(Debug, Clone)]
pub struct CrawlOptions {
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Timeout of one request.
    pub timeout: Duration,
    /// Largest page accepted, in bytes.
    pub max_page_bytes: usize,
    /// Most pages fetched.
    pub max_pages: usize,
    /// Path prefixes, relative to the start URL, that are never fetched.
    pub exclude: Vec<String>,
}

/// What the previous mirror knows of a page, for conditional requests.
#[derive(Debug, Clone, Default)]
pub struct Known {
    /// `ETag` of the last 200 answer.
    pub etag: Option<String>,
    /// `Last-Modified` of the last 200 answer.
    pub last_modified: Option<String>,
    /// Links of the page, relative to the start URL.
    pub links: Vec<String>,
    /// The normalized page as mirrored.
    pub markdown: Option<String>,
}

/// One page of the site.
#[derive(Debug, Clone)]
pub struct CrawledPage {
    /// The URL it was fetched from (after redirects within the site).
    pub url: Url,
    /// The normalized page.
    pub markdown: String,
    /// Source path under `doc/`, when the page says.
    pub doc_path: Option<String>,
    /// Validators for the next run.
    pub etag: Option<String>,
    /// Validators for the next run.
    pub last_modified: Option<String>,
    /// In-scope links, relative to the start URL.
    pub links: Vec<String>,
    /// True when the server answered 304 Not Modified.
    pub not_modified: bool,
}

/// The outcome of a crawl.
#[derive(Debug, Default)]
pub struct Crawl {
    /// Pages with an article, in no particular order.
    pub pages: Vec<CrawledPage>,
    /// HTTP requests sent (robots.txt included).
    pub requests: usize,
    /// Linked pages that answered 404 or 410 (a broken link on the site, skipped).
    pub broken_links: Vec<String>,
    /// Pages left out, each with the reason (a source link naming a path outside the mirror).
    pub skipped: Vec<String>,
}

/// Why a crawl failed. Every variant names the URL.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Connection refused, DNS failure, TLS failure.
    #[error("{url}: cannot connect ({detail})")]
    Unreachable {
        /// The URL.
        url: String,
        /// The cause, on one line.
        detail: String,
    },
    /// No complete answer in time.
    #[error("{url}: timed out after {secs}s (raise [crawl] timeout_secs if the site is slow)")]
    Timeout {
        /// The URL.
        url: String,
        /// The limit.
        secs: u64,
    },
    /// A non-success status.
    #[error("{url}: HTTP {status}")]
    Status {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
    },
    /// A redirect that leaves the start URL's site and prefix.
    #[error("{url}: redirected off-site to {to} (mirror only stays under the start URL)")]
    OffSite {
        /// The URL.
        url: String,
        /// Where it pointed.
        to: String,
    },
    /// A body larger than the limit.
    #[error("{url}: page is larger than {max} bytes (raise [crawl] max_page_bytes)")]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit.
        max: usize,
    },
    /// A body that is not UTF-8.
    #[error("{url}: page is not UTF-8 ({detail})")]
    NotUtf8 {
        /// The URL.
        url: String,
        /// Declared charset or decoding error.
        detail: String,
    },
    /// An HTML page without the docs article.
    #[error("{url}: no <article role=\"main\"> in the page (is this a Sphinx/Furo docs site?)")]
    NoArticle {
        /// The URL.
        url: String,
    },
    /// More pages than allowed.
    #[error("{url}: more than {max} pages under the start URL (raise [crawl] max_pages)")]
    TooManyPages {
        /// The start URL.
        url: String,
        /// The limit.
        max: usize,
    },
    /// The start URL is disallowed by robots.txt.
    #[error("{url}: disallowed by the site's robots.txt")]
    Disallowed {
        /// The URL.
        url: String,
    },
    /// The site gave no page at all.
    #[error("{url}: no docs pages found under the start URL")]
    Empty {
        /// The start URL.
        url: String,
    },
    /// Anything else on the HTTP layer.
    #[error("{url}: {detail}")]
    Other {
        /// The URL.
        url: String,
        /// The cause, on one line.
        detail: String,
    },
}

impl FetchError {
    /// True when the URL could not be reached at all.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            FetchError::Unreachable { .. } | FetchError::Timeout { .. }
        )
    }

    /// The URL the error is about.
    pub fn url(&self) -> &str {
        match self {
            FetchError::Unreachable { url, .. }
            | FetchError::Timeout { url, .. }
            | FetchError::Status { url, .. }
            | FetchError::OffSite { url, .. }
            | FetchError::TooLarge { url, .. }
            | FetchError::NotUtf8 { url, .. }
            | FetchError::NoArticle { url }
            | FetchError::TooManyPages { url, .. }
            | FetchError::Disallowed { url }
            | FetchError::Empty { url }
            | FetchError::Other { url, .. } => url,
        }
    }
}

/// The start URL's directory: everything fetched must start with it.
pub fn scope_of(start: &Url) -> Url {
    let mut scope = start.clone();
    scope.set_query(None);
    scope.set_fragment(None);
    if !scope.path().ends_with('/') {
        let path = scope.path().to_string();
        let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        scope.set_path(if dir.is_empty() { "/" } else { dir });
    }
    scope
}

struct Scope {
    root: Url,
    exclude: Vec<String>,
    robots: Robots,
}

impl Scope {
    /// The path of `u` relative to the scope root, when `u` is a page to crawl.
    fn relative(&self, u: &Url) -> Option<String> {
        if u.scheme() != self.root.scheme()
            || u.host() != self.root.host()
            || u.port() != self.root.port()
        {
            return None;
        }
        let rel = u.path().strip_prefix(self.root.path())?;
        let last = rel.rsplit('/').next().unwrap_or("");
        let is_page = last.is_empty() || last.ends_with(".html");
        if !is_page || self.exclude.iter().any(|e| rel.starts_with(e.as_str())) {
            return None;
        }
        self.robots.allowed(u.path()).then(|| rel.to_string())
    }

    fn url(&self, rel: &str) -> Url {
        self.root.join(rel).unwrap_or_else(|_| self.root.clone())
    }
}

/// Builds the HTTP client for one site: redirects are followed only within `scope`.
pub fn client(scope: &Url, opts: &CrawlOptions) -> reqwest::Client {
    let root = scope.clone();
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        let u = attempt.url();
        let inside = u.scheme() == root.scheme()
            && u.host() == root.host()
            && u.port() == root.port()
            && u.path().starts_with(root.path());
        if attempt.previous().len() > 10 {
            attempt.error("too many redirects")
        } else if inside {
            attempt.follow()
        } else {
            let to = u.to_string();
            attempt.error(OffSiteRedirect(to))
        }
    });
    reqwest::Client::builder()
        .user_agent(concat!(
            "incus-ai/",
            env!("CARGO_PKG_VERSION"),
            " (docs mirror)"
        ))
        .timeout(opts.timeout)
        .connect_timeout(opts.timeout.min(Duration::from_secs(10)))
        .redirect(policy)
        .no_proxy()
        .build()
        .expect("HTTP client")
}

#[derive(Debug)]
struct OffSiteRedirect(String);
impl std::fmt::Display for OffSiteRedirect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "off-site redirect to {}", self.0)
    }
}
impl std::error::Error for OffSiteRedirect {}

fn classify(url: &Url, e: reqwest::Error, secs: u64) -> FetchError {
    let url_s = url.to_string();
    let e = e.without_url();
    let mut src: Option<&dyn std::error::Error> = Some(&e);
    while let Some(s) = src {
        if let Some(off) = s.downcast_ref::<OffSiteRedirect>() {
            return FetchError::OffSite {
                url: url_s,
                to: off.0.clone(),
            };
        }
        src = s.source();
    }
    if e.is_timeout() {
        FetchError::Timeout { url: url_s, secs }
    } else if e.is_connect() {
        FetchError::Unreachable {
            url: url_s,
            detail: crate::util::text::error_chain(&e),
        }
    } else {
        FetchError::Other {
            url: url_s,
            detail: crate::util::text::error_chain(&e),
        }
    }
}

enum Answer {
    NotModified,
    Body {
        final_url: Url,
        text: String,
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

async fn fetch(
    client: &reqwest::Client,
    url: &Url,
    known: Option<&Known>,
    opts: &CrawlOptions,
) -> Result<Answer, FetchError> {
    let secs = opts.timeout.as_secs();
    let mut req = client.get(url.clone());
    if let Some(k) = known.filter(|k| k.markdown.is_some()) {
        if let Some(e) = &k.etag {
            req = req.header(IF_NONE_MATCH, e);
        }
        if let Some(l) = &k.last_modified {
            req = req.header(IF_MODIFIED_SINCE, l);
        }
    }
    let mut resp = req.send().await.map_err(|e| classify(url, e, secs))?;
    if resp.status() == StatusCode::NOT_MODIFIED {
        return Ok(Answer::NotModified);
    }
    if !resp.status().is_success() {
        return Err(FetchError::Status {
            url: url.to_string(),
            status: resp.status().as_u16(),
        });
    }
    let header = |name| {
        resp.headers()
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let etag = header(ETAG);
    let last_modified = header(LAST_MODIFIED);
    if let Some(ct) = header(CONTENT_TYPE) {
        let lower = ct.to_ascii_lowercase();
        if let Some(cs) = lower.split("charset=").nth(1) {
            let cs = cs.trim_matches(|c: char| c == '"' || c.is_whitespace());
            if cs != "utf-8" && cs != "utf8" && cs != "us-ascii" {
                return Err(FetchError::NotUtf8 {
                    url: url.to_string(),
                    detail: format!("declared charset {cs}"),
                });
            }
        }
    }
    if resp
        .content_length()
        .is_some_and(|n| n as usize > opts.max_page_bytes)
    {
        return Err(FetchError::TooLarge {
            url: url.to_string(),
            max: opts.max_page_bytes,
        });
    }
    let final_url = resp.url().clone();
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| classify(url, e, secs))? {
        body.extend_from_slice(&chunk);
        if body.len() > opts.max_page_bytes {
            return Err(FetchError::TooLarge {
                url: url.to_string(),
                max: opts.max_page_bytes,
            });
        }
    }
    let text = String::from_utf8(body).map_err(|e| FetchError::NotUtf8 {
        url: url.to_string(),
        detail: e.utf8_error().to_string(),
    })?;
    Ok(Answer::Body {
        final_url,
        text,
        etag,
        last_modified,
    })
}

/// The part of robots.txt that is read.
const MAX_ROBOTS_BYTES: usize = 500 << 10;

async fn robots_for(client: &reqwest::Client, root: &Url) -> (Robots, usize) {
    let Ok(u) = root.join("/robots.txt") else {
        return (Robots::allow_all(), 0);
    };
    let agent = "incus-ai";
    match client.get(u).send().await {
        // Like the big crawlers, only the first 500 KiB count (a gzip bomb stops there).
        Ok(r) if r.status().is_success() => {
            match crate::util::http::read_prefix(r, MAX_ROBOTS_BYTES).await {
                Ok(t) => (Robots::parse(&String::from_utf8_lossy(&t), agent), 1),
                Err(_) => (Robots::allow_all(), 1),
            }
        }
        _ => (Robots::allow_all(), 1),
    }
}

/// Crawls the site under `start`. `known` holds what the previous mirror recorded, keyed by
/// page path relative to the start URL's directory.
pub async fn crawl(
    start: &Url,
    opts: &CrawlOptions,
    known: &HashMap<String, Known>,
    progress: &Progress,
) -> Result<Crawl, FetchError> {
    let root = scope_of(start);
    let http = client(&root, opts);
    let (robots, robots_requests) = robots_for(&http, &root).await;
    let mut concurrency = opts.concurrency.max(1);
    let delay = robots
        .crawl_delay
        .map(|d| Duration::from_secs_f64(d.clamp(0.0, 60.0)));
    if delay.is_some() {
        concurrency = 1;
    }
    let scope = Scope {
        root: root.clone(),
        exclude: opts.exclude.clone(),
        robots,
    };
    let start_rel = scope
        .relative(start)
        .ok_or_else(|| FetchError::Disallowed {
            url: start.to_string(),
        })?;

    let mut out = Crawl {
        requests: robots_requests,
        ..Crawl::default()
    };
    let mut queue = VecDeque::from([start_rel.clone()]);
    let mut seen: HashSet<String> = HashSet::from([start_rel]);
    let mut done_finals: HashSet<String> = HashSet::new();
    let mut inflight = FuturesUnordered::new();
    progress.set_length(1);

    loop {
        while inflight.len() < concurrency {
            let Some(rel) = queue.pop_front() else { break };
            if seen.len() > opts.max_pages {
                return Err(FetchError::TooManyPages {
                    url: start.to_string(),
                    max: opts.max_pages,
                });
            }
            let url = scope.url(&rel);
            let k = known.get(&rel);
            let http = &http;
            inflight.push(async move {
                if let Some(d) = delay {
                    tokio::time::sleep(d).await;
                }
                let answer = fetch(http, &url, k, opts).await;
                (rel, url, answer)
            });
        }
        let Some((rel, url, answer)) = inflight.next().await else {
            break;
        };
        out.requests += 1;
        progress.inc(1);
        let answer = match answer {
            // A dead link on the site is the site's bug, not a reason to keep old docs forever;
            // the start page itself missing is.
            Err(FetchError::Status {
                status: 404 | 410, ..
            }) if url != *start => {
                out.broken_links.push(url.to_string());
                continue;
            }
            other => other?,
        };
        let (page, links) = match answer {
            Answer::NotModified => {
                let k = known.get(&rel).cloned().unwrap_or_default();
                let page = CrawledPage {
                    url: url.clone(),
                    markdown: k.markdown.unwrap_or_default(),
                    doc_path: None,
                    etag: k.etag,
                    last_modified: k.last_modified,
                    links: k.links.clone(),
                    not_modified: true,
                };
                (Some(page), k.links)
            }
            Answer::Body {
                final_url,
                text,
                etag,
                last_modified,
            } => {
                let page_url = final_url.clone();
                let ex = tokio::task::spawn_blocking(move || extract(&text, &page_url))
                    .await
                    .map_err(|e| FetchError::Other {
                        url: url.to_string(),
                        detail: format!("extracting the page failed: {e}"),
                    })?;
                let Some(ex) = ex else {
                    out.skipped.push(format!(
                        "{final_url}: skipped, its elements nest deeper than {MAX_NESTING} (not a docs page)"
                    ));
                    continue;
                };
                let links: Vec<String> =
                    ex.links.iter().filter_map(|l| scope.relative(l)).collect();
                let final_rel = scope.relative(&final_url).unwrap_or(rel.clone());
                // Redirected within the site: the body is the target's page, unless that one
                // is crawled on its own already.
                if final_rel != rel && !seen.insert(final_rel) {
                    (None, links)
                } else if let Some(bad) = ex.unsafe_source.filter(|_| ex.markdown.is_some()) {
                    out.skipped.push(format!(
                        "{final_url}: skipped, its source link {bad:?} names a file outside the mirror"
                    ));
                    (None, links)
                } else {
                    match ex.markdown {
                        Some(markdown) => {
                            let mut uniq: Vec<String> = links.clone();
                            uniq.sort();
                            uniq.dedup();
                            let page = CrawledPage {
                                url: final_url,
                                markdown,
                                doc_path: ex.doc_path,
                                etag,
                                last_modified,
                                links: uniq,
                                not_modified: false,
                            };
                            (Some(page), links)
                        }
                        None if !links.is_empty() => (None, links),
                        None => {
                            return Err(FetchError::NoArticle {
                                url: url.to_string(),
                            });
                        }
                    }
                }
            }
        };
        if let Some(p) = page
            && done_finals.insert(p.url.to_string())
        {
            out.pages.push(p);
        }
        for l in links {
            if seen.insert(l.clone()) {
                queue.push_back(l);
                progress.inc_length(1);
            }
        }
    }
    if out.pages.is_empty() {
        return Err(FetchError::Empty {
            url: start.to_string(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_is_the_start_urls_directory() {
        let u = Url::parse("https://h/incus/docs/main/index.html").unwrap();
        assert_eq!(scope_of(&u).as_str(), "https://h/incus/docs/main/");
        let u = Url::parse("https://h/incus/docs/main/").unwrap();
        assert_eq!(scope_of(&u).as_str(), "https://h/incus/docs/main/");
    }

    #[test]
    fn only_pages_under_the_scope_that_are_not_excluded_are_crawled() {
        let scope = Scope {
            root: Url::parse("http://h:1/d/").unwrap(),
            exclude: vec!["_static/".into()],
            robots: Robots::parse("User-agent: *\nDisallow: /d/private/\n", "incus-ai"),
        };
        let rel = |s: &str| scope.relative(&Url::parse(s).unwrap());
        assert_eq!(rel("http://h:1/d/howto/x/").as_deref(), Some("howto/x/"));
        assert_eq!(rel("http://h:1/d/").as_deref(), Some(""));
        assert_eq!(rel("http://h:1/d/a.html").as_deref(), Some("a.html"));
        assert_eq!(rel("http://h:1/d/_static/x.css"), None);
        assert_eq!(rel("http://h:1/d/_static/x/"), None);
        assert_eq!(rel("http://h:1/d/rest-api.yaml"), None);
        assert_eq!(rel("http://h:1/other/"), None);
        assert_eq!(rel("http://h:2/d/"), None);
        assert_eq!(rel("https://h:1/d/"), None);
        assert_eq!(rel("http://h:1/d/private/x/"), None);
    }
}
