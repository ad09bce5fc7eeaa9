//! A sentence-transformers model run in process with candle: a BERT-family model folder
//! (`config.json`, `model.safetensors`, `tokenizer.json`, `1_Pooling/config.json`,
//! `sentence_bert_config.json`, `modules.json`), its pooling (mean or CLS) and maximum
//! sequence length honoured, vectors L2-normalised when the folder says so (and for mean
//! pooling by default). No Python, no download: everything comes from the folder.

use std::path::{Path, PathBuf};

use super::bert::{Bert, Config};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use serde::Deserialize;
use tokenizers::{Tokenizer, TruncationParams};

/// Why a model folder cannot be used. Names the path and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The folder or one of its files is missing.
    #[error(
        "embedding model {path} is missing {what}; install it with `make setup` (scripts/setup.sh) or point [embeddings] model_dir / INCUS_AI_MODEL_DIR at a sentence-transformers folder"
    )]
    Missing {
        /// The folder.
        path: PathBuf,
        /// What is missing.
        what: String,
    },
    /// A file that does not load.
    #[error("embedding model {path} is damaged ({detail}); install it again with `make setup`")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// Running the model failed.
    #[error("embedding model {path}: {detail}")]
    Run {
        /// The folder.
        path: PathBuf,
        /// Why.
        detail: String,
    },
}

/// How token vectors become one text vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// The mean over the tokens the attention mask keeps.
    Mean,
    /// The first token's vector.
    Cls,
}

#[derive(Deserialize, Default)]
struct PoolingConfig {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode: Option<String>,
}

#[derive(Deserialize, Default)]
struct SentenceBertConfig {
    #[serde(default)]
    max_seq_length: Option<usize>,
}

#[derive(Deserialize)]
struct Module {
    #[serde(rename = "type", default)]
    kind: String,
}

/// The tokenizer of `path`, truncating at `max_tokens` and not padding (batches are padded
/// by hand, to each batch's longest, on the right, so encodings keep their own length), with
/// the folder's pad token.
fn load_tokenizer(path: &Path, max_tokens: usize) -> Result<(Tokenizer, u32), ModelError> {
    let corrupt = |e: &dyn std::fmt::Display| ModelError::Corrupt {
        path: path.to_path_buf(),
        detail: e.to_string(),
    };
    let mut tokenizer = Tokenizer::from_file(path).map_err(|e| corrupt(&e))?;
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length: max_tokens,
            ..TruncationParams::default()
        }))
        .map_err(|e| corrupt(&e))?;
    let pad_id = tokenizer.get_padding().map_or(0, |p| p.pad_id);
    tokenizer.with_padding(None);
    Ok((tokenizer, pad_id))
}

/// A loaded model.
pub struct LocalModel {
    dir: PathBuf,
    model: Bert,
    tokenizer: Tokenizer,
    pooling: Pooling,
    normalize: bool,
    dimensions: usize,
    max_tokens: usize,
    /// The token that fills a batch's shorter rows.
    pad_id: u32,
    device: Device,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, ModelError> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| ModelError::Corrupt {
                path: path.to_path_buf(),
                detail: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ModelError::Corrupt {
            path: path.to_path_buf(),
            detail: e.to_string(),
        }),
    }
}

impl LocalModel {
    /// Loads the model in `dir`.
    pub fn load(dir: &Path) -> Result<LocalModel, ModelError> {
        let missing = |what: &str| ModelError::Missing {
            path: dir.to_path_buf(),
            what: what.to_string(),
        };
        if !dir.is_dir() {
            return Err(missing("(the folder does not exist)"));
        }
        let config_path = dir.join("config.json");
        let config: Config = read_json(&config_path)?.ok_or_else(|| missing("config.json"))?;
        let weights = dir.join("model.safetensors");
        if !weights.is_file() {
            return Err(missing("model.safetensors"));
        }
        let corrupt = |path: &Path, e: &dyn std::fmt::Display| ModelError::Corrupt {
            path: path.to_path_buf(),
            detail: e.to_string(),
        };
        let tok_path = dir.join("tokenizer.json");
        if !tok_path.is_file() {
            return Err(missing("tokenizer.json"));
        }
        let st: SentenceBertConfig =
            read_json(&dir.join("sentence_bert_config.json"))?.unwrap_or_default();
        let max_tokens = st
            .max_seq_length
            .unwrap_or(512)
            .min(config.max_position_embeddings);
        let device = Device::Cpu;
        // The tokenizer (a 700 KB JSON file) is read on a second core while the weights load.
        let (model, tokenizer) = std::thread::scope(|s| {
            let tokenizer = s.spawn(|| load_tokenizer(&tok_path, max_tokens));
            let model = {
                // SAFETY: the map is read only while the model is built (every tensor is copied
                // into memory of its own) and dropped at the end of this block. Memory-mapped,
                // the weights cost one copy instead of two: the load takes half the time.
                let vb = unsafe {
                    VarBuilder::from_mmaped_safetensors(
                        std::slice::from_ref(&weights),
                        DType::F32,
                        &device,
                    )
                }
                .map_err(|e| corrupt(&weights, &e));
                vb.and_then(|vb| {
                    Bert::load(vb, &config, &weights).map_err(|e| corrupt(&weights, &e))
                })
            };
            let tokenizer = tokenizer
                .join()
                .unwrap_or_else(|_| Err(corrupt(&tok_path, &"the tokenizer failed to load")));
            (model, tokenizer)
        });
        let model = model?;
        let (tokenizer, pad_id) = tokenizer?;
        let pool: PoolingConfig =
            read_json(&dir.join("1_Pooling/config.json"))?.unwrap_or_default();
        let pooling = match pool.pooling_mode.as_deref() {
            Some("cls") => Pooling::Cls,
            Some(_) => Pooling::Mean,
            None if pool.pooling_mode_cls_token && !pool.pooling_mode_mean_tokens => Pooling::Cls,
            None => Pooling::Mean,
        };
        let modules: Option<Vec<Module>> = read_json(&dir.join("modules.json"))?;
        let normalize = match &modules {
            Some(m) => m.iter().any(|m| m.kind.ends_with("Normalize")),
            None => true,
        };
        Ok(LocalModel {
            dir: dir.to_path_buf(),
            model,
            tokenizer,
            pooling,
            normalize,
            dimensions: config.hidden_size,
            max_tokens,
            pad_id,
            device,
        })
    }

    /// Length of the vectors.
    pub fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// Longest input, in tokens (longer texts are cut).
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// The folder the model came from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Number of tokens of `text` (special tokens included), at most [`Self::max_tokens`].
    pub fn count_tokens(&self, text: &str) -> usize {
        self.tokenizer
            .encode(text, true)
            .map_or(0, |e| e.get_ids().len())
    }

    fn run_err(&self, e: impl std::fmt::Display) -> ModelError {
        ModelError::Run {
            path: self.dir.clone(),
            detail: e.to_string(),
        }
    }

    /// Embeds one batch of texts (padded to the longest).
    pub fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ModelError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let enc = self.encode(texts)?;
        let rows: Vec<&[u32]> = enc.iter().map(Vec::as_slice).collect();
        self.forward(&rows)
    }

    /// Token ids of each text (special tokens added, truncated to the model's length, no
    /// padding).
    fn encode(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>, ModelError> {
        let enc = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| self.run_err(e))?;
        Ok(enc.iter().map(|e| e.get_ids().to_vec()).collect())
    }

    /// The pooled (and, as the folder says, normalised) vectors of token id rows, padded to the
    /// longest row with the pad token and a zero attention mask.
    fn forward(&self, rows: &[&[u32]]) -> Result<Vec<Vec<f32>>, ModelError> {
        let (b, l) = (rows.len(), rows.iter().map(|r| r.len()).max().unwrap_or(0));
        let mut ids = Vec::with_capacity(b * l);
        let mut mask = Vec::with_capacity(b * l);
        for r in rows {
            ids.extend_from_slice(r);
            ids.extend(std::iter::repeat_n(self.pad_id, l - r.len()));
            mask.extend(std::iter::repeat_n(1u32, r.len()));
            mask.extend(std::iter::repeat_n(0u32, l - r.len()));
        }
        let out = (|| -> candle_core::Result<Vec<Vec<f32>>> {
            let ids = Tensor::from_vec(ids, (b, l), &self.device)?;
            let mask = Tensor::from_vec(mask, (b, l), &self.device)?;
            let hidden = self.model.forward(&ids, &mask)?;
            let pooled = match self.pooling {
                Pooling::Cls => hidden.narrow(1, 0, 1)?.squeeze(1)?,
                Pooling::Mean => {
                    let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
                    let sum = hidden.broadcast_mul(&m)?.sum(1)?;
                    sum.broadcast_div(&m.sum(1)?.clamp(1e-9f32, f32::MAX)?)?
                }
            };
            let pooled = if self.normalize {
                let norm = pooled
                    .sqr()?
                    .sum_keepdim(1)?
                    .sqrt()?
                    .clamp(1e-12f32, f32::MAX)?;
                pooled.broadcast_div(&norm)?
            } else {
                pooled
            };
            pooled.to_vec2::<f32>()
        })();
        out.map_err(|e| self.run_err(e))
    }

    /// Embeds `texts` in batches of similar length (less padding), in input order.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ModelError> {
        self.embed_with(texts, &mut |_| {})
    }

    /// [`LocalModel::embed`], calling `done` with the number of texts of each finished batch
    /// (for a progress bar). A batch holds at most [`BATCH_TEXTS`] texts and
    /// [`BATCH_TOKENS`] tokens with its padding, which bounds the attention's memory (8
    /// texts of 256 tokens: 25 MB of scores a layer) whatever the texts. Measured on the docs
    /// site: 4,096 tokens a batch peaked at 468 MB, 2,048 at 292 MB, as fast (82 s for 4,003
    /// sections).
    pub fn embed_with(
        &self,
        texts: &[&str],
        done: &mut dyn FnMut(usize),
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        let mut out = vec![Vec::new(); texts.len()];
        // Tokenized a slice at a time, so the ids of a whole corpus are never held at once.
        for part in (0..texts.len()).collect::<Vec<_>>().chunks(1024) {
            let slice: Vec<&str> = part.iter().map(|&i| texts[i]).collect();
            let enc = self.encode(&slice)?;
            let mut order: Vec<usize> = (0..enc.len()).collect();
            order.sort_by_key(|&i| enc[i].len());
            let mut batch: Vec<usize> = Vec::new();
            let mut flush = |batch: &mut Vec<usize>| -> Result<(), ModelError> {
                if batch.is_empty() {
                    return Ok(());
                }
                let rows: Vec<&[u32]> = batch.iter().map(|&i| enc[i].as_slice()).collect();
                for (&i, v) in batch.iter().zip(self.forward(&rows)?) {
                    out[part[i]] = v;
                }
                done(batch.len());
                batch.clear();
                Ok(())
            };
            for i in order {
                // Sorted by length: this text is the longest of the batch so far.
                let longest = enc[i].len().max(1);
                if batch.len() == BATCH_TEXTS || (batch.len() + 1) * longest > BATCH_TOKENS {
                    flush(&mut batch)?;
                }
                batch.push(i);
            }
            flush(&mut batch)?;
        }
        Ok(out)
    }
}

/// Most texts in one forward pass.
pub const BATCH_TEXTS: usize = 32;
/// Most tokens (padding included) in one forward pass.
pub const BATCH_TOKENS: usize = 2048;

/// Cosine of two vectors (their dot product when both are L2-normalised).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}
