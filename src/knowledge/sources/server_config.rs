//! The running server's own configuration reference (`GET /1.0/metadata/configuration`) as
//! pages of the `docs` collection: one page per key group, the server's version in its title,
//! so keys newer or older than the mirrored docs are found by search, AIChat and `config_key`.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

use super::SourcePage;
use super::myst::render::plain_roles;
use crate::knowledge::document::{CONFIG_GROUP_CLASS, PageMeta, collapse_ws, slugify};

/// How this source is named in the mirror's records.
pub const SPEC: &str = "server:/1.0/metadata/configuration";

/// Folder of its pages inside the docs mirror.
pub const FOLDER: &str = "server-config";

/// At most this many groups and keys per group are read from one answer.
const MAX_GROUPS: usize = 500;
const MAX_KEYS: usize = 2000;

/// What a running server says about the configuration keys it accepts.
#[derive(Debug, Clone)]
pub struct ServerReference {
    /// The server's version (`environment.server_version`, e.g. `6.0.4`).
    pub version: String,
    /// The `metadata` of `GET /1.0/metadata/configuration`.
    pub configuration: Configuration,
}

/// The `metadata` of `GET /1.0/metadata/configuration`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Configuration {
    /// Entity (`instance`, `server`, `devices`...) → group (`boot`, `core`, `disk`...).
    #[serde(default)]
    pub configs: BTreeMap<String, BTreeMap<String, KeyGroup>>,
}

/// One group of keys.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct KeyGroup {
    /// One single-entry map per key (key → its description), in the server's order.
    #[serde(default)]
    pub keys: Vec<BTreeMap<String, KeyDoc>>,
}

/// What the server says about one key; every field is optional (versions differ).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct KeyDoc {
    /// One line.
    #[serde(deserialize_with = "text")]
    pub shortdesc: String,
    /// Markdown, possibly with MyST roles.
    #[serde(deserialize_with = "text")]
    pub longdesc: String,
    /// `bool`, `string`, `integer`...
    #[serde(rename = "type", deserialize_with = "text")]
    pub kind: String,
    /// The default value.
    #[serde(deserialize_with = "text")]
    pub default: String,
    /// The default, described.
    #[serde(deserialize_with = "text")]
    pub defaultdesc: String,
    /// The initial value, described.
    #[serde(deserialize_with = "text")]
    pub initialvaluedesc: String,
    /// Whether a running instance takes the change.
    #[serde(deserialize_with = "text")]
    pub liveupdate: String,
    /// `global` or `local` (per cluster member).
    #[serde(deserialize_with = "text")]
    pub scope: String,
    /// Where the key applies (`container`, `virtual machine`...).
    #[serde(deserialize_with = "text")]
    pub condition: String,
    /// Whether the key must be set.
    #[serde(deserialize_with = "text")]
    pub required: String,
}

/// A string field that tolerates other JSON values (rendered as JSON) and null.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    })
}

impl ServerReference {
    /// The pages of this reference: one per key group, linked to the docs' index of
    /// configuration options under `canonical_base`.
    pub fn pages(&self, canonical_base: &str) -> Vec<SourcePage> {
        let base = format!("{}/", canonical_base.trim_end_matches('/'));
        let version = one_line(&self.version);
        self.configuration
            .configs
            .iter()
            .flat_map(|(entity, groups)| groups.iter().map(move |(g, keys)| (entity, g, keys)))
            .take(MAX_GROUPS)
            .filter_map(|(entity, group, keys)| {
                let slug = slugify(&format!("{entity}-{group}"));
                if slug.is_empty() {
                    return None;
                }
                let markdown = group_page(&base, &version, entity, group, keys, &slug)?;
                Some(SourcePage {
                    file: format!("{FOLDER}/{slug}.md"),
                    markdown,
                    validators: None,
                })
            })
            .collect()
    }
}

/// The page of one group, or `None` when it has no key.
fn group_page(
    base: &str,
    version: &str,
    entity: &str,
    group: &str,
    keys: &KeyGroup,
    slug: &str,
) -> Option<String> {
    let entity_words = one_line(&entity.replace('_', " "));
    let group_words = one_line(group);
    let title =
        format!("{entity_words} configuration keys, {group_words} (Incus {version} server)");
    let meta = PageMeta {
        title: title.clone(),
        url: format!("{base}config-options/#{slug}"),
        doc_path: None,
    };
    let mut out = meta.front_matter();
    out.push_str(&format!(
        "# {} {{#server-config-{slug} .{CONFIG_GROUP_CLASS}}}\n\n",
        escape_heading(&title)
    ));
    out.push_str(&format!(
        "The {group_words} {entity_words} keys the running Incus {version} server accepts, as it describes them itself (`GET /1.0/metadata/configuration`).\n\n"
    ));
    let mut any = false;
    for (key, doc) in keys.keys.iter().flatten().take(MAX_KEYS) {
        let key = one_line(key);
        if key.is_empty() || key.contains('`') {
            continue;
        }
        any = true;
        out.push_str(&format!("`{key}`\n: {}\n\n", describe(doc)));
    }
    any.then_some(out)
}

/// One paragraph: what the key is, then its facts.
fn describe(doc: &KeyDoc) -> String {
    let mut parts = Vec::new();
    for s in [&doc.shortdesc, &doc.longdesc] {
        let s = one_line(&plain_roles(s));
        if !s.is_empty() {
            parts.push(if s.ends_with(['.', ':', '!', '?']) {
                s
            } else {
                format!("{s}.")
            });
        }
    }
    let default = if doc.default.is_empty() {
        &doc.defaultdesc
    } else {
        &doc.default
    };
    for (name, value) in [
        ("Type", &doc.kind),
        ("Default", default),
        ("Initial value", &doc.initialvaluedesc),
        ("Live update", &doc.liveupdate),
        ("Scope", &doc.scope),
        ("Condition", &doc.condition),
        ("Required", &doc.required),
    ] {
        let v = one_line(&plain_roles(value));
        if !v.is_empty() {
            parts.push(format!("{name}: {v}."));
        }
    }
    if parts.is_empty() {
        "No description.".to_string()
    } else {
        parts.join(" ")
    }
}

/// Whitespace collapsed, control characters dropped.
fn one_line(s: &str) -> String {
    collapse_ws(&s.replace(|c: char| c.is_control() && !c.is_whitespace(), ""))
}

/// A heading's text that cannot open attributes or close the heading early.
fn escape_heading(s: &str) -> String {
    s.replace(['{', '}', '#'], "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::document::Page;
    use serde_json::json;

    fn reference(configs: serde_json::Value) -> ServerReference {
        ServerReference {
            version: "6.0.4".into(),
            configuration: serde_json::from_value(json!({ "configs": configs })).unwrap(),
        }
    }

    #[test]
    fn one_page_per_group_with_the_version_and_its_keys() {
        let r = reference(json!({
            "instance": {
                "boot": {"keys": [
                    {"boot.autostart": {"shortdesc": "Whether to always start the instance", "longdesc": "If set to `false`, restore the last state.", "type": "bool", "liveupdate": "no"}},
                    {"boot.autostart.delay": {"shortdesc": "Delay after starting", "defaultdesc": "0", "type": "integer"}}
                ]},
                "empty": {"keys": []}
            },
            "network_integration": {"ovn": {"keys": [
                {"ovn.transit.pattern": {"shortdesc": "Template for the transit switch name", "longdesc": "See {ref}`network-integrations` and {config:option}`server-core:core.https_address`.", "required": 3}}
            ]}}
        }));
        let pages = r.pages("https://docs.example/incus/");
        let files: Vec<_> = pages.iter().map(|p| p.file.as_str()).collect();
        assert_eq!(
            files,
            vec![
                "server-config/instance-boot.md",
                "server-config/network_integration-ovn.md"
            ]
        );
        let page = Page::parse(&pages[0].markdown);
        assert_eq!(
            page.meta.title,
            "instance configuration keys, boot (Incus 6.0.4 server)"
        );
        assert_eq!(
            page.meta.url,
            "https://docs.example/incus/config-options/#instance-boot"
        );
        assert_eq!(page.sections.len(), 1, "one section per group");
        let s = &page.sections[0];
        assert_eq!(s.keys, vec!["boot.autostart", "boot.autostart.delay"]);
        assert!(s.text.contains("boot.autostart Whether to always start the instance. If set to false, restore the last state. Type: bool. Live update: no."), "{}", s.text);
        assert!(s.text.contains("Default: 0."), "{}", s.text);
        let ovn = Page::parse(&pages[1].markdown);
        let text = &ovn.sections[0].text;
        assert!(
            text.contains("See network integrations and core.https_address."),
            "{text}"
        );
        assert!(text.contains("Required: 3."), "{text}");
    }

    #[test]
    fn hostile_names_and_descriptions_stay_inside_their_page() {
        let r = reference(json!({
            "x\u{1b}[2J": {"a}{#b": {"keys": [
                {"k`ey": {"shortdesc": "skipped"}},
                {"good.key": {"shortdesc": "line one\n# not a heading\n---\ntitle: no", "longdesc": null}}
            ]}}
        }));
        let pages = r.pages("https://docs.example/");
        assert_eq!(pages.len(), 1);
        assert!(!pages[0].markdown.contains('\u{1b}'));
        let page = Page::parse(&pages[0].markdown);
        assert_eq!(page.sections.len(), 1, "{:#?}", page.sections);
        assert_eq!(page.sections[0].keys, vec!["good.key"]);
        assert!(
            page.meta
                .url
                .starts_with("https://docs.example/config-options/#")
        );
    }
}
