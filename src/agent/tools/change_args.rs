//! The arguments of the change tools, checked as they are decoded like every other tool's:
//! names as Incus allows them, keys as configuration keys, UUIDs and fingerprints as hex,
//! values without control characters, expiries as Incus writes them (`2w`, `12H`).

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer};

use super::args::IncusName;
use crate::admin::change::{ConfigTarget, EvacuateMode};

/// Declares a string type checked by `ok`, with its schema pattern.
macro_rules! checked_string {
    ($(#[$doc:meta])* $name:ident, $pattern:literal, $max:literal, $what:literal, $ok:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(pub String);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                let ok: fn(&str) -> bool = $ok;
                if s.chars().count() <= $max && ok(&s) {
                    Ok($name(s))
                } else {
                    Err(serde::de::Error::custom(format!(
                        concat!("{:?} is not ", $what),
                        s.chars().take(80).collect::<String>()
                    )))
                }
            }
        }

        impl JsonSchema for $name {
            fn inline_schema() -> bool {
                true
            }
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({"type": "string", "pattern": $pattern, "maxLength": $max})
            }
        }
    };
}

checked_string!(
    /// A configuration key that can be set (no wildcards).
    SettableKey,
    "^[a-z0-9][a-z0-9._-]{0,99}$",
    100,
    "a configuration key",
    |s| !s.is_empty()
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !s.contains("..")
);

checked_string!(
    /// A configuration value: printable text, no control characters (`""` unsets).
    ConfigValue,
    "^[^\\u0000-\\u001f]{0,1000}$",
    1000,
    "a configuration value (printable text, at most 1000 characters)",
    |s| !s.chars().any(char::is_control)
);

checked_string!(
    /// A warning's UUID.
    Uuid,
    "^[0-9a-f-]{36}$",
    36,
    "a warning UUID",
    |s| s.len() == 36 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
);

checked_string!(
    /// An image fingerprint (or its prefix of at least 12 hex digits).
    Fingerprint,
    "^[0-9a-f]{12,64}$",
    64,
    "an image fingerprint (12 to 64 hex digits)",
    |s| s.len() >= 12 && s.chars().all(|c| c.is_ascii_hexdigit())
);

checked_string!(
    /// A snapshot expiry as Incus writes it: a number and M (minutes), H, d, w, m (months) or y.
    Expiry,
    "^[0-9]{1,4}[MHdwmy]$",
    5,
    "an expiry like 12H, 3d, 2w, 6m",
    |s| s.len() >= 2
        && s[..s.len() - 1].chars().all(|c| c.is_ascii_digit())
        && s.ends_with(['M', 'H', 'd', 'w', 'm', 'y'])
);

impl Expiry {
    /// The expiry as seconds from now.
    pub fn seconds(&self) -> i64 {
        let n: i64 = self.0[..self.0.len() - 1].parse().unwrap_or(0);
        n * match self.0.chars().last() {
            Some('M') => 60,
            Some('H') => 3600,
            Some('d') => 86_400,
            Some('w') => 7 * 86_400,
            Some('m') => 30 * 86_400,
            _ => 365 * 86_400,
        }
    }
}

/// A yes/no the model may send as `true`, `"true"` or `"yes"`; anything else is no.
fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Bool(b) => b,
        serde_json::Value::String(s) => matches!(s.trim(), "true" | "yes" | "1"),
        _ => false,
    })
}

/// `evacuate_member`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct EvacuateMember {
    /// The member to evacuate
    pub member: IncusName,
    /// Overrides each instance's cluster.evacuate (default: each instance's own, auto)
    #[serde(default)]
    pub mode: Option<EvacuateMode>,
}

/// `restore_member`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct RestoreMember {
    /// The evacuated member to bring back
    pub member: IncusName,
}

/// `start_instance`, `stop_instance`, `restart_instance`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct InstanceAction {
    /// Instance name
    pub instance: IncusName,
    /// Project (default: default)
    #[serde(default)]
    pub project: Option<IncusName>,
    /// Stop without a clean shutdown
    #[serde(default, deserialize_with = "lenient_bool")]
    pub force: bool,
}

/// `create_snapshot`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct CreateSnapshot {
    /// Instance name
    pub instance: IncusName,
    /// Snapshot name (default: `incus-ai-<date>-<time>`)
    #[serde(default)]
    pub name: Option<IncusName>,
    /// When it expires: 12H, 3d, 2w, 6m (default: never)
    #[serde(default)]
    pub expiry: Option<Expiry>,
    /// Project (default: default)
    #[serde(default)]
    pub project: Option<IncusName>,
}

/// `set_config`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SetConfig {
    /// What to configure
    pub target: ConfigTarget,
    /// Its name (not for server)
    #[serde(default)]
    pub name: Option<IncusName>,
    /// The configuration key, e.g. limits.memory
    pub key: SettableKey,
    /// The new value; an empty value unsets the key
    pub value: ConfigValue,
    /// Cluster member, for member-specific keys (server, storage-pool, network)
    #[serde(default)]
    pub member: Option<IncusName>,
    /// Project (instance, profile, network; default: default)
    #[serde(default)]
    pub project: Option<IncusName>,
}

/// `acknowledge_warning`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct AcknowledgeWarning {
    /// The warning's UUID (from list_warnings)
    pub uuid: Uuid,
}

/// `refresh_image`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct RefreshImage {
    /// The image fingerprint
    pub fingerprint: Fingerprint,
    /// Project (default: default)
    #[serde(default)]
    pub project: Option<IncusName>,
}

/// `move_instance`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct MoveInstance {
    /// Instance name
    pub instance: IncusName,
    /// The member to move it to
    pub member: IncusName,
    /// Project (default: default)
    #[serde(default)]
    pub project: Option<IncusName>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tricks_do_not_decode() {
        for bad in [
            json!({"target": "instance", "name": "c1; rm -rf /", "key": "limits.memory", "value": "1GiB"}),
            json!({"target": "instance", "name": "c1", "key": "../../etc/passwd", "value": "1"}),
            json!({"target": "instance", "name": "c1", "key": "limits.memory", "value": "1\nGiB"}),
            json!({"target": "instance", "name": "c1", "key": "limits.*", "value": "1"}),
            json!({"target": "cluster", "key": "a.b", "value": "1"}),
            json!({"target": "server", "key": "a.b", "value": "x", "member": "../m1"}),
        ] {
            assert!(
                serde_json::from_value::<SetConfig>(bad.clone()).is_err(),
                "{bad}"
            );
        }
        let ok: SetConfig = serde_json::from_value(
            json!({"target": "storage-pool", "name": "p", "key": "size", "value": "", "member": "m2"}),
        )
        .unwrap();
        assert_eq!(ok.target, ConfigTarget::StoragePool);
        assert!(
            serde_json::from_value::<AcknowledgeWarning>(json!({"uuid": "../../1.0"})).is_err()
        );
        assert!(
            serde_json::from_value::<RefreshImage>(json!({"fingerprint": "abc/../x"})).is_err()
        );
        let s: CreateSnapshot =
            serde_json::from_value(json!({"instance": "c1", "expiry": "2w"})).unwrap();
        assert_eq!(s.expiry.unwrap().seconds(), 14 * 86_400);
        assert!(
            serde_json::from_value::<CreateSnapshot>(
                json!({"instance": "c1", "expiry": "2 weeks"})
            )
            .is_err()
        );
        let a: InstanceAction =
            serde_json::from_value(json!({"instance": "c1", "force": "true"})).unwrap();
        assert!(a.force);
    }
}
