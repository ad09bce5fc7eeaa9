//! The tools' arguments: one typed struct per tool, its JSON schema derived from it
//! (schemars), checked when it is decoded. Names must look like Incus names, keys like
//! configuration keys, text is bounded, numbers are clamped; a model that sends `"5"` for 5
//! or leaves a field `null` is understood.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer};

/// Longest text argument, in characters.
pub const MAX_TEXT: usize = 500;

/// A member, instance, project or pool name as Incus allows it (no `/`, no `..`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncusName(pub String);

impl<'de> Deserialize<'de> for IncusName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.chars().count() > MAX_TEXT {
            return Err(serde::de::Error::custom(format!(
                "the name is longer than {MAX_TEXT} characters"
            )));
        }
        let ok = !s.is_empty()
            && s.len() <= 63
            && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if ok {
            Ok(IncusName(s))
        } else {
            Err(serde::de::Error::custom(format!(
                "{:?} is not a valid Incus name",
                s.chars().take(80).collect::<String>()
            )))
        }
    }
}

impl JsonSchema for IncusName {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "IncusName".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$", "maxLength": 63})
    }
}

/// A configuration key (`cluster.offline_threshold`, `limits.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigKey(pub String);

impl<'de> Deserialize<'de> for ConfigKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let ok = !s.is_empty()
            && s.len() <= 100
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '*' | '-'));
        if ok {
            Ok(ConfigKey(s))
        } else {
            Err(serde::de::Error::custom(format!(
                "{:?} is not a configuration key",
                s.chars().take(80).collect::<String>()
            )))
        }
    }
}

impl JsonSchema for ConfigKey {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "ConfigKey".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "pattern": "^[A-Za-z0-9._*-]{1,100}$", "maxLength": 100})
    }
}

/// Free text of at most [`MAX_TEXT`] characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.chars().count() > MAX_TEXT {
            return Err(serde::de::Error::custom(format!(
                "the text is longer than {MAX_TEXT} characters"
            )));
        }
        Ok(Text(s))
    }
}

impl JsonSchema for Text {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Text".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "maxLength": MAX_TEXT})
    }
}

/// A count the model may send as a number or a numeric string; absent, `null` or unreadable
/// gives the tool's default.
fn lenient_count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(match v {
        serde_json::Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f as u64)),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// `count`, or `default`, within `1..=max`.
pub fn clamp(count: Option<u64>, default: usize, max: usize) -> usize {
    count.map_or(default, |n| (n.min(max as u64) as usize).max(1))
}

/// Which docs a search reads.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum ScopeName {
    /// The Incus documentation.
    Docs,
    /// The site's own notes.
    Local,
    /// Both.
    #[default]
    All,
}

/// `search_docs`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchDocs {
    /// What to look for: a question, an error message or a config key
    pub query: Text,
    /// docs, the site's notes (local), or all
    #[serde(default)]
    pub collection: Option<ScopeName>,
    /// How many sections (1 to 8)
    #[serde(default, deserialize_with = "lenient_count")]
    #[schemars(range(min = 1, max = 8))]
    pub limit: Option<u64>,
}

/// Tools without arguments.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct NoArgs {}

/// `get_member`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct GetMember {
    /// Member name
    pub name: IncusName,
}

/// Which warnings.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum WarningStatus {
    /// Unresolved ones.
    #[default]
    Active,
    /// Resolved ones too.
    All,
}

/// `list_warnings`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListWarnings {
    /// active (default) or all
    #[serde(default)]
    pub status: Option<WarningStatus>,
}

/// `list_instances`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListInstances {
    /// Project
    #[serde(default)]
    pub project: Option<IncusName>,
    /// Cluster member
    #[serde(default)]
    pub member: Option<IncusName>,
    /// Running, Stopped, Error, ...
    #[serde(default)]
    pub status: Option<Text>,
    /// How many instances (1 to 200)
    #[serde(default, deserialize_with = "lenient_count")]
    #[schemars(range(min = 1, max = 200))]
    pub limit: Option<u64>,
}

/// `get_instance`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct GetInstance {
    /// Instance name
    pub name: IncusName,
    /// Project (default: default)
    #[serde(default)]
    pub project: Option<IncusName>,
}

/// `run_checks`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct RunChecks {
    /// Only findings about this member
    #[serde(default)]
    pub member: Option<IncusName>,
}

/// `review_cluster`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ReviewCluster {
    /// Only findings about this project (and the cluster as a whole)
    #[serde(default)]
    pub project: Option<IncusName>,
}

/// `config_key`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ConfigKeyArgs {
    /// The configuration key
    pub key: ConfigKey,
}

/// Makes a schema plain enough for every consumer: one `type` word (AIChat and many local
/// models reject `["string", "null"]`), no `null` in `enum`, `anyOf` with `null` collapsed.
fn plain(v: &mut serde_json::Value) {
    use serde_json::Value;
    let Value::Object(m) = v else {
        if let Value::Array(items) = v {
            items.iter_mut().for_each(plain);
        }
        return;
    };
    if let Some(Value::Array(any)) = m.get("anyOf").cloned() {
        let mut rest: Vec<Value> = any
            .into_iter()
            .filter(|s| s.get("type") != Some(&Value::from("null")))
            .collect();
        if rest.len() == 1 {
            m.remove("anyOf");
            if let Value::Object(inner) = rest.remove(0) {
                for (k, x) in inner {
                    m.entry(k).or_insert(x);
                }
            }
        }
    }
    if let Some(Value::Array(types)) = m.get("type") {
        let first = types.iter().find(|t| *t != "null").cloned();
        match first {
            Some(t) => m.insert("type".into(), t),
            None => m.remove("type"),
        };
    }
    if let Some(Value::Array(values)) = m.get_mut("enum") {
        values.retain(|x| !x.is_null());
    }
    if m.get("default") == Some(&Value::Null) {
        m.remove("default");
    }
    // A choice of constants (an enum with documented variants) as a plain `enum`.
    if let Some(Value::Array(one)) = m.get("oneOf").cloned()
        && one.iter().all(|c| c.get("const").is_some())
    {
        m.remove("oneOf");
        let words: Vec<Value> = one.iter().filter_map(|c| c.get("const").cloned()).collect();
        m.insert("enum".into(), Value::Array(words));
        m.entry("type").or_insert_with(|| Value::from("string"));
    }
    m.values_mut().for_each(plain);
}

/// The JSON schema of `T`, inlined (no `$defs`), without the meta-schema line.
pub fn schema_of<T: JsonSchema>() -> serde_json::Value {
    let mut settings = schemars::generate::SchemaSettings::draft07();
    settings.inline_subschemas = true;
    settings.meta_schema = None;
    let schema = settings.into_generator().into_root_schema_for::<T>();
    let mut v = serde_json::to_value(schema).unwrap_or_default();
    plain(&mut v);
    if let Some(m) = v.as_object_mut() {
        m.remove("title");
        m.remove("description");
        m.entry("properties")
            .or_insert_with(|| serde_json::json!({}));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arguments_are_checked_as_they_are_decoded() {
        let ok: GetInstance =
            serde_json::from_value(json!({"name": "c1", "project": null})).unwrap();
        assert_eq!(ok.name.0, "c1");
        assert!(ok.project.is_none());
        for bad in ["../../1.0", "", "a/b", "-x", &"x".repeat(64)] {
            let e = serde_json::from_value::<GetMember>(json!({"name": bad})).unwrap_err();
            assert!(
                e.to_string().contains("not a valid Incus name"),
                "{bad}: {e}"
            );
        }
        let e =
            serde_json::from_value::<SearchDocs>(json!({"query": "q".repeat(501)})).unwrap_err();
        assert!(e.to_string().contains("longer than"), "{e}");
        let s: SearchDocs = serde_json::from_value(json!({"query": "q", "limit": "5"})).unwrap();
        assert_eq!(clamp(s.limit, 4, 8), 5);
        let s: SearchDocs = serde_json::from_value(json!({"query": "q", "limit": 99})).unwrap();
        assert_eq!(clamp(s.limit, 4, 8), 8);
        assert_eq!(clamp(Some(0), 4, 8), 1);
        assert!(serde_json::from_value::<ConfigKeyArgs>(json!({"key": "a b"})).is_err());
    }

    #[test]
    fn schemas_are_plain_objects_with_their_constraints() {
        let s = schema_of::<ListInstances>();
        assert_eq!(s["type"], "object");
        assert_eq!(
            s["properties"]["member"]["pattern"],
            "^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
        );
        assert_eq!(s["properties"]["limit"]["maximum"], 200);
        assert!(!s.to_string().contains("$ref"), "{s}");
        let s = schema_of::<NoArgs>();
        assert_eq!(s["type"], "object");
        assert!(s["properties"].is_object());
        let s = schema_of::<GetMember>();
        assert_eq!(s["required"], json!(["name"]));
        // One type word everywhere, as AIChat reads declarations.
        for s in [
            schema_of::<SearchDocs>(),
            schema_of::<ListInstances>(),
            schema_of::<ListWarnings>(),
        ] {
            let text = s.to_string();
            assert!(
                !text.contains("null") && !text.contains("[\"string\""),
                "{text}"
            );
            assert_eq!(s["properties"]["collection"].get("anyOf"), None);
        }
        assert_eq!(
            schema_of::<SearchDocs>()["properties"]["collection"]["enum"],
            json!(["docs", "local", "all"])
        );
    }
}
