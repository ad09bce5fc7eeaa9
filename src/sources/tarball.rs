//! A `.tar.gz` of the Incus source tree, downloaded and unpacked into the cache.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};
use url::Url;

use crate::config::CrawlConfig;

/// Largest tarball accepted.
const MAX_TARBALL_BYTES: usize = 512 << 20;

/// Downloads `url` and unpacks it under `cache`; returns the folder that holds `doc/`.
pub async fn download_and_unpack(
    url: &Url,
    cache: &Path,
    crawl: &CrawlConfig,
) -> Result<PathBuf, String> {
    let client = reqwest::Client::builder()
        .user_agent(concat!("incus-ai/", env!("CARGO_PKG_VERSION")))
        .timeout(Duration::from_secs(crawl.timeout_secs.max(1) * 10))
        .connect_timeout(Duration::from_secs(crawl.timeout_secs.clamp(1, 10)))
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())?;
    let mut resp = client.get(url.clone()).send().await.map_err(|e| {
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
    let mut bytes = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_TARBALL_BYTES {
            return Err(format!("larger than {MAX_TARBALL_BYTES} bytes"));
        }
    }
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

fn unpack(bytes: &[u8], dir: &Path) -> Result<(), String> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| format!("cannot clear {}: {e}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let gz = flate2::read::GzDecoder::new(bytes);
    // `unpack` refuses entries that would land outside `dir`.
    tar::Archive::new(gz)
        .unpack(dir)
        .map_err(|e| format!("not a valid .tar.gz: {e}"))
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
