//! A `.tar.gz` of the Incus source tree, downloaded and unpacked into the cache.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};
use url::Url;

use super::site::crawl::CrawlOptions;

/// Largest tarball accepted.
const MAX_TARBALL_BYTES: usize = 512 << 20;
/// Most bytes unpacked from one tarball (the Incus source tree is about 40 MB).
pub const MAX_UNPACKED_BYTES: u64 = 1 << 30;
/// Most entries unpacked from one tarball.
pub const MAX_ENTRIES: usize = 200_000;

/// Downloads `url` and unpacks it under `cache`; returns the folder that holds `doc/`.
pub async fn download_and_unpack(
    url: &Url,
    cache: &Path,
    crawl: &CrawlOptions,
) -> Result<PathBuf, String> {
    let client = crate::util::http::client_builder(crawl.timeout * 10)
        .connect_timeout(crawl.timeout.min(Duration::from_secs(10)))
        .build()
        .map_err(|e| e.to_string())?;
    let resp = client.get(url.clone()).send().await.map_err(|e| {
        if e.is_timeout() {
            "timed out".to_string()
        } else if e.is_connect() {
            "cannot connect".to_string()
        } else {
            e.to_string()
        }
    })?;
    if !resp.status().is_success() {
        return Err(format!("HTTP {}", resp.status().as_u16()));
    }
    let bytes = crate::util::http::read_body(resp, MAX_TARBALL_BYTES, "the tarball")
        .await
        .map_err(|e| e.to_string())?;
    let dir = cache.join(format!(
        "tarball-{}",
        &hex::encode(Sha256::digest(url.as_str()))[..16]
    ));
    let dir2 = dir.clone();
    tokio::task::spawn_blocking(move || unpack(&bytes, &dir2))
        .await
        .map_err(|e| e.to_string())??;
    find_source_root(&dir).ok_or_else(|| "no doc/index.md inside the tarball".to_string())
}

/// Unpacks the regular files and folders of a `.tar.gz` into `dir`. Links (symbolic or hard),
/// devices and FIFOs are left out, as are names that are not plain relative paths; the
/// unpacked size and the number of entries are capped, whatever the headers claim.
pub fn unpack(bytes: &[u8], dir: &Path) -> Result<(), String> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| format!("cannot clear {}: {e}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let bad = |e: std::io::Error| format!("not a valid .tar.gz: {e}");
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let mut total: u64 = 0;
    let mut skipped = 0usize;
    for (n, entry) in archive.entries().map_err(bad)?.enumerate() {
        if n >= MAX_ENTRIES {
            return Err(format!("more than {MAX_ENTRIES} entries"));
        }
        let mut entry = entry.map_err(bad)?;
        let kind = entry.header().entry_type();
        let name = entry.path().map_err(bad)?.to_string_lossy().into_owned();
        let name = name.trim_start_matches("./").trim_end_matches('/');
        if name.is_empty() || (kind.is_dir() && name == ".") {
            continue;
        }
        if !crate::util::fsx::is_normal_relative(name) || !(kind.is_file() || kind.is_dir()) {
            skipped += 1;
            continue;
        }
        let dest = dir.join(name);
        if kind.is_dir() {
            std::fs::create_dir_all(&dest).map_err(|e| format!("{}: {e}", dest.display()))?;
            continue;
        }
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        let mut out =
            std::fs::File::create(&dest).map_err(|e| format!("{}: {e}", dest.display()))?;
        let room = MAX_UNPACKED_BYTES - total;
        let written = std::io::copy(&mut (&mut entry).take(room + 1), &mut out).map_err(bad)?;
        total += written;
        if total > MAX_UNPACKED_BYTES {
            return Err(format!(
                "unpacks to more than {MAX_UNPACKED_BYTES} bytes (a tarball bomb?)"
            ));
        }
    }
    if skipped > 0 {
        tracing::info!("tarball: {skipped} links, special files or unsafe names left out");
    }
    Ok(())
}

/// The folder at most two levels down that contains `doc/index.md`.
fn find_source_root(dir: &Path) -> Option<PathBuf> {
    if dir.join("doc/index.md").exists() {
        return Some(dir.to_path_buf());
    }
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.join("doc/index.md").exists() {
            return Some(p);
        }
    }
    None
}
