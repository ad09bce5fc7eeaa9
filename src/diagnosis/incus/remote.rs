//! Remotes, found the way the `incus` CLI finds them: `config.yml` in `$INCUS_CONF` (default
//! `~/.config/incus`) merged over `/etc/incus/config.yml`, the client certificate (per remote in
//! `clientcerts/`, else `client.crt`/`client.key`) and the pinned server certificate in
//! `servercerts/<remote>.crt`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::ClientError;
use super::socket::local_socket_path;

/// Where and how to reach one Incus server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// The local unix socket.
    Unix(PathBuf),
    /// HTTPS with a TLS client certificate.
    Https {
        /// `https://host:port`.
        url: String,
        /// Client certificate (PEM).
        client_cert: PathBuf,
        /// Client key (PEM, not encrypted).
        client_key: PathBuf,
        /// The server certificate pinned by `incus remote add`, if any.
        server_cert: Option<PathBuf>,
    },
}

/// A resolved remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Its name (`local`, or the name given to `incus remote add`).
    pub remote: String,
    /// How to reach it.
    pub endpoint: Endpoint,
    /// The remote's default project, if set.
    pub project: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct CliConfig {
    #[serde(rename = "default-remote")]
    default_remote: Option<String>,
    #[serde(default)]
    remotes: BTreeMap<String, RemoteEntry>,
}

#[derive(Debug, Clone, Deserialize)]
struct RemoteEntry {
    addr: String,
    #[serde(default)]
    protocol: Option<String>,
    #[serde(default)]
    auth_type: Option<String>,
    #[serde(default)]
    project: Option<String>,
}

/// The incus CLI's configuration folder: `$INCUS_CONF`, else `~/.config/incus`.
pub fn user_config_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("INCUS_CONF").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    crate::util::paths::config_home().join("incus")
}

/// The system-wide configuration folder.
pub const GLOBAL_CONFIG_DIR: &str = "/etc/incus";

fn read_config(dir: &Path) -> Result<CliConfig, ClientError> {
    let path = dir.join("config.yml");
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_norway::from_str(&text).map_err(|e| ClientError::Config {
            path: path.clone(),
            detail: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(CliConfig::default()),
        Err(e) => Err(ClientError::Config {
            path,
            detail: e.to_string(),
        }),
    }
}

fn first_existing(paths: &[PathBuf]) -> Option<PathBuf> {
    paths.iter().find(|p| p.exists()).cloned()
}

/// Resolves `--remote NAME` (or the default remote) using the CLI's configuration in `user_dir`
/// and `global_dir`.
pub fn resolve_in(
    name: Option<&str>,
    user_dir: &Path,
    global_dir: &Path,
) -> Result<Target, ClientError> {
    let global = read_config(global_dir)?;
    let user = read_config(user_dir)?;
    let name = name
        .map(str::to_string)
        .or(user.default_remote.clone())
        .or(global.default_remote.clone())
        .unwrap_or_else(|| "local".to_string());
    let (entry, from_global) = match user.remotes.get(&name) {
        Some(e) => (Some(e.clone()), false),
        None => (global.remotes.get(&name).cloned(), true),
    };
    let entry = match entry {
        Some(e) => e,
        None if name == "local" => RemoteEntry {
            addr: "unix://".into(),
            protocol: None,
            auth_type: None,
            project: None,
        },
        None => {
            return Err(ClientError::UnknownRemote {
                name,
                config: user_dir.join("config.yml"),
            });
        }
    };
    if entry
        .protocol
        .as_deref()
        .is_some_and(|p| p != "incus" && p != "lxd")
    {
        return Err(ClientError::NotIncus { name });
    }
    let project = entry.project.clone().filter(|p| !p.is_empty());
    if let Some(rest) = entry.addr.strip_prefix("unix://") {
        let path = if rest.is_empty() {
            local_socket_path()
        } else {
            PathBuf::from(rest)
        };
        return Ok(Target {
            remote: name,
            endpoint: Endpoint::Unix(path),
            project,
        });
    }
    if entry.auth_type.as_deref().is_some_and(|a| a != "tls") {
        return Err(ClientError::UnsupportedAuth {
            name,
            auth: entry.auth_type.unwrap_or_default(),
        });
    }
    let url = entry.addr.trim_end_matches('/').to_string();
    if !url.starts_with("https://") {
        return Err(ClientError::Config {
            path: user_dir.join("config.yml"),
            detail: format!("remote {name}: address {url} is neither unix:// nor https://"),
        });
    }
    let cert_dirs: Vec<&Path> = if from_global {
        vec![global_dir, user_dir]
    } else {
        vec![user_dir, global_dir]
    };
    let server_cert = first_existing(
        &cert_dirs
            .iter()
            .map(|d| d.join("servercerts").join(format!("{name}.crt")))
            .collect::<Vec<_>>(),
    );
    let per_remote = user_dir.join("clientcerts").join(format!("{name}.crt"));
    let (client_cert, client_key) = if per_remote.exists() {
        (
            per_remote,
            user_dir.join("clientcerts").join(format!("{name}.key")),
        )
    } else {
        (user_dir.join("client.crt"), user_dir.join("client.key"))
    };
    Ok(Target {
        remote: name,
        endpoint: Endpoint::Https {
            url,
            client_cert,
            client_key,
            server_cert,
        },
        project,
    })
}

/// Resolves a remote with the CLI's own configuration folders.
pub fn resolve(name: Option<&str>) -> Result<Target, ClientError> {
    resolve_in(name, &user_config_dir(), Path::new(GLOBAL_CONFIG_DIR))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let user = d.path().join("user");
        let global = d.path().join("etc");
        std::fs::create_dir_all(user.join("servercerts")).unwrap();
        std::fs::create_dir_all(global.join("servercerts")).unwrap();
        (d, user, global)
    }

    #[test]
    fn local_is_the_default_and_uses_the_socket() {
        let (_d, user, global) = dirs();
        let t = resolve_in(None, &user, &global).unwrap();
        assert_eq!(t.remote, "local");
        assert!(matches!(t.endpoint, Endpoint::Unix(_)));
    }

    #[test]
    fn https_remotes_get_client_and_pinned_server_certificates() {
        let (_d, user, global) = dirs();
        std::fs::write(
            user.join("config.yml"),
            "default-remote: prod\nremotes:\n  prod:\n    addr: https://10.0.0.1:8443\n    auth_type: tls\n    project: web\n    protocol: incus\n  images:\n    addr: https://images.linuxcontainers.org\n    protocol: simplestreams\n",
        )
        .unwrap();
        std::fs::write(user.join("servercerts/prod.crt"), "x").unwrap();
        let t = resolve_in(None, &user, &global).unwrap();
        assert_eq!(t.remote, "prod");
        assert_eq!(t.project.as_deref(), Some("web"));
        match t.endpoint {
            Endpoint::Https {
                url,
                client_cert,
                server_cert,
                ..
            } => {
                assert_eq!(url, "https://10.0.0.1:8443");
                assert_eq!(client_cert, user.join("client.crt"));
                assert_eq!(server_cert, Some(user.join("servercerts/prod.crt")));
            }
            e => panic!("{e:?}"),
        }
        let e = resolve_in(Some("images"), &user, &global)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("images") && e.contains("not an Incus server"),
            "{e}"
        );
        let e = resolve_in(Some("nope"), &user, &global)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no remote named nope"), "{e}");
    }

    #[test]
    fn global_remotes_use_the_global_server_certificates() {
        let (_d, user, global) = dirs();
        std::fs::write(
            global.join("config.yml"),
            "remotes:\n  site:\n    addr: https://c.example:8443\n",
        )
        .unwrap();
        std::fs::write(global.join("servercerts/site.crt"), "x").unwrap();
        let t = resolve_in(Some("site"), &user, &global).unwrap();
        assert!(
            matches!(t.endpoint, Endpoint::Https { server_cert: Some(p), .. } if p == global.join("servercerts/site.crt"))
        );
    }
}
