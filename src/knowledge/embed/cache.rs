//! Vectors of texts already embedded, per model, keyed by the text's sha256: a text that did
//! not change is never embedded again, by the index or the AIChat export (one cache file per
//! model, shared by both).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Vectors of chunk texts already embedded with one model.
pub struct Cache {
    path: PathBuf,
    vectors: HashMap<[u8; 32], Vec<f32>>,
}

const MAGIC: &[u8; 8] = b"IAIEMB1\n";

/// Vectors a cache shared by several data dirs keeps at most (a few copies of the docs).
pub const MAX_SHARED: usize = 200_000;

/// The cache key of a chunk text.
pub fn key(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

impl Cache {
    /// The cache of `model` under `dir` (empty when missing or unreadable).
    pub fn open(dir: &Path, model: &str) -> Cache {
        let name: String = model
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = dir.join(format!("{name}.bin"));
        let vectors = read_cache(&path).unwrap_or_default();
        Cache { path, vectors }
    }

    /// A cached vector.
    pub fn get(&self, key: &[u8; 32]) -> Option<&Vec<f32>> {
        self.vectors.get(key)
    }

    /// Adds a vector.
    pub fn insert(&mut self, key: [u8; 32], v: Vec<f32>) {
        self.vectors.insert(key, v);
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.vectors.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.vectors.is_empty()
    }

    /// Forgets every vector (the model behind the name changed).
    pub fn clear(&mut self) {
        self.vectors.clear();
    }

    /// Writes every vector, with those other runs saved since this cache was opened (texts
    /// of several indexes, mirrors and tests share the file), at most `max` of them.
    pub fn save_all(&mut self, max: usize) -> std::io::Result<()> {
        for (k, v) in read_cache(&self.path).unwrap_or_default() {
            self.vectors.entry(k).or_insert(v);
        }
        if self.vectors.len() > max {
            let drop: Vec<[u8; 32]> = self.vectors.keys().skip(max).copied().collect();
            for k in drop {
                self.vectors.remove(&k);
            }
        }
        let keep: std::collections::HashSet<[u8; 32]> = self.vectors.keys().copied().collect();
        self.save(&keep)
    }

    /// Keeps only the vectors of `keep`, then writes the cache (a temporary file of its own,
    /// then a rename: concurrent runs never mix their writes).
    pub fn save(&mut self, keep: &std::collections::HashSet<[u8; 32]>) -> std::io::Result<()> {
        self.vectors.retain(|k, _| keep.contains(k));
        let mut f = Vec::with_capacity(8 + self.vectors.len() * (36 + 4 * 384));
        f.write_all(MAGIC)?;
        for (k, v) in &self.vectors {
            f.write_all(k)?;
            f.write_all(&(v.len() as u32).to_le_bytes())?;
            for x in v {
                f.write_all(&x.to_le_bytes())?;
            }
        }
        crate::util::fsx::write_atomic(&self.path, &f)
    }
}

fn read_cache(path: &Path) -> std::io::Result<HashMap<[u8; 32], Vec<f32>>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.read_to_end(&mut bytes)?;
    let mut out = HashMap::new();
    if !bytes.starts_with(MAGIC) {
        return Ok(out);
    }
    let mut i = MAGIC.len();
    while i + 36 <= bytes.len() {
        let mut k = [0u8; 32];
        k.copy_from_slice(&bytes[i..i + 32]);
        let n = u32::from_le_bytes(bytes[i + 32..i + 36].try_into().expect("4 bytes")) as usize;
        i += 36;
        if i + n * 4 > bytes.len() {
            break;
        }
        let v = bytes[i..i + n * 4]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        i += n * 4;
        out.insert(k, v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_round_trips_and_prunes() {
        let d = tempfile::tempdir().unwrap();
        let mut c = Cache::open(d.path(), "local:stub-embed");
        assert!(c.is_empty());
        c.insert(key("a"), vec![1.0, 2.0]);
        c.insert(key("b"), vec![3.0, 4.0]);
        c.save(&[key("a")].into_iter().collect()).unwrap();
        let c = Cache::open(d.path(), "local:stub-embed");
        assert_eq!(c.len(), 1);
        assert_eq!(c.get(&key("a")), Some(&vec![1.0, 2.0]));
        assert!(Cache::open(d.path(), "other:model").is_empty());
    }
}
