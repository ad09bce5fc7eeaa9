//! The one redaction of every output: whatever incus-ai writes down (the installation
//! snapshot, the RAG files and what they send to an embedding endpoint, the audit log, alerts)
//! or sends on (tool results, what `ask` sends to a model, change previews) goes through here.
//!
//! Three rules, from the key, the shape of a value and the text around it:
//! - a configuration key that can hold a secret ([`is_secret_key`]): Incus's own rule (the
//!   last segment ends in `key`, `cert`, `hmac`, `password`, `secret` or `token`), the
//!   spellings admins use for their own `user.*` keys (`pass`, `pw`, `psk`, `private`,
//!   `auth`, `credential`...), and the keys whose value is a secret or a list of them
//!   (`environment.*`, `cloud-init.*`, user data, `acme.provider.environment`, `raw.lxc`,
//!   `raw.qemu*`);
//! - secrets inside any text ([`text`]): private keys, credentials in URLs (`user:pass@`,
//!   `?token=`), `NAME=value` / `name: value` pairs whose name is a secret key by the rule
//!   above (environment lists, logs, JSON), `--password value`, and token shapes (JWTs and
//!   Incus trust tokens, `ghp_`, `glpat-`, `xoxb-`, `sk-`, AWS access keys);
//! - JSON ([`json`]): both, field by field.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::{Captures, Regex};

/// What a removed value is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Endings of a key's last segment that always mark a secret.
const STRONG_SUFFIXES: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "secrets",
    "token",
    "tokens",
    "hmac",
    "psk",
    "credential",
    "credentials",
    "apikey",
];

/// Endings that mark a secret in a configuration key (Incus's `key` and `cert`, admins' own
/// spellings), or in a longer name (`db_pass`); alone (`key`, `auth`, `pwd`) they are
/// ordinary field names.
const WEAK_SUFFIXES: &[&str] = &[
    "key",
    "keys",
    "cert",
    "pass",
    "pwd",
    "pw",
    "private",
    "auth",
    "signature",
    "cookie",
];

/// Words that mark a secret anywhere in a name.
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "credential",
    "private_key",
    "private-key",
    "privatekey",
    "api_key",
    "api-key",
    "apikey",
];

/// Endings of names that describe a secret without holding it (`core.remote_token_expiry`,
/// `ssh_key_file`).
const DESCRIBING: &[&str] = &[
    "expiry", "expires", "_at", "ttl", "interval", "timeout", "_file", "_path", "_type", "_method",
    "_methods", "_length", "_enabled", "_count", "_name",
];

/// Keys whose whole value is secret (or a list of secrets) whatever their name says.
fn secret_by_name(k: &str) -> bool {
    k.starts_with("environment.")
        || k.starts_with("cloud-init.")
        || k.starts_with("raw.qemu")
        || matches!(
            k,
            "raw.lxc"
                | "acme.provider.environment"
                | "acme.eab.kid"
                | "oidc.client.id"
                | "user.user-data"
                | "user.vendor-data"
                | "user.network-config"
                | "user.meta-data"
                | "user-data"
                | "vendor-data"
                | "trust_token"
        )
}

/// Whether a configuration key (or a field, variable or parameter name) can hold a secret.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.trim().to_ascii_lowercase();
    if k.is_empty() {
        return false;
    }
    if secret_by_name(&k) {
        return true;
    }
    let last = k.rsplit(['.', '/']).next().unwrap_or(&k);
    if DESCRIBING.iter().any(|e| last.ends_with(e)) {
        return false;
    }
    STRONG_SUFFIXES.iter().any(|s| last.ends_with(s))
        || SECRET_WORDS.iter().any(|w| k.contains(w))
        || WEAK_SUFFIXES
            .iter()
            .any(|s| last.ends_with(s) && (last.len() > s.len() || k.contains('.')))
}

/// PEM private keys (to their end, or to the end of the text when it was cut).
static PRIVATE_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?s)-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\z)",
    )
    .expect("valid regex")
});

/// The user information of a URL (`scheme://user:pass@host`).
static URL_USERINFO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s@<>\x22'`]+@").expect("valid regex")
});

/// `name=value` and `name: value` (also `"name": "value"`, `--name value`, query parameters);
/// the name decides.
static PAIR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)(?P<name>[a-z_][a-z0-9_.\-]*)(?P<sep>["']?\s*[=:]\s*|["']?\s*=>\s*)(?P<value>"[^"\n]*"|'[^'\n]*'|[^\s,;&"'<>)\]}]+)"#,
    )
    .expect("valid regex")
});

/// `--password value` on a command line.
static FLAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?P<flag>--?[a-z][a-z0-9_\-]*)(?P<sep>\s+)(?P<value>[^\s-][^\s]*)")
        .expect("valid regex")
});

/// Shapes of tokens: base64 JSON (JWTs, Incus trust tokens), and well-known prefixes.
static TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"\beyJ[A-Za-z0-9_\-+/=]{16,}(?:\.[A-Za-z0-9_\-+/=]*){0,2}",
        r"|\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}",
        r"|\bgithub_pat_[A-Za-z0-9_]{20,}",
        r"|\bglpat-[A-Za-z0-9_\-]{20,}",
        r"|\bxox[abposr]-[A-Za-z0-9\-]{10,}",
        r"|\bsk-(?:proj-|ant-)?[A-Za-z0-9_\-]{20,}",
        r"|\bAKIA[0-9A-Z]{16}\b",
        r"|\bhvs\.[A-Za-z0-9_\-]{20,}",
    ))
    .expect("valid regex")
});

/// Whether a value is a secret by its shape alone (a private key, a token).
pub fn is_secret_value(value: &str) -> bool {
    PRIVATE_KEY.is_match(value) || TOKEN.is_match(value)
}

/// `text` with every secret found in it replaced by [`REDACTED`]; borrowed when none was.
pub fn text(s: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(s);
    let replace = |out: &mut Cow<'_, str>, re: &Regex, f: &dyn Fn(&Captures) -> String| {
        if re.is_match(out) {
            *out = Cow::Owned(re.replace_all(out, |c: &Captures| f(c)).into_owned());
        }
    };
    replace(&mut out, &PRIVATE_KEY, &|_| REDACTED.to_string());
    replace(&mut out, &URL_USERINFO, &|c| {
        format!("{}{REDACTED}@", &c[1])
    });
    if PAIR.is_match(&out) {
        let replaced = pairs(&out);
        if replaced != *out {
            out = Cow::Owned(replaced);
        }
    }
    replace(&mut out, &FLAG, &|c| {
        let flag = c["flag"].trim_start_matches('-');
        if is_secret_key(flag) && !is_placeholder(&c["value"]) {
            format!("{}{}{REDACTED}", &c["flag"], &c["sep"])
        } else {
            c[0].to_string()
        }
    });
    replace(&mut out, &TOKEN, &|_| REDACTED.to_string());
    out
}

/// Replaces the values of `name=value` pairs whose name is a secret key. A pair whose name is
/// not is passed over from the end of its separator, so that a pair inside its value
/// (`user.note: password=x`, `lxc.environment = PGPASSWORD=x`) is judged too.
fn pairs(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pos = 0;
    while let Some(c) = PAIR.captures_at(s, pos) {
        let (name, sep, value) = (&c["name"], c.name("sep"), c.name("value"));
        let (Some(sep), Some(value)) = (sep, value) else {
            break;
        };
        if is_secret_key(name) && !is_placeholder(value.as_str()) {
            out.push_str(&s[pos..value.start()]);
            out.push_str(REDACTED);
            pos = value.end();
        } else {
            out.push_str(&s[pos..sep.end()]);
            pos = sep.end();
        }
    }
    out.push_str(&s[pos..]);
    out
}

/// Values that are not secrets whatever their name: already redacted, empty, booleans.
fn is_placeholder(value: &str) -> bool {
    let v = value.trim_matches(['"', '\'']);
    v.is_empty()
        || v.contains(REDACTED)
        || v.starts_with("[redacted")
        || matches!(
            v.to_ascii_lowercase().as_str(),
            "true" | "false" | "none" | "null" | "yes" | "no" | "\\"
        )
}

/// The value to show for configuration key `key`.
pub fn value<'a>(key: &str, value: &'a str) -> Cow<'a, str> {
    if !value.is_empty() && is_secret_key(key) {
        Cow::Borrowed(REDACTED)
    } else {
        text(value)
    }
}

/// A configuration map with its secrets replaced.
pub fn config(map: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    map.iter()
        .map(|(k, v)| (k.clone(), value(k, v).into_owned()))
        .collect()
}

/// Removes the secrets of a JSON value (an API answer, a finding, a tool's result): fields
/// whose name says they hold a secret lose their value, and so does the `value` of an object
/// naming a secret key (`{"key"|"field": "core.trust_password", "value": ...}`); every other
/// string is [`text`].
pub fn json(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            let named_secret = ["key", "field", "name"].iter().any(|f| {
                map.get(*f)
                    .and_then(Value::as_str)
                    .is_some_and(|k| k.contains('.') && is_secret_key(k))
            });
            for (k, x) in map.iter_mut() {
                let holds = match x {
                    Value::String(s) => !s.is_empty(),
                    Value::Number(_) | Value::Array(_) => true,
                    _ => false,
                };
                if holds && (is_secret_key(k) || (named_secret && k == "value")) {
                    *x = Value::String(REDACTED.into());
                } else {
                    json(x);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(json),
        Value::String(s) => {
            if s.contains("-----BEGIN CERTIFICATE-----") {
                *s = REDACTED.into();
            } else if let Cow::Owned(clean) = text(s) {
                *s = clean;
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys_follow_incus_and_admins_spellings() {
        for k in [
            "environment.DB_PASSWORD",
            "environment.PATH",
            "cloud-init.user-data",
            "user.user-data",
            "core.trust_password",
            "network.ovn.client_key",
            "network.ovn.client_cert",
            "acme.eab.hmac",
            "acme.eab.hmac_key",
            "acme.provider.environment",
            "acme.eab.kid",
            "oidc.client.id",
            "drive_recovery_keys",
            "loki.auth.password",
            "oidc.client.secret",
            "raw.lxc",
            "raw.qemu",
            "raw.qemu.conf",
            "user.db_pass",
            "user.admin_pw",
            "user.wifi_psk",
            "user.ssh_private",
            "user.basic_auth",
            "user.api-token",
            "user.s3_credentials",
            "bgp.peers.r1.password",
            "DB_PASSWORD",
            "AWS_SECRET_ACCESS_KEY",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in [
            "limits.memory",
            "security.nesting",
            "security.privileged",
            "boot.autostart",
            "volatile.eth0.hwaddr",
            "user.comment",
            "raw.idmap",
            "core.https_address",
            "logging.loki.target.address",
            "images.auto_update_interval",
            "auth_user_method",
            "cluster.offline_threshold",
        ] {
            assert!(!is_secret_key(k), "{k}");
        }
    }

    #[test]
    fn secrets_inside_text_are_found_by_their_shape_and_their_name() {
        let cases = [
            ("https://admin:hunter2@loki.example.com:3100", "hunter2"),
            ("s3://AKIAEXAMPLE:Zm9vYmFy@bucket", "Zm9vYmFy"),
            (
                "https://hooks.example.com/x?token=abc123def&x=1",
                "abc123def",
            ),
            ("https://h.example/p?api_key=K3Y&sig=S1G", "K3Y"),
            ("CF_DNS_API_TOKEN=cfsecret123\nOTHER=ok", "cfsecret123"),
            ("DB_PASSWORD=\"quoted secret\"", "quoted secret"),
            ("lxc.environment = PGPASSWORD=pg-secret-1", "pg-secret-1"),
            ("2026-01-01 init: password: s3cr3t-in-log", "s3cr3t-in-log"),
            ("{\"password\": \"json-secret\"}", "json-secret"),
            ("mysql --password hunter3 -u root", "hunter3"),
            (
                "trust token eyJjbGllbnRfbmFtZSI6ImxhcHRvcCIsImZpbmdlcnByaW50IjoiYWJjIn0=",
                "eyJjbGllbnRfbmFtZSI6",
            ),
            ("token ghp_abcdefghijklmnopqrstuvwxyz0123", "ghp_abcdef"),
            ("key AKIAIOSFODNN7EXAMPLE here", "AKIAIOSFODNN7EXAMPLE"),
            (
                "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----",
                "b3BlbnNzaC1rZXk",
            ),
            ("-----BEGIN RSA PRIVATE KEY-----\nMIIEcut", "MIIEcut"),
        ];
        for (input, secret) in cases {
            let out = text(input);
            assert!(!out.contains(secret), "{secret:?} left in {out:?}");
            assert!(out.contains(REDACTED), "{out:?}");
        }
    }

    #[test]
    fn ordinary_text_is_kept_as_it_is() {
        for s in [
            "limits.memory: 4GiB",
            "https://linuxcontainers.org/incus/docs/main/howto/cluster_manage/",
            "Cluster member m2 is offline (no heartbeat for 21s)",
            "security.privileged=true",
            "incus config set core.https_address=:8443",
            "image fingerprint 6d8a3e3b9c0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b",
            "password: [redacted]",
            "mail admin@example.com",
        ] {
            assert!(matches!(text(s), Cow::Borrowed(_)), "{s:?} → {}", text(s));
        }
    }

    #[test]
    fn json_loses_its_secrets_and_keeps_the_rest() {
        let mut v = serde_json::json!({
            "name": "web1",
            "config": {"environment.DB_PASSWORD": "hunter2", "limits.cpu": "2",
                       "cloud-init.user-data": "#cloud-config\npassword: x",
                       "user.note": "eyJjbGllbnRfbmFtZSI6ImEiLCJzZWNyZXQiOiJiIn0=",
                       "logging.l1.target.address": "https://u:p4ss@loki:3100",
                       "security.secureboot": false},
            "certificate": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
            "nested": [{"token": "eyJ0b2tlbiI6Ij"}, {"log": "x\n-----BEGIN EC PRIVATE KEY-----\nabc"}],
            "log": "start\nexport API_TOKEN=tok-123-abc\nend",
        });
        json(&mut v);
        let s = v.to_string();
        for secret in [
            "hunter2",
            "password: x",
            "MIIB",
            "eyJ0b2tlbiI6Ij",
            "BEGIN EC PRIVATE KEY",
            "eyJjbGllbnRf",
            "p4ss",
            "tok-123-abc",
        ] {
            assert!(!s.contains(secret), "{secret} in {s}");
        }
        assert_eq!(v["config"]["limits.cpu"], "2");
        assert_eq!(v["config"]["security.secureboot"], false);
        assert_eq!(v["name"], "web1");
        assert!(v["log"].as_str().unwrap().starts_with("start\n"));
    }

    #[test]
    fn values_by_key_then_by_shape() {
        assert_eq!(
            value("raw.lxc", "lxc.apparmor.profile=unconfined"),
            REDACTED
        );
        assert_eq!(value("limits.cpu", "2"), "2");
        assert_eq!(value("user.token", ""), "");
        assert_eq!(
            value("source", "https://bob:pw@ceph.example/pool"),
            "https://[redacted]@ceph.example/pool"
        );
    }
}
