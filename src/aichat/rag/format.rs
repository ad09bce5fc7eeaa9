//! AIChat's RAG file format (`RagData`, serde_yaml 0.9 compatible), as AIChat reads it.

use std::collections::BTreeMap;

use base64::Engine;
use serde::{Deserialize, Serialize};

/// AIChat's `RagData`, as it reads it.
#[derive(Debug, Serialize, Deserialize)]
pub struct RagData {
    /// `client:model`.
    pub embedding_model: String,
    /// Splitter chunk size.
    pub chunk_size: usize,
    /// Splitter overlap.
    pub chunk_overlap: usize,
    /// Reranker, if any.
    pub reranker_model: Option<String>,
    /// Chunks per query.
    pub top_k: usize,
    /// Embedding batch size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    /// Next file id for AIChat's own additions.
    pub next_file_id: usize,
    /// What `--rebuild-rag` reloads.
    pub document_paths: Vec<String>,
    /// Files by id (integer YAML keys).
    pub files: BTreeMap<usize, RagFile>,
    /// `F-C` → base64 of the little-endian f32 vector.
    pub vectors: BTreeMap<String, String>,
}

/// One source file of a RAG.
#[derive(Debug, Serialize, Deserialize)]
pub struct RagFile {
    /// sha256 of the file's text.
    pub hash: String,
    /// Absolute path.
    pub path: String,
    /// Its chunks.
    pub documents: Vec<RagDocument>,
}

/// One chunk.
#[derive(Debug, Serialize, Deserialize)]
pub struct RagDocument {
    /// The text AIChat shows the model.
    pub page_content: String,
    /// Kept by AIChat, not shown.
    pub metadata: BTreeMap<String, String>,
}

/// A vector as AIChat stores it: base64 of the little-endian f32s.
pub fn encode(v: &[f32]) -> String {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A RAG name is a plain file name: `incus`, `incus-test`, `docs_6.0`.
pub fn valid_rag_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_vectors() {
        assert!(valid_rag_name("incus") && valid_rag_name("docs_6.0-x"));
        for bad in ["", ".hidden", "../x", "a/b", "a b", &"x".repeat(65)] {
            assert!(!valid_rag_name(bad), "{bad}");
        }
        assert_eq!(encode(&[1.0, 0.0]), "AACAPwAAAAA=");
    }
}
