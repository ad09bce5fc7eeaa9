//! One request to the docs site: the HTTP client (redirects only within the site, timeouts),
//! conditional requests, bodies read up to the page limit, errors that name the URL and the
//! fix, and robots.txt.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use url::Url;

use super::crawl::{CrawlOptions, Known};
use super::robots::Robots;

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
    crate::util::http::builder()
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

/// What the site answered for a page.
pub(super) enum Answer {
    /// 304: unchanged since the previous mirror.
    NotModified,
    /// The page.
    Body(Body),
}

/// A page's body and validators.
pub(super) struct Body {
    /// Where it came from after redirects within the site.
    pub final_url: Url,
    /// The HTML.
    pub text: String,
    /// `ETag`.
    pub etag: Option<String>,
    /// `Last-Modified`.
    pub last_modified: Option<String>,
}

pub(super) async fn fetch(
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
    Ok(Answer::Body(Body {
        final_url,
        text,
        etag,
        last_modified,
    }))
}

/// The part of robots.txt that is read.
const MAX_ROBOTS_BYTES: usize = 500 << 10;

pub(super) async fn robots_for(client: &reqwest::Client, root: &Url) -> (Robots, usize) {
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
