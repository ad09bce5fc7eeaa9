//! The docs tools: `search_docs` over the index, `config_key` from the server's own
//! configuration metadata (else the docs).

use serde_json::{Value, json};

use super::args::{ConfigKeyArgs, ScopeName, SearchDocs, clamp};
use super::{Answer, Toolbox};
use crate::knowledge::index::Scope;

pub async fn search_docs(tb: &mut Toolbox, a: SearchDocs) -> Answer {
    let scope = match a.collection.unwrap_or_default() {
        ScopeName::Docs => Scope::Docs,
        ScopeName::Local => Scope::Local,
        ScopeName::All => Scope::All,
    };
    let searcher = tb
        .searcher()
        .ok_or("no docs index (run `incus-ai refresh`)")?;
    let hits = searcher
        .search_passages(&a.query.0, scope, clamp(a.limit, 4, 8))
        .map_err(|e| e.to_string())?;
    Ok(json!(hits
        .into_iter()
        .map(|h| {
            let text: String = h.text.chars().take(1500).collect();
            json!({"title": h.title, "section": h.section, "url": h.url, "collection": h.collection, "text": text})
        })
        .collect::<Vec<_>>()))
}

pub async fn config_key(tb: &mut Toolbox, a: ConfigKeyArgs) -> Answer {
    let key = a.key.0;
    let mut found = Vec::new();
    if let Some(client) = tb.client()
        && let Ok(meta) = client.get_value("/1.0/metadata/configuration").await
    {
        collect_key(&meta, &key, &mut Vec::new(), &mut found);
    }
    if found.is_empty()
        && let Some(s) = tb.searcher()
    {
        for h in s.search(&key, Scope::Docs, 3).map_err(|e| e.to_string())? {
            let text = excerpt_at(&h.text, &key, 1200);
            found.push(json!({"from": "docs", "section": h.section, "url": h.url, "text": text}));
        }
    }
    if found.is_empty() {
        return Err(format!("no configuration key {key} found"));
    }
    Ok(json!(found))
}

/// Up to `max` characters of `text`, from where `key` is first named (a group of keys lists
/// many; the one asked for may be far down), else from the start.
fn excerpt_at(text: &str, key: &str, max: usize) -> String {
    let start = text.find(key).unwrap_or(0);
    text[start..].chars().take(max).collect()
}

/// Finds `key` in the tree of `/1.0/metadata/configuration` (entities → groups → keys).
fn collect_key(v: &Value, key: &str, path: &mut Vec<String>, out: &mut Vec<Value>) {
    let Value::Object(map) = v else {
        if let Value::Array(items) = v {
            for i in items {
                collect_key(i, key, path, out);
            }
        }
        return;
    };
    if let Some(entry) = map.get(key).filter(|e| e.is_object()) {
        out.push(json!({"from": "/1.0/metadata/configuration", "where": path.join(" > "), "key": key, "reference": entry}));
    }
    for (k, child) in map {
        if out.len() >= 5 {
            return;
        }
        path.push(k.clone());
        collect_key(child, key, path, out);
        path.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_excerpt_starts_where_the_key_is_named() {
        let text = format!("{} core.proxy_http Proxy to use. é", "x".repeat(3000));
        assert_eq!(
            excerpt_at(&text, "core.proxy_http", 20),
            "core.proxy_http Prox"
        );
        assert_eq!(excerpt_at("ab", "zz", 1), "a");
    }

    #[test]
    fn a_key_is_found_in_the_servers_metadata_tree() {
        let meta = json!({"configs": {"server": {"core": {"keys": [
            {"core.https_address": {"shortdesc": "Address to bind"}}
        ]}}}});
        let mut out = Vec::new();
        collect_key(&meta, "core.https_address", &mut Vec::new(), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0]["where"], "configs > server > core > keys");
    }
}
