//! Where documentation comes from: the docs site (HTML), markdown trees (a local folder or a
//! `.tar.gz` of the Incus source), the running server's own configuration reference, and the
//! site's own notes. Each source yields normalized pages.

pub mod local;
pub mod myst;
pub mod server_config;
pub mod site;
pub mod tarball;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use url::Url;

use crate::util::progress::Progress;
use myst::{DocTree, MystError};
use site::crawl::{CrawlOptions, FetchError, Known};

/// A configured source of documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A docs site, crawled from this start URL.
    Site(Url),
    /// A `.tar.gz` of the Incus source tree; its `doc/` folder is read.
    Tarball(Url),
    /// A local folder of markdown (a `doc/` folder, a source checkout, or notes).
    Dir(PathBuf),
}

impl Source {
    /// Parses `--source` / config values: URLs ending in `.tar.gz`/`.tgz` are tarballs, other
    /// http(s) URLs are sites, anything else is a local folder.
    pub fn parse(spec: &str) -> Result<Source, SourceError> {
        if spec.starts_with("http://") || spec.starts_with("https://") {
            let url = Url::parse(spec).map_err(|e| SourceError::BadSpec {
                spec: spec.to_string(),
                detail: e.to_string(),
            })?;
            let path = url.path();
            if path.ends_with(".tar.gz") || path.ends_with(".tgz") {
                return Ok(Source::Tarball(url));
            }
            let mut url = url;
            if !url.path().ends_with('/') && !url.path().ends_with(".html") {
                let p = format!("{}/", url.path());
                url.set_path(&p);
            }
            return Ok(Source::Site(url));
        }
        let path = PathBuf::from(spec.strip_prefix("file://").unwrap_or(spec));
        Ok(Source::Dir(path))
    }

    /// How the source is named in messages.
    pub fn describe(&self) -> String {
        match self {
            Source::Site(u) => format!("docs site {u}"),
            Source::Tarball(u) => format!("source tarball {u}"),
            Source::Dir(p) => format!("markdown folder {}", p.display()),
        }
    }

    /// The spec string as given in config or on the command line.
    pub fn spec(&self) -> String {
        match self {
            Source::Site(u) | Source::Tarball(u) => u.to_string(),
            Source::Dir(p) => p.display().to_string(),
        }
    }
}

/// A failed source. The message names the source and the fix where there is one.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A source string that is not a URL or a path.
    #[error("bad source {spec:?}: {detail}")]
    BadSpec {
        /// The string.
        spec: String,
        /// Why.
        detail: String,
    },
    /// The site failed.
    #[error("{source_name}: {error}")]
    Site {
        /// Which source.
        source_name: String,
        /// What failed.
        #[source]
        error: FetchError,
        /// The start page could not be reached at all (the site is down, not broken).
        unreachable: bool,
    },
    /// A markdown tree failed.
    #[error("{source_name}: {error}")]
    Markdown {
        /// Which source.
        source_name: String,
        /// What failed.
        #[source]
        error: MystError,
    },
    /// A folder that does not exist.
    #[error("{source_name}: no such folder (fix the path in --source/--local or the config file)")]
    Missing {
        /// Which source.
        source_name: String,
    },
    /// Downloading or unpacking a tarball failed.
    #[error("{source_name}: {detail}")]
    Tarball {
        /// Which source.
        source_name: String,
        /// Why.
        detail: String,
    },
}

impl SourceError {
    /// True when a site could not be reached at all.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            SourceError::Site {
                unreachable: true,
                ..
            }
        )
    }
}

/// HTTP validators and links of a crawled page, kept in the mirror for the next run.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Validators {
    /// The page's path relative to the site's start URL.
    pub key: String,
    /// `ETag`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// `Last-Modified`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// In-scope links relative to the start URL.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
}

/// A normalized page produced by a source.
#[derive(Debug, Clone)]
pub struct SourcePage {
    /// Path of the page's file inside the collection's mirror.
    pub file: String,
    /// The normalized page.
    pub markdown: String,
    /// Validators, for pages of a site.
    pub validators: Option<Validators>,
}

/// What fetching one source produced.
#[derive(Debug, Default)]
pub struct Fetched {
    /// The pages.
    pub pages: Vec<SourcePage>,
    /// HTTP requests sent.
    pub requests: usize,
    /// Pages the site answered with 304 Not Modified.
    pub not_modified: usize,
    /// Linked pages that do not exist (skipped).
    pub broken_links: Vec<String>,
    /// Pages and files left out, each with the reason.
    pub skipped: Vec<String>,
}

/// Settings shared by all sources of one run.
#[derive(Debug, Clone)]
pub struct FetchContext {
    /// Crawler limits (also the download timeout of tarballs).
    pub crawl: CrawlOptions,
    /// Base URL for canonical links of pages read from markdown.
    pub canonical_base: String,
    /// Where downloads are unpacked.
    pub cache_dir: PathBuf,
}

/// Mirror file name of a crawled page: its source path when the page says, else its URL path.
fn site_file(key: &str, doc_path: Option<&str>) -> String {
    if let Some(p) = doc_path {
        return p.to_string();
    }
    let k = key.trim_end_matches(".html").trim_end_matches('/');
    if k.is_empty() {
        "index.md".to_string()
    } else {
        format!("{k}.md")
    }
}

/// Fetches the pages of one docs source. `known` holds the previous mirror's site pages,
/// keyed by path relative to the start URL.
pub async fn fetch_docs(
    source: &Source,
    ctx: &FetchContext,
    known: &HashMap<String, Known>,
    progress: &Progress,
) -> Result<Fetched, SourceError> {
    let name = source.describe();
    match source {
        Source::Site(start) => {
            let crawl = site::crawl::crawl(start, &ctx.crawl, known, progress)
                .await
                .map_err(|error| SourceError::Site {
                    source_name: name,
                    unreachable: error.is_unreachable() && error.url() == start.as_str(),
                    error,
                })?;
            let mut out = Fetched {
                requests: crawl.requests,
                broken_links: crawl.broken_links,
                skipped: crawl.skipped,
                ..Fetched::default()
            };
            let root = site::crawl::scope_of(start);
            for p in crawl.pages {
                out.not_modified += usize::from(p.not_modified);
                let key = p
                    .url
                    .path()
                    .strip_prefix(root.path())
                    .unwrap_or("")
                    .to_string();
                let meta = crate::knowledge::document::split_front_matter(&p.markdown).0;
                out.pages.push(SourcePage {
                    file: site_file(&key, meta.doc_path.as_deref()),
                    markdown: p.markdown,
                    validators: Some(Validators {
                        key,
                        etag: p.etag,
                        last_modified: p.last_modified,
                        links: p.links,
                    }),
                });
            }
            Ok(out)
        }
        Source::Tarball(url) => {
            let dir = tarball::download_and_unpack(url, &ctx.cache_dir, &ctx.crawl)
                .await
                .map_err(|detail| SourceError::Tarball {
                    source_name: name.clone(),
                    detail,
                })?;
            let mut out = render_dir(&dir, &name, &ctx.canonical_base)?;
            out.requests = 1;
            Ok(out)
        }
        Source::Dir(dir) => render_dir(dir, &name, &ctx.canonical_base),
    }
}

fn render_dir(dir: &Path, name: &str, canonical_base: &str) -> Result<Fetched, SourceError> {
    if !dir.is_dir() {
        return Err(SourceError::Missing {
            source_name: name.to_string(),
        });
    }
    let tree = DocTree::locate(dir);
    let rendered =
        myst::render_tree(&tree, canonical_base).map_err(|error| SourceError::Markdown {
            source_name: name.to_string(),
            error,
        })?;
    Ok(Fetched {
        skipped: rendered
            .skipped
            .into_iter()
            .map(|s| format!("{}: {s}", dir.display()))
            .collect(),
        pages: rendered
            .pages
            .into_iter()
            .map(|p| SourcePage {
                file: p.doc_path,
                markdown: p.markdown,
                validators: None,
            })
            .collect(),
        ..Fetched::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_specs_are_classified() {
        assert!(
            matches!(Source::parse("https://h/docs/main").unwrap(), Source::Site(u) if u.as_str() == "https://h/docs/main/")
        );
        assert!(matches!(
            Source::parse("https://h/x/incus-6.0.4.tar.gz").unwrap(),
            Source::Tarball(_)
        ));
        assert!(matches!(
            Source::parse("/usr/share/doc/incus-base").unwrap(),
            Source::Dir(_)
        ));
        assert!(Source::parse("http://[bad").is_err());
    }

    #[test]
    fn crawled_pages_are_filed_under_their_source_path() {
        assert_eq!(site_file("howto/x/", Some("howto/x.md")), "howto/x.md");
        assert_eq!(
            site_file("reference/manpages/incus/list/", None),
            "reference/manpages/incus/list.md"
        );
        assert_eq!(site_file("", None), "index.md");
    }
}
