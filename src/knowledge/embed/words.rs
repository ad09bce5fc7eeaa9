//! The token-embedding table read from the weights file row by row. It is a third of
//! all-MiniLM-L6-v2's weights (30,522 rows of 384 floats, 47 MB) and a query uses a dozen of
//! its rows: copying it whole was most of the model's load, which a one-query `search`
//! pays every time (`make bench`). The rows a batch needs are read with one positioned read
//! each (a few microseconds, against the milliseconds of the encoder); the file is held
//! open, so a folder replaced by a new install does not change the table under a running
//! `serve`.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use candle_core::{Device, Result, Tensor};
use serde::Deserialize;

/// One tensor in a safetensors header.
#[derive(Deserialize)]
struct TensorInfo {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: (u64, u64),
}

/// A safetensors header larger than this is not a model folder's (all-MiniLM-L6-v2's is
/// 9 KB).
const MAX_HEADER: u64 = 16 << 20;

/// Rows of a `(rows, width)` little-endian f32 tensor in a safetensors file.
pub struct WordTable {
    file: File,
    path: PathBuf,
    /// Byte offset of row 0 in the file.
    start: u64,
    rows: usize,
    width: usize,
}

impl WordTable {
    /// The tensor `name` of the safetensors file `path`, when it is an f32 table of
    /// `rows` × `width` (`None`: another type or shape, which the caller loads whole).
    pub fn open(path: &Path, name: &str, rows: usize, width: usize) -> Result<Option<WordTable>> {
        let err = |what: String| candle_core::Error::Msg(format!("{}: {what}", path.display()));
        let file = File::open(path).map_err(|e| err(e.to_string()))?;
        let mut len = [0u8; 8];
        file.read_exact_at(&mut len, 0)
            .map_err(|e| err(format!("no safetensors header ({e})")))?;
        let header_len = u64::from_le_bytes(len);
        if header_len > MAX_HEADER {
            return Err(err(format!("safetensors header of {header_len} bytes")));
        }
        let mut header = vec![0u8; header_len as usize];
        file.read_exact_at(&mut header, 8)
            .map_err(|e| err(format!("truncated safetensors header ({e})")))?;
        let mut tensors: std::collections::HashMap<String, serde_json::Value> =
            serde_json::from_slice(&header)
                .map_err(|e| err(format!("safetensors header is not JSON ({e})")))?;
        let Some(info) = tensors.remove(name) else {
            return Ok(None);
        };
        let info: TensorInfo = serde_json::from_value(info)
            .map_err(|e| err(format!("tensor {name} is described wrongly ({e})")))?;
        let bytes = (rows * width * 4) as u64;
        if info.dtype != "F32"
            || info.shape != [rows, width]
            || info.data_offsets.1.checked_sub(info.data_offsets.0) != Some(bytes)
        {
            return Ok(None);
        }
        let start = 8 + header_len + info.data_offsets.0;
        let size = file.metadata().map_err(|e| err(e.to_string()))?.len();
        if start + bytes > size {
            return Err(err(format!("tensor {name} ends past the end of the file")));
        }
        Ok(Some(WordTable {
            file,
            path: path.to_path_buf(),
            start,
            rows,
            width,
        }))
    }

    /// The rows of token ids `ids` `(batch, tokens)`, as a `(batch, tokens, width)` tensor.
    pub fn forward(&self, ids: &Tensor, device: &Device) -> Result<Tensor> {
        let (batch, tokens) = ids.dims2()?;
        let ids = ids.flatten_all()?.to_vec1::<u32>()?;
        let mut out = vec![0f32; ids.len() * self.width];
        let mut row = vec![0u8; self.width * 4];
        for (&id, dest) in ids.iter().zip(out.chunks_exact_mut(self.width)) {
            let id = id as usize;
            if id >= self.rows {
                candle_core::bail!("token id {id} is outside the vocabulary of {}", self.rows);
            }
            let at = self.start + (id * self.width * 4) as u64;
            self.file
                .read_exact_at(&mut row, at)
                .map_err(|e| candle_core::Error::Msg(format!("{}: {e}", self.path.display())))?;
            for (d, b) in dest.iter_mut().zip(row.chunks_exact(4)) {
                *d = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
        Tensor::from_vec(out, (batch, tokens, self.width), device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A safetensors file holding `tensors` (name, dtype, shape, little-endian bytes).
    fn write(dir: &Path, tensors: &[(&str, &str, Vec<usize>, Vec<u8>)]) -> PathBuf {
        let mut header = serde_json::Map::new();
        let mut data = Vec::new();
        for (name, dtype, shape, bytes) in tensors {
            let at = data.len();
            data.extend_from_slice(bytes);
            header.insert(
                (*name).to_string(),
                serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [at, data.len()]}),
            );
        }
        let header = serde_json::to_vec(&header).unwrap();
        let mut file = (header.len() as u64).to_le_bytes().to_vec();
        file.extend_from_slice(&header);
        file.extend_from_slice(&data);
        let path = dir.join("model.safetensors");
        std::fs::write(&path, file).unwrap();
        path
    }

    fn floats(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn rows_are_read_as_candle_embedding_gives_them() {
        let dir = tempfile::tempdir().unwrap();
        let table: Vec<f32> = (0..12).map(|i| i as f32 * 0.5 - 1.0).collect();
        let path = write(
            dir.path(),
            &[
                ("other", "F32", vec![2], floats(&[9.0, 9.0])),
                ("words", "F32", vec![4, 3], floats(&table)),
            ],
        );
        let t = WordTable::open(&path, "words", 4, 3).unwrap().unwrap();
        let ids = Tensor::from_vec(vec![3u32, 0, 2, 2], (2, 2), &Device::Cpu).unwrap();
        let got = t.forward(&ids, &Device::Cpu).unwrap();
        let whole = Tensor::from_vec(table, (4, 3), &Device::Cpu).unwrap();
        let want = candle_nn::Embedding::new(whole, 3);
        let want = candle_core::Module::forward(&want, &ids).unwrap();
        assert_eq!(got.dims(), &[2, 2, 3]);
        assert_eq!(
            got.to_vec3::<f32>().unwrap(),
            want.to_vec3::<f32>().unwrap()
        );
        let outside = Tensor::from_vec(vec![4u32], (1, 1), &Device::Cpu).unwrap();
        assert!(t.forward(&outside, &Device::Cpu).is_err());
    }

    #[test]
    fn other_types_and_shapes_are_left_to_a_whole_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            &[
                ("half", "F16", vec![2, 2], vec![0; 8]),
                ("words", "F32", vec![2, 2], floats(&[1.0; 4])),
            ],
        );
        assert!(WordTable::open(&path, "half", 2, 2).unwrap().is_none());
        assert!(WordTable::open(&path, "words", 4, 1).unwrap().is_none());
        assert!(WordTable::open(&path, "missing", 2, 2).unwrap().is_none());
        assert!(WordTable::open(&path, "words", 2, 2).unwrap().is_some());
    }

    #[test]
    fn a_damaged_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.safetensors");
        std::fs::write(&path, [1, 2, 3]).unwrap();
        assert!(WordTable::open(&path, "words", 2, 2).is_err());
        std::fs::write(&path, u64::MAX.to_le_bytes()).unwrap();
        assert!(WordTable::open(&path, "words", 2, 2).is_err());
        // A header promising more data than the file holds.
        let path = write(
            dir.path(),
            &[("words", "F32", vec![2, 2], floats(&[1.0; 4]))],
        );
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 4]).unwrap();
        assert!(WordTable::open(&path, "words", 2, 2).is_err());
    }
}
