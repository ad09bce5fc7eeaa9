//! Hybrid search end to end with the real embedding model (`make setup` installs it): a
//! question that shares no word with its answer is found by meaning; vectors are computed
//! only for what changed; a missing or damaged model leaves BM25 alone, said once.

use crate::support;

use support::{Env, PARAPHRASE, fixtures, paraphrase_notes};

fn setup(env: &Env) -> usize {
    let notes = env.dir.path().join("notes");
    let n = paraphrase_notes(&notes).len();
    mirror(env);
    n
}

fn mirror(env: &Env) {
    let notes = env.dir.path().join("notes");
    let src = fixtures().join("incus-src");
    let r = env.run(&[
        "mirror",
        "-q",
        "--source",
        src.to_str().unwrap(),
        "--local",
        notes.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

fn local_search(env: &Env, q: &str) -> (Vec<String>, String) {
    let r = env.run(&["search", "--json", "--collection", "local", q]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let sections = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["section"].as_str().unwrap().to_string())
        .collect();
    (sections, r.stderr)
}

#[test]
fn a_question_sharing_no_word_with_its_answer_is_found_by_meaning() {
    let env = Env::new();
    let notes = setup(&env);
    let r = env.run(&["index", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let dense = &r.json()["dense"];
    assert_eq!(dense["model"], "all-MiniLM-L6-v2");
    assert!(
        dense["vectors"].as_u64().unwrap() >= notes as u64,
        "{dense}"
    );
    let (hybrid, stderr) = local_search(&env, PARAPHRASE);
    assert_eq!(stderr, "", "the model is there: nothing to say");
    assert_eq!(hybrid[0], "Maintenance > Evacuate a member", "{hybrid:?}");

    // BM25 alone cannot: no word matches.
    env.config("[embeddings]\nenabled = false\n");
    let (bm25, stderr) = local_search(&env, PARAPHRASE);
    assert!(
        !bm25.iter().any(|s| s.starts_with("Maintenance")),
        "{bm25:?}"
    );
    assert_eq!(
        stderr, "",
        "dense search turned off on purpose: nothing to say"
    );
    // Exact words still win with both halves on.
    env.config("");
    let (exact, _) = local_search(&env, "incus config trust add");
    assert_eq!(exact[0], "Certificates > Trust", "{exact:?}");
    let (none, _) = local_search(&env, "xylophone tuning for orchestras");
    assert!(none.is_empty(), "nothing near: no hits, {none:?}");
}

#[test]
fn vectors_are_computed_once_and_only_for_what_changed() {
    let env = Env::new();
    setup(&env);
    // A cache of its own, to count what is computed.
    let cache = env.dir.path().join("cache");
    let index = |env: &Env| {
        let o = env
            .cmd(&["index", "--json"])
            .env("XDG_CACHE_HOME", &cache)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["dense"].clone()
    };
    let first = index(&env);
    let total = first["vectors"].as_u64().unwrap();
    assert_eq!(
        first["embedded"].as_u64().unwrap(),
        total,
        "{first} in {}",
        cache.display()
    );
    assert!(first["tokens"].as_u64().unwrap() > 0);

    let again = index(&env);
    assert_eq!(again["embedded"], 0, "no change, nothing embedded: {again}");
    assert_eq!(again["vectors"].as_u64().unwrap(), total);

    // One note changes: only its section is embedded.
    let notes = env.dir.path().join("notes");
    std::fs::write(
        notes.join("storage.md"),
        "# Storage\n\n## ZFS pool\n\nThe default pool is ZFS on the third NVMe disk now.\n",
    )
    .unwrap();
    mirror(&env);
    let changed = index(&env);
    assert_eq!(changed["embedded"], 1, "{changed}");
    assert_eq!(changed["vectors"].as_u64().unwrap(), total);

    // A fresh data dir with the same texts takes them all from the cache.
    let other = Env::new();
    setup(&other);
    let shared = index(&other);
    assert_eq!(shared["embedded"], 0, "{shared}");
    assert_eq!(shared["cached"].as_u64().unwrap(), total);
}

#[test]
fn a_missing_or_damaged_model_leaves_bm25_and_says_so_once() {
    let env = Env::new();
    setup(&env);
    assert_eq!(env.run(&["index", "-q"]).code, 0);
    let missing = env.dir.path().join("no-model");
    let damaged = env.dir.path().join("damaged-model");
    support::copy_dir(&support::model_dir(), &damaged);
    std::fs::write(damaged.join("model.safetensors"), b"not weights").unwrap();
    for (dir, word) in [(&missing, "missing"), (&damaged, "damaged")] {
        let o = env
            .cmd(&[
                "search",
                "--json",
                "--collection",
                "local",
                "nightly exports NAS",
            ])
            .env("INCUS_AI_MODEL_DIR", dir)
            .output()
            .unwrap();
        assert!(o.status.success());
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(&dir.display().to_string())
                && stderr.contains(word)
                && stderr.contains("make setup")
                && stderr.contains("BM25 only"),
            "{stderr}"
        );
        let hits: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(hits[0]["section"], "Backups > Nightly exports");
    }
    // Indexing without the model: one line, the index is BM25 alone; search then says once
    // how to get the vectors back.
    std::fs::write(
        env.dir.path().join("notes/new.md"),
        "# New\n\nA new note.\n",
    )
    .unwrap();
    mirror(&env);
    let o = env
        .cmd(&["index"])
        .env("INCUS_AI_MODEL_DIR", &missing)
        .output()
        .unwrap();
    assert!(o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("BM25 only"), "{stderr}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("BM25 only"));
    let (hits, stderr) = local_search(&env, "nightly exports NAS");
    assert_eq!(hits[0], "Backups > Nightly exports");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("run `incus-ai index`"), "{stderr}");
    // With the model back, an index restores the vectors.
    let r = env.run(&["index", "--json"]);
    assert!(
        r.json()["dense"]["vectors"].as_u64().unwrap() > 0,
        "{}",
        r.stdout
    );
    assert_eq!(local_search(&env, "nightly exports NAS").1, "");
}

/// A reranked question is searched (its dense list) and then compared with each candidate
/// (their nearness): the query is embedded once for both, and again only when it changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_is_embedded_once_however_often_it_is_used() {
    use incus_ai::knowledge::embed::remote::embed_query;
    use incus_ai::knowledge::embed::{model_dir, model_id};
    use incus_ai::knowledge::index::{Features, Scope, Searcher};
    use std::sync::Arc;
    use support::http::{Response, Server};

    let env = Env::new();
    setup(&env);
    let r = env.run(&["index", "-q"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // An embedding server on loopback that counts what it is asked (every query gets the
    // same vector: the count is what is tested, not the ranking).
    let model = model_id(&model_dir(None));
    let body = serde_json::json!({
        "object": "list",
        "model": model,
        "data": [{"object": "embedding", "index": 0, "embedding": vec![0.05f32; 384]}],
    })
    .to_string();
    let server = Server::start(Arc::new(move |_| Response::new(200, body.clone()))).await;
    let index = env.data().join("index");
    let paths = tokio::task::spawn_blocking(move || {
        let answers = embed_query(server.addr, &model, 384, "the server answers").is_some();
        assert!(answers, "the counting server's answer is taken");
        let model = model_dir(None);
        let searcher = Searcher::open(&index, Some(&model))
            .unwrap()
            .with_query_server(server.addr);
        let question = "how do I move a container to another cluster member";
        for _ in 0..3 {
            searcher
                .search_with(question, Scope::Docs, 10, Features::ALL)
                .unwrap();
            searcher.similarity(question, &[vec![1]]);
        }
        let once = server.paths().len() - 1;
        searcher
            .search_with("zfs pool full", Scope::Docs, 10, Features::ALL)
            .unwrap();
        (once, server.paths())
    })
    .await
    .unwrap();
    assert_eq!(paths.0, 1, "one question, one embedding: {:?}", paths.1);
    assert_eq!(
        paths.1.len(),
        3,
        "a new question is embedded: {:?}",
        paths.1
    );
}
