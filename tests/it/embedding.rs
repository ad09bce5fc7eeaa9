//! The local embedding model (all-MiniLM-L6-v2, installed by `make setup`) against the
//! reference values of sentence-transformers, and a missing or damaged model folder.

use incus_ai::knowledge::embed::{LocalModel, cosine, model_dir};

fn model() -> LocalModel {
    let dir = model_dir(None);
    LocalModel::load(&dir).unwrap_or_else(|e| panic!("{e} (make setup installs the model)"))
}

fn sim(m: &LocalModel, a: &str, b: &str) -> f32 {
    let v = m.embed(&[a, b]).unwrap();
    cosine(&v[0], &v[1])
}

#[test]
fn the_rust_model_gives_the_reference_similarities() {
    let m = model();
    assert_eq!(m.dimensions(), 384);
    assert_eq!(m.max_tokens(), 256);
    // sentence-transformers: 0.8939.
    let s = sim(&m, "The new movie is awesome", "The new movie is so great");
    assert!((s - 0.8939).abs() < 0.0005, "{s}");
    // The other two pairs of sentence-transformers' own example (0.2838, -0.0327) and two of
    // ours, recorded from this implementation once the reference values matched.
    for (a, b, want) in RECORDED {
        let s = sim(&m, a, b);
        assert!(
            (s - want).abs() < 0.0005,
            "{a} / {b}: {s} (recorded {want})"
        );
    }
    // Vectors are unit length; a batch gives what single texts give (padding is masked).
    let v = m
        .embed(&[
            "short",
            "a much longer text about storage pools and snapshots",
        ])
        .unwrap();
    let n: f32 = v[0].iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((n - 1.0).abs() < 1e-4);
    let alone = m.embed(&["short"]).unwrap();
    assert!(cosine(&alone[0], &v[0]) > 0.9999);
}

const RECORDED: &[(&str, &str, f32)] = &[
    (
        "The cat sits outside",
        "The dog plays in the garden",
        0.2838,
    ),
    ("A man is playing guitar", "A woman watches TV", -0.0327),
    (
        "How do I remove a dead cluster member?",
        "Removing a member that is offline for good",
        0.5093,
    ),
    (
        "lxc launch fails with no space left on device",
        "Storage pool is full",
        0.2887,
    ),
];

#[test]
fn a_missing_or_damaged_model_folder_is_one_line_naming_it() {
    let d = tempfile::tempdir().unwrap();
    let e = LocalModel::load(&d.path().join("nope"))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("nope") && e.contains("make setup"), "{e}");
    let real = model_dir(None);
    for f in [
        "config.json",
        "tokenizer.json",
        "sentence_bert_config.json",
        "modules.json",
    ] {
        std::fs::copy(real.join(f), d.path().join(f)).unwrap();
    }
    std::fs::create_dir_all(d.path().join("1_Pooling")).unwrap();
    std::fs::copy(
        real.join("1_Pooling/config.json"),
        d.path().join("1_Pooling/config.json"),
    )
    .unwrap();
    let e = LocalModel::load(d.path()).err().unwrap().to_string();
    assert!(e.contains("model.safetensors"), "{e}");
    std::fs::write(d.path().join("model.safetensors"), b"not safetensors").unwrap();
    let e = LocalModel::load(d.path()).err().unwrap().to_string();
    assert!(e.contains("damaged") && !e.contains('\n'), "{e}");
}

#[test]
fn tokenization_and_pooling_match_the_recorded_vectors() {
    let m = model();
    // WordPiece with [CLS] and [SEP]: "the new movie is awesome" is 5 tokens + 2.
    assert_eq!(m.count_tokens("The new movie is awesome"), 7);
    // A word the vocabulary lacks splits into pieces, and long texts stop at 256 tokens.
    assert!(m.count_tokens("incusbr0") > 3);
    assert_eq!(m.count_tokens(&"storage ".repeat(1000)), 256);
    let v = m.embed(&["The new movie is awesome"]).unwrap().remove(0);
    for (i, (got, want)) in v.iter().zip(RECORDED_HEAD).enumerate() {
        assert!(
            (got - want).abs() < 2e-4,
            "value {i}: {got}, recorded {want}"
        );
    }
}

/// The first four values of "The new movie is awesome", recorded once its similarities
/// matched sentence-transformers'.
const RECORDED_HEAD: [f32; 4] = [-0.1004, -0.0774, -0.0014, -0.0485];
