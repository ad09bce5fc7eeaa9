//! Folders that are replaced as a whole: `root/gen-N` plus a `root/current` symlink that is
//! swapped atomically. Used by the mirror and the index, so that readers and interrupted runs
//! only ever see a complete generation.

use std::path::{Path, PathBuf};

/// A root folder holding generations.
#[derive(Debug, Clone)]
pub struct Generations {
    root: PathBuf,
}

impl Generations {
    /// Generations under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Generations { root: root.into() }
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The `current` symlink (a stable path for others to point at).
    pub fn current_link(&self) -> PathBuf {
        self.root.join("current")
    }

    /// The current generation's folder, if there is one.
    pub fn current(&self) -> Option<PathBuf> {
        let target = std::fs::read_link(self.current_link()).ok()?;
        let dir = self.root.join(target);
        dir.is_dir().then_some(dir)
    }

    /// The name of the current generation (`gen-000007`), if any.
    pub fn current_name(&self) -> Option<String> {
        self.current()?
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
    }

    /// Makes generation `name` current again (undoing a publish); it must still exist.
    pub fn relink(&self, name: &str) -> std::io::Result<()> {
        if !self.root.join(name).is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("generation {name} is gone"),
            ));
        }
        let link_tmp = self.root.join("current.tmp");
        let _ = std::fs::remove_file(&link_tmp);
        std::os::unix::fs::symlink(name, &link_tmp)?;
        std::fs::rename(&link_tmp, self.current_link())
    }

    /// Existing generations, oldest first.
    pub fn list(&self) -> Vec<(u64, PathBuf)> {
        let mut out: Vec<(u64, PathBuf)> = std::fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let n = e
                    .file_name()
                    .to_string_lossy()
                    .strip_prefix("gen-")?
                    .parse()
                    .ok()?;
                Some((n, e.path()))
            })
            .collect();
        out.sort();
        out
    }

    /// Removes the temporary folders that interrupted runs left.
    pub fn clean(&self) {
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return;
        };
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().ends_with(".tmp") {
                let p = e.path();
                let _ = if p.is_dir() {
                    std::fs::remove_dir_all(&p)
                } else {
                    std::fs::remove_file(&p)
                };
            }
        }
    }

    /// Starts a new generation: cleans up, returns the new generation's name and its
    /// temporary folder (not created yet).
    pub fn begin(&self) -> std::io::Result<(String, PathBuf)> {
        std::fs::create_dir_all(&self.root)?;
        self.clean();
        let next = self.list().last().map_or(1, |(n, _)| n + 1);
        let name = format!("gen-{next:06}");
        let tmp = self.root.join(format!("{name}.tmp"));
        Ok((name, tmp))
    }

    /// Publishes a complete temporary folder as generation `name` and makes it current; keeps
    /// the previous generation (a reader may still be in it) and removes older ones.
    pub fn publish(&self, name: &str, tmp: &Path) -> std::io::Result<PathBuf> {
        let dir = self.root.join(name);
        std::fs::rename(tmp, &dir)?;
        let link_tmp = self.root.join("current.tmp");
        let _ = std::fs::remove_file(&link_tmp);
        std::os::unix::fs::symlink(name, &link_tmp)?;
        std::fs::rename(&link_tmp, self.current_link())?;
        if let Ok(d) = std::fs::File::open(&self.root) {
            let _ = d.sync_all();
        }
        let gens = self.list();
        let keep_from = gens
            .iter()
            .position(|(_, p)| p.ends_with(name))
            .unwrap_or(0)
            .saturating_sub(1);
        for (_, p) in &gens[..keep_from] {
            let _ = std::fs::remove_dir_all(p);
        }
        Ok(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_swaps_current_and_keeps_one_previous_generation() {
        let d = tempfile::tempdir().unwrap();
        let g = Generations::new(d.path().join("x"));
        assert!(g.current().is_none());
        let mut dirs = Vec::new();
        for i in 0..3 {
            let (name, tmp) = g.begin().unwrap();
            std::fs::create_dir_all(&tmp).unwrap();
            std::fs::write(tmp.join("f"), i.to_string()).unwrap();
            dirs.push(g.publish(&name, &tmp).unwrap());
            assert_eq!(
                std::fs::read_to_string(g.current().unwrap().join("f")).unwrap(),
                i.to_string()
            );
        }
        assert!(!dirs[0].exists() && dirs[1].exists() && dirs[2].exists());
    }

    #[test]
    fn begin_removes_what_an_interrupted_run_left() {
        let d = tempfile::tempdir().unwrap();
        let g = Generations::new(d.path());
        std::fs::create_dir_all(d.path().join("gen-000009.tmp")).unwrap();
        let (name, _) = g.begin().unwrap();
        assert_eq!(name, "gen-000001");
        assert!(!d.path().join("gen-000009.tmp").exists());
    }
}
