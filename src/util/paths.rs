//! Where incus-ai keeps its files, following the XDG base directory convention.

use std::path::PathBuf;

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

fn xdg(var: &str, fallback: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(v) if !v.is_empty() && PathBuf::from(&v).is_absolute() => PathBuf::from(v),
        _ => home().join(fallback),
    }
}

/// `$XDG_DATA_HOME` (default `~/.local/share`).
pub fn xdg_data_home() -> PathBuf {
    xdg("XDG_DATA_HOME", ".local/share")
}

/// `$XDG_CACHE_HOME` (default `~/.cache`).
pub fn xdg_cache_home() -> PathBuf {
    xdg("XDG_CACHE_HOME", ".cache")
}

/// `$XDG_DATA_HOME/incus-ai` (default `~/.local/share/incus-ai`).
pub fn default_data_dir() -> PathBuf {
    xdg("XDG_DATA_HOME", ".local/share").join("incus-ai")
}

/// `$XDG_CONFIG_HOME/incus-ai/config.toml` (default `~/.config/incus-ai/config.toml`).
pub fn default_config_file() -> PathBuf {
    xdg("XDG_CONFIG_HOME", ".config")
        .join("incus-ai")
        .join("config.toml")
}

/// `$XDG_CONFIG_HOME` itself (default `~/.config`), for finding other tools' configuration.
pub fn config_home() -> PathBuf {
    xdg("XDG_CONFIG_HOME", ".config")
}

/// The layout of the data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    /// The root, e.g. `~/.local/share/incus-ai`.
    pub root: PathBuf,
}

impl DataDir {
    /// Wraps a data directory root.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DataDir { root: root.into() }
    }
    /// Mirrors, one folder per collection.
    pub fn mirror(&self) -> PathBuf {
        self.root.join("mirror")
    }
    /// The tantivy index.
    pub fn index(&self) -> PathBuf {
        self.root.join("index")
    }
    /// incus-ai's own notes folder (always part of the `local` collection; `snapshot` writes here).
    pub fn notes(&self) -> PathBuf {
        self.root.join("notes")
    }
    /// Downloads and other re-creatable data.
    pub fn cache(&self) -> PathBuf {
        self.root.join("cache")
    }
    /// Generations of the AIChat RAG files, one folder per RAG name.
    pub fn aichat(&self) -> PathBuf {
        self.root.join("aichat")
    }
    /// The lock file that serializes runs that write.
    pub fn lock_file(&self) -> PathBuf {
        self.root.join("lock")
    }
}
