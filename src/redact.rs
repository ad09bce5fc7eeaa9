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
