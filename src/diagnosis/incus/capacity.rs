//! The parts of the Incus REST API that `review` reads on top of `doctor`'s: a member's
//! hardware (`/1.0/resources`), an instance's current usage (`state` in
//! `/1.0/instances?recursion=2`), custom storage volumes and each member's daemon version. Every field has a default.

use serde::{Deserialize, Serialize};

use super::api::ConfigMap;

/// `GET /1.0/resources?target=MEMBER`: the member's hardware.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Resources {
    /// Processors.
    pub cpu: Cpus,
    /// Memory.
    pub memory: Memory,
}

/// `cpu` of [`Resources`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Cpus {
    /// Logical CPUs (threads).
    pub total: u64,
    /// Sockets, with their vendor and model.
    pub sockets: Vec<CpuSocket>,
}

/// One CPU socket.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CpuSocket {
    /// Model name (`Intel(R) Xeon(R) ...`).
    pub name: String,
    /// Vendor (`GenuineIntel`, `AuthenticAMD`).
    pub vendor: String,
}

/// `memory` of [`Resources`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Memory {
    /// Bytes.
    pub total: u64,
}

/// What `GET /1.0?target=MEMBER` says of the daemon answering for a member: which Incus it
/// runs. Members of one cluster must run the same version.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct DaemonVersion {
    /// `environment.server_version`, e.g. `6.0.4`.
    pub server_version: String,
    /// How many API extensions it supports (a patch release may add some).
    pub api_extensions: usize,
}

impl DaemonVersion {
    /// The version of a `GET /1.0` answer.
    pub fn of(server: &super::api::Server) -> DaemonVersion {
        DaemonVersion {
            server_version: server.environment.server_version.clone(),
            api_extensions: server.api_extensions.len(),
        }
    }
}

impl std::fmt::Display for DaemonVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({} API extensions)",
            self.server_version, self.api_extensions
        )
    }
}

/// `state` of an instance in `/1.0/instances?recursion=2`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InstanceUsage {
    /// Memory.
    pub memory: MemoryUsage,
}

/// How many entries a list has (an instance's `snapshots` or `backups` in a `recursion=2`
/// answer), without keeping them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Count(pub usize);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Count, D::Error> {
        struct Counter;
        impl<'de> serde::de::Visitor<'de> for Counter {
            type Value = Count;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list or null")
            }
            fn visit_unit<E>(self) -> Result<Count, E> {
                Ok(Count(0))
            }
            fn visit_none<E>(self) -> Result<Count, E> {
                Ok(Count(0))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Count, A::Error> {
                let mut n = 0;
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    n += 1;
                }
                Ok(Count(n))
            }
        }
        d.deserialize_any(Counter)
    }
}

/// `state.memory` of an instance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemoryUsage {
    /// Bytes in use now.
    pub usage: u64,
}

/// An entry of `GET /1.0/storage-pools/POOL/volumes?recursion=1&all-projects=true`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StorageVolume {
    /// Name.
    pub name: String,
    /// `custom`, `container`, `virtual-machine`, `image`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Project.
    pub project: String,
    /// The member it is on (local pools).
    pub location: String,
    /// Configuration.
    pub config: ConfigMap,
}

/// Bytes of an Incus size (`512MiB`, `2GB`, `1073741824`, `50%` of `host`); `None` when it
/// cannot be read.
pub fn parse_size(value: &str, host: u64) -> Option<u64> {
    let v = value.trim();
    if let Some(p) = v.strip_suffix('%') {
        let p: f64 = p.trim().parse().ok()?;
        return (p.is_finite() && p >= 0.0).then(|| (host as f64 * p / 100.0) as u64);
    }
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult: f64 = match unit.trim() {
        "" | "B" => 1.0,
        "kB" | "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        "PB" => 1e15,
        "KiB" => 1024.0,
        "MiB" => 1024f64.powi(2),
        "GiB" => 1024f64.powi(3),
        "TiB" => 1024f64.powi(4),
        "PiB" => 1024f64.powi(5),
        _ => return None,
    };
    let bytes = n * mult;
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// CPUs of a `limits.cpu` value: a count (`4`), or a set of CPUs (`0-3,7`); `None` when it
/// cannot be read.
pub fn parse_cpus(value: &str) -> Option<u64> {
    let v = value.trim();
    if let Ok(n) = v.parse::<u64>() {
        return Some(n);
    }
    let mut n = 0u64;
    for part in v.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u64, u64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                n += b.checked_sub(a)? + 1;
            }
            None => {
                part.trim().parse::<u64>().ok()?;
                n += 1;
            }
        }
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_cpu_sets() {
        for (v, want) in [
            ("512MiB", Some(512 << 20)),
            ("2GB", Some(2_000_000_000)),
            ("1073741824", Some(1 << 30)),
            ("1.5GiB", Some(3 << 29)),
            ("50%", Some(500)),
            ("lots", None),
            ("-1GiB", None),
            ("", None),
        ] {
            assert_eq!(parse_size(v, 1000), want, "{v}");
        }
        for (v, want) in [
            ("4", Some(4)),
            ("0-3,7", Some(5)),
            ("3-1", None),
            ("x", None),
        ] {
            assert_eq!(parse_cpus(v), want, "{v}");
        }
    }
}
