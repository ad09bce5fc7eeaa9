//! The running server's own configuration reference (`GET /1.0/metadata/configuration`) in the
//! docs collection: found by search, linked, kept when the server does not answer.

use serde_json::{Value, json};

use crate::support::replay::Recording;
use crate::support::{Env, Run, fixtures, run_with_socket};

fn docs_sources(r: &Run) -> Vec<Value> {
    r.json()["mirror"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["collection"] == "docs")
        .unwrap()["sources"]
        .as_array()
        .unwrap()
        .clone()
}

fn first_hit(env: &Env, query: &str) -> Value {
    let r = env.run(&["search", "--json", query]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.json()[0].clone()
}

#[tokio::test]
async fn the_running_servers_keys_are_searched_linked_and_kept() {
    let env = Env::new();
    let socket = env.dir.path().join("incus.socket");
    let mut rec = Recording::load("healthy");
    // Recorded from a real Incus 6.0.4; one key added, as a server newer than its docs has.
    let text =
        std::fs::read_to_string(fixtures().join("recorded/configuration-6.0.4.json")).unwrap();
    let mut meta: Value = serde_json::from_str(&text).unwrap();
    meta["configs"]["instance"]["boot"]["keys"]
        .as_array_mut()
        .unwrap()
        .push(json!({"boot.zebra_grace": {
            "shortdesc": "Seconds to wait for the zebra before stopping",
            "longdesc": "See {ref}`instance-options`.", "type": "integer", "defaultdesc": "30"}}));
    rec.set("/1.0/metadata/configuration", meta);
    let server = rec.serve(&socket).await;
    let src = fixtures().join("incus-src");
    let src = src.to_str().unwrap();

    let r = run_with_socket(
        &env,
        &socket,
        &["refresh", "--no-export", "--json", "--source", src],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let sources = docs_sources(&r);
    let reference = sources
        .iter()
        .find(|s| s["spec"] == "server:/1.0/metadata/configuration")
        .unwrap_or_else(|| panic!("{sources:?}"));
    assert_eq!(reference["used"], "Incus 6.0.4 server");

    // A key the mirrored docs do not know, found by its name and by what it does.
    for query in [
        "boot.zebra_grace",
        "how long to wait for the zebra before stopping",
    ] {
        let hit = first_hit(&env, query);
        assert_eq!(
            hit["title"], "instance configuration keys, boot (Incus 6.0.4 server)",
            "{query}: {hit}"
        );
        assert_eq!(
            hit["url"],
            "https://linuxcontainers.org/incus/docs/stable-6.0/config-options/#instance-boot"
        );
    }
    // A real 6.0.4 key missing from these docs.
    let hit = first_hit(&env, "ceph.cluster_name");
    assert!(
        hit["title"].as_str().unwrap().contains("disk (Incus 6.0.4"),
        "{hit}"
    );
    assert!(
        hit["text"].as_str().unwrap().contains("ceph.cluster_name"),
        "{hit}"
    );

    // No server tonight: the reference read before stays.
    drop(server);
    let r = env.run(&["refresh", "--no-export", "--json", "--source", src]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let sources = docs_sources(&r);
    let kept = sources
        .iter()
        .find(|s| s["spec"] == "server:/1.0/metadata/configuration")
        .unwrap_or_else(|| panic!("{sources:?}"));
    assert!(
        kept["note"]
            .as_str()
            .unwrap()
            .starts_with("no server answered: kept Incus 6.0.4 server"),
        "{kept}"
    );
    let hit = first_hit(&env, "boot.zebra_grace");
    assert!(
        hit["title"]
            .as_str()
            .unwrap()
            .contains("Incus 6.0.4 server"),
        "{hit}"
    );
}
