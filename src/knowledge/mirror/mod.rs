//! `incus-ai mirror`: fetch every source of each collection and commit what changed.
//!
//! Collections: `docs` (the Incus documentation, from the sources in priority order) and
//! `local` (the site's own notes). A collection is committed only when all of its sources
//! succeeded, so a failed run leaves the last good mirror in place.

pub mod store;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;
use url::Url;

use crate::knowledge::Collection;
use crate::knowledge::sources::server_config::{self, ServerReference};
use crate::knowledge::sources::site::crawl::Known;
use crate::knowledge::sources::{self, FetchContext, Source, SourceError, SourcePage};
use crate::util::paths::DataDir;
use crate::util::progress::Progress;
use store::{Changes, SourceRecord, Store, StoreError};

/// What to mirror.
#[derive(Debug, Clone)]
pub struct MirrorOptions {
    /// Sources of the `docs` collection, in priority order.
    pub docs_sources: Vec<Source>,
    /// Docs folder used when a docs site cannot be reached.
    pub fallback: Option<PathBuf>,
    /// Notes folders of the `local` collection (besides incus-ai's own notes folder).
    pub local_dirs: Vec<PathBuf>,
    /// Version of the reachable Incus server, to pick the matching docs.
    pub server_version: Option<String>,
    /// The configuration reference of the server that answered, added to `docs`; without one
    /// the reference mirrored before is kept.
    pub server_reference: Option<ServerReference>,
    /// Limits and canonical base.
    pub ctx: FetchContext,
    /// No progress bars.
    pub quiet: bool,
}

/// A collection's failure.
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    /// A source failed.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What happened to one collection.
#[derive(Debug, Clone, Serialize)]
pub struct CollectionReport {
    /// Which collection.
    pub collection: Collection,
    /// The sources as used.
    pub sources: Vec<SourceRecord>,
    /// Pages in the mirror after the run.
    pub pages: usize,
    /// What changed.
    pub changes: Changes,
    /// HTTP requests sent.
    pub requests: usize,
    /// 304 answers.
    pub not_modified: usize,
    /// Linked pages that do not exist on the site (skipped).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub broken_links: Vec<String>,
    /// Pages and files left out, each with the reason (unsafe names, links out of a tree).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
    /// What the user must know even with `--quiet`: the package docs stand in for the site, a
    /// damaged mirror was rebuilt.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Wall time in milliseconds.
    pub elapsed_ms: u64,
    /// The error, when the collection could not be mirrored (the last good mirror stays).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `6.0.4` → the docs of the `stable-6.0` branch, for a docs URL that ends in `/main/`.
pub fn docs_url_for_version(url: &Url, version: &str) -> Option<Url> {
    let mut parts = version.trim().split('.');
    let major: u32 = parts.next()?.parse().ok()?;
    let minor: u32 = parts.next()?.parse().ok()?;
    if minor != 0 || !url.path().ends_with("/main/") {
        return None;
    }
    let path = url.path();
    let new_path = format!("{}stable-{major}.0/", &path[..path.len() - "main/".len()]);
    let mut u = url.clone();
    u.set_path(&new_path);
    Some(u)
}

/// Version of the installed Incus package (`6.0.4-2+deb13u7~bpo12+1` → `6.0.4`), if any.
fn installed_package_version() -> Option<String> {
    for pkg in ["incus-base", "incus"] {
        let out = std::process::Command::new("dpkg-query")
            .args(["-W", "-f", "${Version}", pkg])
            .output()
            .ok()?;
        let v = String::from_utf8_lossy(&out.stdout).to_string();
        let v = v.split(['-', '+', '~']).next().unwrap_or("").trim();
        if out.status.success() && !v.is_empty() {
            return Some(v.to_string());
        }
    }
    None
}

fn known_pages(generation: Option<&store::Generation>, used: &str) -> HashMap<String, Known> {
    let mut out = HashMap::new();
    let Some(g) = generation else { return out };
    for (file, rec) in &g.manifest.pages {
        let from_here = g
            .manifest
            .sources
            .get(rec.source)
            .is_some_and(|s| s.used == used);
        if let (true, Some(v)) = (from_here, &rec.http) {
            // A page file that no longer matches its hash is fetched again in full.
            let markdown = g
                .read(file)
                .ok()
                .filter(|t| store::content_hash(t) == rec.hash);
            out.insert(
                v.key.clone(),
                Known {
                    etag: v.etag.clone(),
                    last_modified: v.last_modified.clone(),
                    links: v.links.clone(),
                    markdown,
                },
            );
        }
    }
    out
}

#[derive(Default)]
struct Gathered {
    pages: Vec<(usize, SourcePage)>,
    sources: Vec<SourceRecord>,
    requests: usize,
    not_modified: usize,
    broken_links: Vec<String>,
    skipped: Vec<String>,
    warnings: Vec<String>,
}

/// Whether the current mirror holds pages that `source` itself gave (not a fallback): then a
/// failure of the source keeps them rather than replacing them with older package docs.
fn has_own_pages(current: Option<&store::Generation>, source: &Source) -> bool {
    let Some(g) = current else { return false };
    let spec = source.spec();
    g.manifest.sources.iter().enumerate().any(|(i, s)| {
        s.spec == spec
            && (s.used == spec || s.used.starts_with("http"))
            && g.manifest.pages.values().any(|p| p.source == i)
    })
}

async fn gather_docs(
    opts: &MirrorOptions,
    current: Option<&store::Generation>,
) -> Result<Gathered, SourceError> {
    let mut g = Gathered::default();
    for source in &opts.docs_sources {
        let mut used = source.clone();
        let mut note = None;
        let mut ctx = opts.ctx.clone();
        if let (Source::Site(u), Some(v)) = (source, &opts.server_version)
            && let Some(matched) = docs_url_for_version(u, v)
        {
            note = Some(format!("Incus server is {v}: using the docs at {matched}"));
            used = Source::Site(matched);
        }
        if let Some(v) = &opts.server_version
            && let Ok(base) = Url::parse(&ctx.canonical_base)
            && let Some(b) = docs_url_for_version(&base, v)
        {
            ctx.canonical_base = b.to_string();
        }
        let progress = Progress::new("mirror", opts.quiet);
        let known = known_pages(current, &used.spec());
        let result = sources::fetch_docs(&used, &ctx, &known, &progress).await;
        progress.finish();
        let fetched = match result {
            Ok(f) => f,
            // The package's docs only when nothing better exists: a blip must not replace a
            // good mirror of the site with older docs (the error keeps the last good mirror).
            Err(e)
                if e.is_unreachable()
                    && !has_own_pages(current, source)
                    && opts.fallback.as_ref().is_some_and(|f| f.is_dir()) =>
            {
                let fb = opts.fallback.clone().expect("checked");
                let cause = match &e {
                    SourceError::Site { error, .. } => error.to_string(),
                    other => other.to_string(),
                };
                // The package's docs are the installed version's: link to that version's docs.
                let version = opts
                    .server_version
                    .clone()
                    .or_else(installed_package_version);
                if let (Some(v), Ok(base)) = (&version, Url::parse(&opts.ctx.canonical_base))
                    && let Some(b) = docs_url_for_version(&base, v)
                {
                    ctx.canonical_base = b.to_string();
                }
                used = Source::Dir(fb.clone());
                let f =
                    sources::fetch_docs(&used, &ctx, &HashMap::new(), &Progress::hidden()).await?;
                let warning = format!(
                    "{} is unreachable ({cause}) and nothing was mirrored from it yet: using the installed package's docs at {} ({} pages{}), which may be older; the next run that reaches the site replaces them",
                    source.spec(),
                    fb.display(),
                    f.pages.len(),
                    version.map(|v| format!(", Incus {v}")).unwrap_or_default()
                );
                note = Some(warning.clone());
                g.warnings.push(warning);
                f
            }
            Err(e) => return Err(e),
        };
        let idx = g.sources.len();
        g.sources.push(SourceRecord {
            spec: source.spec(),
            used: used.spec(),
            note,
        });
        g.requests += fetched.requests;
        g.not_modified += fetched.not_modified;
        g.broken_links.extend(fetched.broken_links);
        g.skipped.extend(fetched.skipped);
        g.pages.extend(fetched.pages.into_iter().map(|p| (idx, p)));
    }
    add_server_reference(&mut g, opts, current);
    Ok(g)
}

/// Adds the server's configuration reference to the docs: the one read now, else the one
/// mirrored before (a server that does not answer tonight takes nothing away).
fn add_server_reference(
    g: &mut Gathered,
    opts: &MirrorOptions,
    current: Option<&store::Generation>,
) {
    let (pages, used, note) = match &opts.server_reference {
        Some(r) => {
            let mut base = opts.ctx.canonical_base.clone();
            if let Ok(u) = Url::parse(&base)
                && let Some(b) = docs_url_for_version(&u, &r.version)
            {
                base = b.to_string();
            }
            let pages = r.pages(&base);
            let note = format!(
                "the Incus {} server's own reference: {} key groups",
                r.version,
                pages.len()
            );
            (pages, format!("Incus {} server", r.version), note)
        }
        None => {
            let Some((record, pages)) = current.and_then(previous_reference) else {
                return;
            };
            let note = format!(
                "no server answered: kept {} ({} key groups)",
                record.used,
                pages.len()
            );
            (pages, record.used, note)
        }
    };
    if pages.is_empty() {
        return;
    }
    let idx = g.sources.len();
    g.sources.push(SourceRecord {
        spec: server_config::SPEC.to_string(),
        used,
        note: Some(note),
    });
    g.pages.extend(pages.into_iter().map(|p| (idx, p)));
}

/// The server reference of a mirror generation: its record and its pages, read back.
fn previous_reference(g: &store::Generation) -> Option<(SourceRecord, Vec<SourcePage>)> {
    let i = g
        .manifest
        .sources
        .iter()
        .position(|s| s.spec == server_config::SPEC)?;
    let pages: Vec<SourcePage> = g
        .manifest
        .pages
        .iter()
        .filter(|(_, rec)| rec.source == i)
        .filter_map(|(file, _)| {
            Some(SourcePage {
                file: file.clone(),
                markdown: g.read_verified(file).ok()?,
                validators: None,
            })
        })
        .collect();
    Some((g.manifest.sources[i].clone(), pages))
}

fn gather_local(data: &DataDir, opts: &MirrorOptions) -> Result<Gathered, SourceError> {
    let mut g = Gathered::default();
    let own = data.notes();
    let mut dirs = vec![(own.clone(), "incus-ai".to_string(), true)];
    let mut used_prefixes = vec!["incus-ai".to_string()];
    for d in &opts.local_dirs {
        let base = d
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "notes".into());
        let mut prefix = base.clone();
        let mut n = 2;
        while used_prefixes.contains(&prefix) {
            prefix = format!("{base}-{n}");
            n += 1;
        }
        used_prefixes.push(prefix.clone());
        dirs.push((d.clone(), prefix, false));
    }
    for (dir, prefix, optional) in dirs {
        let notes = sources::local::read_notes(&dir, &prefix, optional)?;
        let idx = g.sources.len();
        g.sources.push(SourceRecord {
            spec: dir.display().to_string(),
            used: dir.display().to_string(),
            note: None,
        });
        g.skipped.extend(notes.skipped);
        g.pages.extend(notes.pages.into_iter().map(|p| (idx, p)));
    }
    Ok(g)
}

/// Mirrors both collections. Each report carries its own error, if any; a failed collection
/// keeps its last good mirror.
pub async fn run(data: &DataDir, opts: &MirrorOptions) -> Vec<CollectionReport> {
    let mut reports = Vec::new();
    for collection in Collection::ALL {
        let start = Instant::now();
        let store = Store::new(data.mirror().join(collection.as_str()));
        let mut healed = Vec::new();
        let result: Result<(Gathered, Changes, usize), MirrorError> = async {
            // A damaged generation (a bad manifest) is mirrored again from scratch.
            let current = match store.current() {
                Ok(c) => c,
                Err(e) => {
                    healed.push(format!("{e}: mirroring {collection} again from scratch"));
                    None
                }
            };
            let gathered = if collection == Collection::Docs {
                gather_docs(opts, current.as_ref()).await?
            } else {
                gather_local(data, opts)?
            };
            let changes = store.commit(gathered.pages.clone(), gathered.sources.clone())?;
            let pages = store.current()?.map_or(0, |g| g.manifest.pages.len());
            Ok((gathered, changes, pages))
        }
        .await;
        let elapsed_ms = start.elapsed().as_millis() as u64;
        let mut report = CollectionReport {
            collection,
            sources: Vec::new(),
            pages: 0,
            changes: Changes::default(),
            requests: 0,
            not_modified: 0,
            broken_links: Vec::new(),
            skipped: Vec::new(),
            warnings: healed,
            elapsed_ms,
            error: None,
        };
        match result {
            Ok((g, changes, pages)) => {
                report.skipped = g.skipped;
                report.skipped.extend(changes.skipped.iter().cloned());
                report.warnings.extend(g.warnings);
                report.sources = g.sources;
                report.pages = pages;
                report.changes = changes;
                report.requests = g.requests;
                report.not_modified = g.not_modified;
                report.broken_links = g.broken_links;
            }
            Err(e) => {
                report.pages = store
                    .current()
                    .ok()
                    .flatten()
                    .map_or(0, |g| g.manifest.pages.len());
                report.error = Some(crate::util::text::error_chain(&e));
            }
        }
        reports.push(report);
    }
    reports
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lts_versions_map_to_their_stable_docs() {
        let main = Url::parse("https://linuxcontainers.org/incus/docs/main/").unwrap();
        assert_eq!(
            docs_url_for_version(&main, "6.0.4").unwrap().as_str(),
            "https://linuxcontainers.org/incus/docs/stable-6.0/"
        );
        assert_eq!(docs_url_for_version(&main, "6.14"), None);
        assert_eq!(docs_url_for_version(&main, "garbage"), None);
        let other = Url::parse("http://127.0.0.1:8000/docs/").unwrap();
        assert_eq!(docs_url_for_version(&other, "6.0.4"), None);
    }
}
