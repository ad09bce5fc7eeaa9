//! The section vectors of one index generation (`vectors.bin` next to the tantivy files, so
//! they are published and swapped with it): for each section its page, its id (the
//! `section_id` fast field of its document), its collection and its vector, and the model
//! that made them. Dense search is a scan: a few thousand 384-dimension dot products take
//! about a millisecond.

use std::io::{Read, Write};
use std::path::Path;

use crate::knowledge::Collection;

/// File name inside an index generation.
pub const FILE: &str = "vectors.bin";
const MAGIC: &[u8; 8] = b"IAIVEC1\n";
/// Largest vectors file read.
const MAX_BYTES: usize = 1 << 30;

/// One section's place in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// [`super::schema::page_id`] of its page.
    pub page_id: u64,
    /// Its `section_id`.
    pub section_id: u64,
    /// Its collection.
    pub collection: Collection,
}

/// The vectors of an index generation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vectors {
    /// The model's id (`all-MiniLM-L6-v2`).
    pub model: String,
    /// Vector length.
    pub dim: usize,
    /// One per section, in the order of `data`.
    pub entries: Vec<Entry>,
    /// `entries.len() * dim` values.
    pub data: Vec<f32>,
}

impl Vectors {
    /// Empty vectors of `model`.
    pub fn new(model: &str, dim: usize) -> Vectors {
        Vectors {
            model: model.to_string(),
            dim,
            ..Vectors::default()
        }
    }

    /// Adds a section's vector (of length `dim`).
    pub fn push(&mut self, entry: Entry, v: &[f32]) {
        debug_assert_eq!(v.len(), self.dim);
        self.entries.push(entry);
        self.data.extend_from_slice(v);
    }

    /// The vector of entry `i`.
    pub fn vector(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// Keeps only the entries of pages `keep` accepts.
    pub fn retain_pages(&mut self, keep: impl Fn(u64) -> bool) {
        let dim = self.dim;
        let mut entries = Vec::with_capacity(self.entries.len());
        let mut data = Vec::with_capacity(self.data.len());
        for (i, e) in self.entries.iter().enumerate() {
            if keep(e.page_id) {
                entries.push(*e);
                data.extend_from_slice(&self.data[i * dim..(i + 1) * dim]);
            }
        }
        self.entries = entries;
        self.data = data;
    }

    /// The `k` sections most similar to `query` (a normalised vector) in `collection`
    /// (`None`: both), best first, with their cosine.
    pub fn top(&self, query: &[f32], collection: Option<Collection>, k: usize) -> Vec<(u64, f32)> {
        if query.len() != self.dim || self.dim == 0 {
            return Vec::new();
        }
        let mut scored: Vec<(u64, f32)> = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| collection.is_none_or(|c| e.collection == c))
            .map(|(i, e)| {
                let v = self.vector(i);
                (e.section_id, v.iter().zip(query).map(|(a, b)| a * b).sum())
            })
            .collect();
        let k = k.min(scored.len());
        if k == 0 {
            return Vec::new();
        }
        scored.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1));
        scored.truncate(k);
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        scored
    }

    /// Reads `dir/vectors.bin`; `None` when it is missing or damaged (search is BM25 alone).
    pub fn read(dir: &Path) -> Option<Vectors> {
        let mut bytes = Vec::new();
        std::fs::File::open(dir.join(FILE))
            .ok()?
            .take(MAX_BYTES as u64)
            .read_to_end(&mut bytes)
            .ok()?;
        let rest = bytes.strip_prefix(MAGIC)?;
        let (n_model, rest) = take_u32(rest)?;
        let model = std::str::from_utf8(rest.get(..n_model as usize)?)
            .ok()?
            .to_string();
        let rest = &rest[n_model as usize..];
        let (dim, rest) = take_u32(rest)?;
        let (count, mut rest) = take_u32(rest)?;
        let (dim, count) = (dim as usize, count as usize);
        let entry_len = 8 + 8 + 1 + 4 * dim;
        if rest.len() != count.checked_mul(entry_len)? {
            return None;
        }
        let mut out = Vectors::new(&model, dim);
        out.entries.reserve(count);
        out.data.reserve(count * dim);
        for _ in 0..count {
            let page_id = u64::from_le_bytes(rest[..8].try_into().ok()?);
            let section_id = u64::from_le_bytes(rest[8..16].try_into().ok()?);
            let collection = match rest[16] {
                0 => Collection::Docs,
                1 => Collection::Local,
                _ => return None,
            };
            out.entries.push(Entry {
                page_id,
                section_id,
                collection,
            });
            out.data.extend(
                rest[17..entry_len]
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            );
            rest = &rest[entry_len..];
        }
        Some(out)
    }

    /// Writes `dir/vectors.bin` by a rename (the file may be a hard link into the previous
    /// generation, which must not change).
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let mut f = Vec::with_capacity(32 + self.entries.len() * (17 + 4 * self.dim));
        f.write_all(MAGIC)?;
        f.write_all(&(self.model.len() as u32).to_le_bytes())?;
        f.write_all(self.model.as_bytes())?;
        f.write_all(&(self.dim as u32).to_le_bytes())?;
        f.write_all(&(self.entries.len() as u32).to_le_bytes())?;
        for (i, e) in self.entries.iter().enumerate() {
            f.write_all(&e.page_id.to_le_bytes())?;
            f.write_all(&e.section_id.to_le_bytes())?;
            f.write_all(&[match e.collection {
                Collection::Docs => 0,
                Collection::Local => 1,
            }])?;
            for x in self.vector(i) {
                f.write_all(&x.to_le_bytes())?;
            }
        }
        crate::util::fsx::write_atomic(&dir.join(FILE), &f)
    }
}

fn take_u32(b: &[u8]) -> Option<(u32, &[u8])> {
    let (head, rest) = b.split_at_checked(4)?;
    Some((u32::from_le_bytes(head.try_into().ok()?), rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_round_trip_rank_and_drop_pages() {
        let d = tempfile::tempdir().unwrap();
        let mut v = Vectors::new("m", 2);
        let e = |p, s, c| Entry {
            page_id: p,
            section_id: s,
            collection: c,
        };
        v.push(e(1, 10, Collection::Docs), &[1.0, 0.0]);
        v.push(e(1, 11, Collection::Docs), &[0.6, 0.8]);
        v.push(e(2, 20, Collection::Local), &[0.0, 1.0]);
        v.write(d.path()).unwrap();
        let r = Vectors::read(d.path()).unwrap();
        assert_eq!(r, v);
        let top = r.top(&[0.0, 1.0], None, 2);
        assert_eq!(top.iter().map(|t| t.0).collect::<Vec<_>>(), vec![20, 11]);
        let docs = r.top(&[0.0, 1.0], Some(Collection::Docs), 5);
        assert_eq!(docs.iter().map(|t| t.0).collect::<Vec<_>>(), vec![11, 10]);
        assert!(r.top(&[1.0], None, 3).is_empty(), "a query of another size");
        let mut r = r;
        r.retain_pages(|p| p != 1);
        assert_eq!(r.entries.len(), 1);
        assert_eq!(r.vector(0), &[0.0, 1.0]);
        std::fs::write(d.path().join(FILE), b"IAIVEC1\ngarbage").unwrap();
        assert!(Vectors::read(d.path()).is_none());
    }
}
