//! Secrets planted in a recorded cluster, one of each class an admin's cluster holds: keys
//! Incus itself calls sensitive, admins' own `user.*` spellings, credentials inside URLs,
//! `raw.*` configuration, trust tokens stored as values, environment lists, and secrets in
//! free text (warning messages, an instance's log).

use base64::Engine;
use serde_json::{Value, json};

use super::replay::Recording;

/// A trust token as Incus prints it (base64 JSON), its client name the marker to look for.
pub fn trust_token(marker: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(
        json!({"client_name": marker, "fingerprint": "abc", "addresses": ["127.0.0.11:8443"],
               "secret": "a1b2c3d4e5f6", "expires_at": "0001-01-01T00:00:00Z"})
        .to_string(),
    )
}

/// Plants the secrets into `rec` (which must be the recorded healthy cluster, optionally with
/// review answers) and returns the strings that must never leave.
pub fn plant(rec: &mut Recording) -> Vec<String> {
    let token = trust_token("note-token-1919");
    let server: [(&str, &str); 8] = [
        (
            "acme.provider.environment",
            "CF_DNS_API_TOKEN=cf-dns-token-4242\nCF_ZONE=example.com",
        ),
        ("acme.eab.hmac", "eab-hmac-secret-5151"),
        ("core.trust_password", "trust-pass-6161"),
        ("loki.auth.password", "loki-pass-7171"),
        (
            "logging.loki1.target.address",
            "https://logger:url-pass-8181@loki.example:3100",
        ),
        ("oidc.client.secret", "oidc-secret-9191"),
        ("network.ovn.client_key", "ovn-key-9292"),
        (
            "user.alert_webhook",
            "https://hooks.example/incus?token=hook-token-9393&x=1",
        ),
    ];
    for (k, v) in server {
        rec.meta("/1.0")["config"][k] = json!(v);
    }
    let c1: [(&str, Value); 9] = [
        (
            "raw.lxc",
            json!("lxc.environment = DBPASS=rawlxc-pass-1212"),
        ),
        (
            "raw.qemu",
            json!("-object secret,id=s0,data=rawqemu-secret-1313"),
        ),
        ("user.db_pass", json!("userpass-1414")),
        ("user.admin_pw", json!("userpw-1515")),
        ("user.wifi_psk", json!("userpsk-1616")),
        ("user.ssh_private", json!("userprivate-1717")),
        ("user.basic_auth", json!("userauth-1818")),
        ("user.note", json!(token)),
        (
            "environment.SERVICE_URL",
            json!("postgres://app:env-url-pass-2727@db:5432/app"),
        ),
    ];
    let i = rec.instance("c1");
    for (k, v) in c1 {
        i["config"][k] = v.clone();
        i["expanded_config"][k] = v;
    }
    let disk = json!({"type": "disk", "path": "/srv/img",
        "source": "https://diskuser:disk-pass-2020@files.example/img.iso"});
    i["devices"]["img"] = disk.clone();
    i["expanded_devices"]["img"] = disk;
    i["description"] = json!("web frontend; deploy key ghp_abcdefghijklmnopqrstuvwx2828");
    rec.meta("/1.0/storage-pools?recursion=1")[1]["config"]["source"] =
        json!("https://pooluser:pool-pass-2121@s3.example/bucket");
    rec.meta("/1.0/networks?recursion=1&all-projects=true")[0]["config"]["user.webhook"] =
        json!("https://hooks.example/net?api_key=net-token-2222");
    rec.meta("/1.0/profiles?recursion=1&all-projects=true")[1]["config"]["environment.SECRET"] =
        json!("profile-env-2323");
    rec.warn(
        "Storage pool unavailable",
        "high",
        "m1",
        "/1.0/storage-pools/pool2",
        "mount failed: password=warn-pass-2424 rejected by server",
    );
    rec.set(
        "/1.0/instances/c1/state?project=default",
        json!({"status": "Running", "processes": 3}),
    );
    rec.answers.insert(
        "/1.0/instances/c1/logs/lxc.log?project=default".into(),
        (
            200,
            Value::String(
                "lxc c1 20261206 INFO start\nStarting db with --password log-pass-2525\nexport API_KEY=log-key-2626\n"
                    .into(),
            ),
        ),
    );
    [
        "cf-dns-token-4242",
        "eab-hmac-secret-5151",
        "trust-pass-6161",
        "loki-pass-7171",
        "url-pass-8181",
        "oidc-secret-9191",
        "ovn-key-9292",
        "hook-token-9393",
        "rawlxc-pass-1212",
        "rawqemu-secret-1313",
        "userpass-1414",
        "userpw-1515",
        "userpsk-1616",
        "userprivate-1717",
        "userauth-1818",
        "env-url-pass-2727",
        "disk-pass-2020",
        "ghp_abcdefghijklmnopqrstuvwx2828",
        "pool-pass-2121",
        "net-token-2222",
        "profile-env-2323",
        "warn-pass-2424",
        "log-pass-2525",
        "log-key-2626",
        &token[..24],
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}
