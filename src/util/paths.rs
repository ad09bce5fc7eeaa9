//! Where incus-ai keeps its files, following the XDG base directory convention.

use std::path::PathBuf;

/// The XDG variables whose defaults are under `HOME`.
const XDG_VARS: [&str; 3] = ["XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"];

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .filter(|h| h.is_absolute())
}

fn xdg_var(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .map(PathBuf::from)
        .filter(|v| v.is_absolute())
}

/// Says why the folders cannot be found when `HOME` is unset (or not an absolute path) and
/// an XDG variable that would stand in for it is missing; `None` when they can. Every
/// command checks this first, so no path is ever made under `/` by accident.
pub fn home_problem() -> Option<String> {
    if home().is_some() {
        return None;
    }
    let missing: Vec<&str> = XDG_VARS
        .into_iter()
        .filter(|v| xdg_var(v).is_none())
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "HOME is not set (or not an absolute path): incus-ai keeps its data, configuration and cache under it; set HOME, or set {}",
            missing.join(", ")
        )
    })
}

fn xdg(var: &str, fallback: &str) -> PathBuf {
    xdg_var(var)
        .or_else(|| home().map(|h| h.join(fallback)))
        // Unreachable from the commands (they check `home_problem` first): a relative path
        // stays under the working folder rather than under `/`.
        .unwrap_or_else(|| PathBuf::from(fallback))
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
    /// The token an MCP HTTP client shows to be offered changes (`mcp --listen --allow-changes`).
    pub fn mcp_token(&self) -> PathBuf {
        self.root.join("mcp-token")
    }
    /// The lock file that serializes runs that write.
    pub fn lock_file(&self) -> PathBuf {
        self.root.join("lock")
    }

    /// Every folder that holds generations: the index, each collection's mirror, each RAG
    /// name's files.
    pub fn generation_roots(&self) -> Vec<PathBuf> {
        let subdirs = |dir: PathBuf| -> Vec<PathBuf> {
            std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        };
        let mut roots = vec![self.index()];
        roots.extend(subdirs(self.mirror()));
        roots.extend(subdirs(self.aichat()));
        roots
    }

    /// Takes the run lock for a run that writes (waiting up to `wait`). When the run ends,
    /// still under the lock, whatever it left half-written is removed: a run that failed (a
    /// full disk, a source or an endpoint down) gives back the space of its partial
    /// generations at once.
    pub fn lock(
        &self,
        wait: std::time::Duration,
    ) -> Result<WriteLock, crate::util::lock::LockError> {
        Ok(WriteLock {
            roots: self.clone(),
            _lock: crate::util::lock::RunLock::acquire(&self.lock_file(), wait)?,
        })
    }
}

/// The run lock of a data dir; see [`DataDir::lock`].
#[derive(Debug)]
pub struct WriteLock {
    roots: DataDir,
    _lock: crate::util::lock::RunLock,
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        for root in self.roots.generation_roots() {
            crate::util::generations::Generations::new(root).clean();
        }
    }
}
