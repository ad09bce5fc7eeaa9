//! Removing secrets from what incus-ai writes down or sends on: configuration values whose key
//! says they hold a secret, instance environments and cloud-init data, and anything that looks
//! like a private key.

use std::collections::BTreeMap;

/// What a removed value is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Whether a configuration key can hold a secret.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    if k.starts_with("environment.")
        || k.starts_with("cloud-init.")
        || matches!(
            k.as_str(),
            "user.user-data" | "user.vendor-data" | "user.network-config" | "user.meta-data"
        )
    {
        return true;
    }
    let last = k.rsplit('.').next().unwrap_or(&k);
    ["password", "secret", "token", "passphrase", "credential"]
        .iter()
        .any(|w| k.contains(w))
        || last.ends_with("key")
        || last.ends_with("_key_file")
}

/// Whether a value looks like a private key or a bearer token.
pub fn is_secret_value(value: &str) -> bool {
    value.contains("PRIVATE KEY-----") || value.contains("BEGIN OPENSSH PRIVATE KEY")
}

/// The value to show for `key`.
pub fn value<'a>(key: &str, value: &'a str) -> &'a str {
    if is_secret_key(key) || is_secret_value(value) {
        REDACTED
    } else {
        value
    }
}

/// A configuration map with secrets replaced.
pub fn config(map: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    map.iter()
        .map(|(k, v)| (k.clone(), value(k, v).to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys_are_recognised_and_ordinary_ones_kept() {
        for k in [
            "environment.DB_PASSWORD",
            "cloud-init.user-data",
            "user.user-data",
            "core.trust_password",
            "network.ovn.client_key",
            "acme.eab.hmac_key",
            "loki.auth.password",
            "oidc.client.secret",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in [
            "limits.memory",
            "security.nesting",
            "boot.autostart",
            "volatile.eth0.hwaddr",
            "user.comment",
        ] {
            assert!(!is_secret_key(k), "{k}");
        }
        assert_eq!(
            value("raw.lxc", "-----BEGIN RSA PRIVATE KEY-----\nabc"),
            REDACTED
        );
        assert_eq!(value("limits.cpu", "2"), "2");
    }
}

/// Keys whose whole value is secret wherever they appear in API answers.
fn secret_field(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    is_secret_key(key)
        || matches!(
            k.as_str(),
            "certificate"
                | "private_key"
                | "key"
                | "password"
                | "token"
                | "secret"
                | "trust_token"
                | "user-data"
                | "vendor-data"
        )
}

/// Removes secrets from an API answer (or anything derived from one) before it leaves the
/// machine: configuration values whose key can hold a secret, certificates and keys, trust
/// tokens, and any string that looks like a private key.
pub fn json(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, x) in map.iter_mut() {
                if secret_field(k) && !x.is_null() && !x.is_object() && !x.is_array() {
                    *x = serde_json::Value::String(REDACTED.into());
                } else {
                    json(x);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(json),
        serde_json::Value::String(s)
            if is_secret_value(s) || s.contains("-----BEGIN CERTIFICATE-----") =>
        {
            *s = REDACTED.into();
        }
        _ => {}
    }
}

#[cfg(test)]
mod json_tests {
    use super::*;

    #[test]
    fn api_answers_lose_their_secrets_and_keep_the_rest() {
        let mut v = serde_json::json!({
            "name": "web1",
            "config": {"environment.DB_PASSWORD": "hunter2", "limits.cpu": "2", "cloud-init.user-data": "#cloud-config\npassword: x"},
            "certificate": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
            "nested": [{"token": "eyJ0b2tlbiI6Ij"}, {"log": "-----BEGIN EC PRIVATE KEY-----\nabc"}],
        });
        json(&mut v);
        let s = v.to_string();
        for secret in [
            "hunter2",
            "password: x",
            "MIIB",
            "eyJ0b2tlbiI6Ij",
            "BEGIN EC PRIVATE KEY",
        ] {
            assert!(!s.contains(secret), "{secret} in {s}");
        }
        assert_eq!(v["config"]["limits.cpu"], "2");
        assert_eq!(v["name"], "web1");
    }
}
