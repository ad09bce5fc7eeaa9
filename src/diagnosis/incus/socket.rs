//! The local unix socket, found the way the incus CLI finds it.

use std::path::PathBuf;
use std::time::Duration;

/// `$INCUS_SOCKET`, else `$INCUS_DIR/unix.socket`, else `/run/incus/unix.socket` if it
/// exists, else `/var/lib/incus/unix.socket`.
pub fn local_socket_path() -> PathBuf {
    if let Some(s) = std::env::var_os("INCUS_SOCKET").filter(|s| !s.is_empty()) {
        return PathBuf::from(s);
    }
    if let Some(d) = std::env::var_os("INCUS_DIR").filter(|s| !s.is_empty()) {
        return PathBuf::from(d).join("unix.socket");
    }
    let run = PathBuf::from("/run/incus/unix.socket");
    if run.exists() {
        return run;
    }
    PathBuf::from("/var/lib/incus/unix.socket")
}

/// The version of the local Incus server, if one answers on its socket within `timeout`.
pub async fn local_server_version(timeout: Duration) -> Option<String> {
    let path = local_socket_path();
    if !path.exists() {
        return None;
    }
    let client = crate::util::http::builder()
        .unix_socket(path)
        .timeout(timeout)
        .build()
        .ok()?;
    let resp = client.get("http://incus/1.0").send().await.ok()?;
    let body = crate::util::http::read_body(resp, 4 << 20, "GET /1.0")
        .await
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&body).ok()?;
    v.pointer("/metadata/environment/server_version")?
        .as_str()
        .map(str::to_string)
}
