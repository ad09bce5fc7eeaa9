//! The BERT encoder of sentence-transformers models such as all-MiniLM-L6-v2: token, position
//! and segment embeddings, then `num_hidden_layers` blocks of self-attention and feed-forward,
//! each followed by a residual layer norm. Only what those models use (absolute positions, no
//! decoder, no pooler); written here rather than pulling in a crate of a hundred models.

use std::path::Path;

use candle_core::{DType, Module, Result, Tensor};
use candle_nn::{Embedding, LayerNorm, Linear, VarBuilder, embedding, layer_norm, linear};
use serde::Deserialize;

use super::words::WordTable;

/// The model's `config.json` (the fields an encoder needs).
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// Tokens in the vocabulary.
    pub vocab_size: usize,
    /// Width of every token vector.
    pub hidden_size: usize,
    /// Encoder blocks.
    pub num_hidden_layers: usize,
    /// Attention heads per block.
    pub num_attention_heads: usize,
    /// Width of the feed-forward layer.
    pub intermediate_size: usize,
    /// The feed-forward activation: `gelu` (exact), `gelu_new`/`gelu_pytorch_tanh`, `relu`.
    #[serde(default = "default_act")]
    pub hidden_act: String,
    /// Longest input, in tokens.
    pub max_position_embeddings: usize,
    /// Segment types.
    #[serde(default = "default_types")]
    pub type_vocab_size: usize,
    /// Layer norm epsilon.
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    /// `absolute` is the only kind supported.
    #[serde(default)]
    pub position_embedding_type: Option<String>,
}

fn default_act() -> String {
    "gelu".into()
}

fn default_types() -> usize {
    2
}

fn default_eps() -> f64 {
    1e-12
}

/// The feed-forward activation.
#[derive(Debug, Clone, Copy)]
enum Activation {
    GeluErf,
    GeluTanh,
    Relu,
}

impl Activation {
    fn of(name: &str) -> Result<Activation> {
        Ok(match name {
            "gelu" => Activation::GeluErf,
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Activation::GeluTanh,
            "relu" => Activation::Relu,
            other => candle_core::bail!("unsupported hidden_act {other:?}"),
        })
    }

    fn apply(self, x: &Tensor) -> Result<Tensor> {
        match self {
            Activation::GeluErf => x.gelu_erf(),
            Activation::GeluTanh => x.gelu(),
            Activation::Relu => x.relu(),
        }
    }
}

/// The token-embedding table: read row by row from the weights file, or loaded whole when
/// the file holds it in another type.
enum Words {
    Rows(WordTable),
    Loaded(Embedding),
}

impl Words {
    fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        match self {
            Words::Rows(t) => t.forward(ids, ids.device()),
            Words::Loaded(e) => e.forward(ids),
        }
    }
}

struct Embeddings {
    words: Words,
    positions: Embedding,
    types: Embedding,
    norm: LayerNorm,
}

struct Block {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_out: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

/// A loaded encoder.
pub struct Bert {
    embeddings: Embeddings,
    blocks: Vec<Block>,
    heads: usize,
    activation: Activation,
}

impl Bert {
    /// Loads the weights under `vb` (at the root, or under `bert.` as some checkpoints name
    /// them); `weights` is the safetensors file `vb` reads, whose token table is read row by
    /// row ([`WordTable`]).
    pub fn load(vb: VarBuilder, c: &Config, weights: &Path) -> Result<Bert> {
        if let Some(kind) = c.position_embedding_type.as_deref()
            && kind != "absolute"
        {
            candle_core::bail!("unsupported position_embedding_type {kind:?}");
        }
        if c.num_attention_heads == 0 || !c.hidden_size.is_multiple_of(c.num_attention_heads) {
            candle_core::bail!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                c.hidden_size,
                c.num_attention_heads
            );
        }
        const WORDS: &str = "embeddings.word_embeddings.weight";
        let (vb, words) = if vb.contains_tensor(WORDS) {
            (vb, WORDS.to_string())
        } else {
            (vb.pp("bert"), format!("bert.{WORDS}"))
        };
        let h = c.hidden_size;
        let e = vb.pp("embeddings");
        let words = match WordTable::open(weights, &words, c.vocab_size, h)? {
            Some(t) => Words::Rows(t),
            None => Words::Loaded(embedding(c.vocab_size, h, e.pp("word_embeddings"))?),
        };
        let embeddings = Embeddings {
            words,
            positions: embedding(c.max_position_embeddings, h, e.pp("position_embeddings"))?,
            types: embedding(c.type_vocab_size, h, e.pp("token_type_embeddings"))?,
            norm: layer_norm(h, c.layer_norm_eps, e.pp("LayerNorm"))?,
        };
        let blocks = (0..c.num_hidden_layers)
            .map(|i| {
                let l = vb.pp(format!("encoder.layer.{i}"));
                let a = l.pp("attention");
                Ok(Block {
                    query: linear(h, h, a.pp("self.query"))?,
                    key: linear(h, h, a.pp("self.key"))?,
                    value: linear(h, h, a.pp("self.value"))?,
                    attention_out: linear(h, h, a.pp("output.dense"))?,
                    attention_norm: layer_norm(h, c.layer_norm_eps, a.pp("output.LayerNorm"))?,
                    intermediate: linear(h, c.intermediate_size, l.pp("intermediate.dense"))?,
                    output: linear(c.intermediate_size, h, l.pp("output.dense"))?,
                    output_norm: layer_norm(h, c.layer_norm_eps, l.pp("output.LayerNorm"))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Bert {
            embeddings,
            blocks,
            heads: c.num_attention_heads,
            activation: Activation::of(&c.hidden_act)?,
        })
    }

    /// The last hidden states `(batch, tokens, hidden)` of token ids `(batch, tokens)`, where
    /// `mask` is 1 for real tokens and 0 for padding (all one segment).
    pub fn forward(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (_, len) = ids.dims2()?;
        let e = &self.embeddings;
        let positions = Tensor::arange(0u32, len as u32, ids.device())?.unsqueeze(0)?;
        let x = e
            .words
            .forward(ids)?
            .broadcast_add(&e.positions.forward(&positions)?)?
            .broadcast_add(&e.types.forward(&ids.zeros_like()?)?)?;
        let mut x = e.norm.forward(&x)?;
        // Padding gets the most negative score, so attention gives it nothing.
        let bias = ((mask.to_dtype(DType::F32)? - 1.0)?.abs()? * f64::from(f32::MIN))?
            .unsqueeze(1)?
            .unsqueeze(1)?;
        for b in &self.blocks {
            x = self.block(b, &x, &bias)?;
        }
        Ok(x)
    }

    fn block(&self, b: &Block, x: &Tensor, bias: &Tensor) -> Result<Tensor> {
        let (n, len, hidden) = x.dims3()?;
        let d = hidden / self.heads;
        let split = |t: Tensor| -> Result<Tensor> {
            t.reshape((n, len, self.heads, d))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = split(b.query.forward(x)?)?;
        let k = split(b.key.forward(x)?)?;
        let v = split(b.value.forward(x)?)?;
        let scores = (q.matmul(&k.t()?)? / (d as f64).sqrt())?;
        let probs = candle_nn::ops::softmax_last_dim(&scores.broadcast_add(bias)?)?;
        let context = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((n, len, hidden))?;
        let attended = b
            .attention_norm
            .forward(&(b.attention_out.forward(&context)? + x)?)?;
        let inner = self.activation.apply(&b.intermediate.forward(&attended)?)?;
        b.output_norm
            .forward(&(b.output.forward(&inner)? + attended)?)
    }
}
