//! The docs-site crawler: stays under the start URL, follows the site's links, runs a bounded
//! number of requests at once, honours robots.txt, and sends conditional requests so that an
//! unchanged page costs a 304 and no parsing.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use url::Url;

use super::extract::extract;
use super::fetch::{Answer, fetch, robots_for};
pub use super::fetch::{FetchError, client};
use super::nesting::MAX_NESTING;
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

/// A page the server says is unchanged: what the previous mirror holds of it.
fn not_modified(url: &Url, known: Option<&Known>) -> (Option<CrawledPage>, Vec<String>) {
    let k = known.cloned().unwrap_or_default();
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

/// A fetched page: extracted off the async threads; its page (if it is one to keep) and its
/// in-scope links, or `None` when it is skipped (with the reason in `out.skipped`).
async fn page_of(
    scope: &Scope,
    seen: &mut HashSet<String>,
    out: &mut Crawl,
    rel: &str,
    url: &Url,
    body: super::fetch::Body,
) -> Result<Option<(Option<CrawledPage>, Vec<String>)>, FetchError> {
    let final_url = body.final_url;
    let page_url = final_url.clone();
    let text = body.text;
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
        return Ok(None);
    };
    let links: Vec<String> = ex.links.iter().filter_map(|l| scope.relative(l)).collect();
    let final_rel = scope.relative(&final_url).unwrap_or(rel.to_string());
    // Redirected within the site: the body is the target's page, unless that one is crawled
    // on its own already.
    if final_rel != rel && !seen.insert(final_rel) {
        return Ok(Some((None, links)));
    }
    if let Some(bad) = ex.unsafe_source.filter(|_| ex.markdown.is_some()) {
        out.skipped.push(format!(
            "{final_url}: skipped, its source link {bad:?} names a file outside the mirror"
        ));
        return Ok(Some((None, links)));
    }
    match ex.markdown {
        Some(markdown) => {
            let mut uniq: Vec<String> = links.clone();
            uniq.sort();
            uniq.dedup();
            let page = CrawledPage {
                url: final_url,
                markdown,
                doc_path: ex.doc_path,
                etag: body.etag,
                last_modified: body.last_modified,
                links: uniq,
                not_modified: false,
            };
            Ok(Some((Some(page), links)))
        }
        None if !links.is_empty() => Ok(Some((None, links))),
        None => Err(FetchError::NoArticle {
            url: url.to_string(),
        }),
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
            Answer::NotModified => not_modified(&url, known.get(&rel)),
            Answer::Body(body) => {
                match page_of(&scope, &mut seen, &mut out, &rel, &url, body).await? {
                    Some(p) => p,
                    None => continue,
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
