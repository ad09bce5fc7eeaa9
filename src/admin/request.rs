//! Where a change is sent: paths with their project and member, and the fields a `PUT` sends
//! back (the object's writable ones, as the incus CLI does).

use serde_json::Value;

use super::change::ConfigTarget;
use crate::diagnosis::incus::client::with_query;

/// A path segment, encoded.
pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `path` in `project` (nothing for `default`).
pub fn in_project(path: &str, project: &str) -> String {
    if project.is_empty() || project == "default" {
        path.to_string()
    } else {
        with_query(path, &[("project", project)])
    }
}

/// `path` on `member` (`?target=`), when given.
pub fn on_member(path: &str, member: &Option<String>) -> String {
    match member {
        Some(m) => with_query(path, &[("target", m)]),
        None => path.to_string(),
    }
}

/// The object's writable fields, as the CLI sends them back with a `PUT`.
pub fn writable(target: ConfigTarget, object: &Value) -> Value {
    let fields: &[&str] = match target {
        ConfigTarget::Server => &["config"],
        ConfigTarget::Instance => &[
            "architecture",
            "config",
            "devices",
            "ephemeral",
            "profiles",
            "stateful",
            "description",
        ],
        ConfigTarget::Profile => &["config", "description", "devices"],
        ConfigTarget::Project | ConfigTarget::StoragePool | ConfigTarget::Network => {
            &["config", "description"]
        }
    };
    let mut out = serde_json::Map::new();
    for f in fields {
        if let Some(v) = object.get(*f) {
            out.insert((*f).to_string(), v.clone());
        }
    }
    Value::Object(out)
}

/// Where a `set_config` reads and writes.
pub fn config_path(
    target: ConfigTarget,
    name: &str,
    member: &Option<String>,
    project: &str,
) -> String {
    let n = enc(name);
    match target {
        ConfigTarget::Server => on_member("/1.0", member),
        ConfigTarget::Instance => in_project(&format!("/1.0/instances/{n}"), project),
        ConfigTarget::Project => format!("/1.0/projects/{n}"),
        ConfigTarget::Profile => in_project(&format!("/1.0/profiles/{n}"), project),
        ConfigTarget::StoragePool => on_member(&format!("/1.0/storage-pools/{n}"), member),
        ConfigTarget::Network => {
            on_member(&in_project(&format!("/1.0/networks/{n}"), project), member)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_name_the_project_and_member() {
        let m2 = Some("m2".to_string());
        let cases = [
            (ConfigTarget::Server, "", &None, "default", "/1.0"),
            (ConfigTarget::Server, "", &m2, "default", "/1.0?target=m2"),
            (
                ConfigTarget::Instance,
                "c1",
                &None,
                "dev",
                "/1.0/instances/c1?project=dev",
            ),
            (
                ConfigTarget::StoragePool,
                "pool 2",
                &m2,
                "default",
                "/1.0/storage-pools/pool+2?target=m2",
            ),
            (
                ConfigTarget::Network,
                "br0",
                &m2,
                "team-b",
                "/1.0/networks/br0?project=team-b&target=m2",
            ),
        ];
        for (target, name, member, project, want) in cases {
            assert_eq!(config_path(target, name, member, project), want);
        }
    }

    #[test]
    fn a_put_sends_back_only_the_writable_fields() {
        let object = json!({"name": "c1", "status": "Running", "config": {"a": "b"}, "devices": {},
            "profiles": ["default"], "ephemeral": false, "stateful": false, "description": "",
            "architecture": "x86_64", "expanded_config": {"x": "y"}, "location": "m1"});
        let body = writable(ConfigTarget::Instance, &object);
        let mut keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "architecture",
                "config",
                "description",
                "devices",
                "ephemeral",
                "profiles",
                "stateful"
            ]
        );
        assert_eq!(
            writable(ConfigTarget::Server, &object),
            json!({"config": {"a": "b"}})
        );
    }
}
