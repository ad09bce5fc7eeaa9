//! From a [`Change`] to what a person confirms: the object read now (with its ETag), the one
//! request it becomes, what it affects (old → new, each instance an evacuation touches), and
//! after it ran, the object read back to check that the change took effect.

use serde_json::{Value, json};

use super::change::{Change, ConfigTarget, EvacuateMode, StateAction};
use super::request::{config_path, enc, in_project, writable};
use super::writer::{Method, WriteError, Writer};
use crate::diagnosis::incus::api::{Instance, Member};
use crate::diagnosis::incus::client::with_query;

/// What is checked after the change ran.
#[derive(Debug, Clone, PartialEq)]
enum Expect {
    /// `config[key]` is `value` (absent when `None`).
    Config { key: String, value: Option<String> },
    /// The member's `status`.
    MemberStatus(&'static str),
    /// The instance's `status`.
    InstanceStatus(&'static str),
    /// The object exists.
    Exists,
    /// The instance's `location`.
    Location(String),
    /// The warning's `status`.
    WarningStatus(&'static str),
    /// The operation's success is the check.
    Succeeded,
}

/// A change ready to be confirmed and run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The `incus` command it stands for.
    pub command: String,
    /// The request it becomes.
    pub method: Method,
    /// Its path.
    pub path: String,
    /// Its body.
    pub body: Value,
    /// The ETag read for the preview, sent as `If-Match`.
    pub if_match: Option<String>,
    /// What it affects, one line each.
    pub affects: Vec<String>,
    /// What is read back afterwards.
    check_path: String,
    expect: Expect,
}

fn show(v: Option<&str>) -> String {
    match v {
        None | Some("") => "(unset)".to_string(),
        Some(v) => v.to_string(),
    }
}

impl Plan {
    /// Reads what the change touches and builds its request and preview.
    pub async fn new(change: &Change, w: &Writer) -> Result<Plan, WriteError> {
        let command = change.command();
        let plan = |method, path: String, body, if_match, affects, check_path, expect| Plan {
            command: command.clone(),
            method,
            path,
            body,
            if_match,
            affects,
            check_path,
            expect,
        };
        Ok(match change {
            Change::EvacuateMember { member, mode } => {
                let path = format!("/1.0/cluster/members/{}", enc(member));
                let m: Member = w.read_as(&path).await?;
                let instances: Vec<Instance> = w
                    .read_as("/1.0/instances?recursion=1&all-projects=true")
                    .await?;
                let members: Vec<Member> = w.read_as("/1.0/cluster/members?recursion=1").await?;
                let others: Vec<&str> = members
                    .iter()
                    .filter(|o| {
                        &o.server_name != member
                            && o.status == crate::diagnosis::incus::api::MemberStatus::Online
                    })
                    .map(|o| o.server_name.as_str())
                    .collect();
                let mut affects = vec![format!(
                    "member {member}: {:?} → Evacuated; instances that move go to {} (Incus picks)",
                    m.status,
                    if others.is_empty() {
                        "no other online member".to_string()
                    } else {
                        others.join(" or ")
                    }
                )];
                for i in instances.iter().filter(|i| &i.location == member) {
                    let word = match mode {
                        Some(m) => m.as_str(),
                        None => i
                            .expanded_config
                            .get("cluster.evacuate")
                            .map_or("auto", String::as_str),
                    };
                    affects.push(format!(
                        "{} ({}, {}): {word}: {}",
                        i.name,
                        i.project,
                        i.status,
                        EvacuateMode::effect(word)
                    ));
                }
                if affects.len() == 1 {
                    affects.push("no instance runs there".into());
                }
                let mut body = json!({"action": "evacuate"});
                if let Some(m) = mode {
                    body["mode"] = json!(m.as_str());
                }
                plan(
                    Method::Post,
                    format!("{path}/state"),
                    body,
                    None,
                    affects,
                    path,
                    Expect::MemberStatus("Evacuated"),
                )
            }
            Change::RestoreMember { member } => {
                let path = format!("/1.0/cluster/members/{}", enc(member));
                let m: Member = w.read_as(&path).await?;
                plan(
                    Method::Post,
                    format!("{path}/state"),
                    json!({"action": "restore"}),
                    None,
                    vec![format!(
                        "member {member}: {:?} → Online; instances evacuated from it come back",
                        m.status
                    )],
                    path,
                    Expect::MemberStatus("Online"),
                )
            }
            Change::InstanceState {
                instance,
                project,
                action,
                force,
            } => {
                let path = in_project(&format!("/1.0/instances/{}", enc(instance)), project);
                let i: Instance = w.read_as(&path).await?;
                let (want, note) = match action {
                    StateAction::Start => ("Running", ""),
                    StateAction::Stop => ("Stopped", "; its services stop"),
                    StateAction::Restart => ("Running", "; its services are interrupted"),
                };
                plan(
                    Method::Put,
                    in_project(&format!("/1.0/instances/{}/state", enc(instance)), project),
                    json!({"action": action.as_str(), "timeout": 30, "force": force}),
                    None,
                    vec![format!(
                        "instance {instance} on {}: {} → {want}{note}",
                        i.location, i.status
                    )],
                    path,
                    Expect::InstanceStatus(want),
                )
            }
            Change::CreateSnapshot {
                instance,
                project,
                name,
                expiry,
                expires_at,
            } => {
                let path = in_project(&format!("/1.0/instances/{}", enc(instance)), project);
                let i: Instance = w.read_as(&path).await?;
                let mut body = json!({"name": name, "stateful": false});
                if let Some(at) = expires_at {
                    body["expires_at"] = json!(at);
                }
                plan(
                    Method::Post,
                    in_project(
                        &format!("/1.0/instances/{}/snapshots", enc(instance)),
                        project,
                    ),
                    body,
                    None,
                    vec![format!(
                        "a new snapshot {instance}/{name} ({}, on {}){}",
                        i.status,
                        i.location,
                        expiry
                            .as_deref()
                            .map(|e| format!(", expires in {e}"))
                            .unwrap_or_else(|| ", never expires".into())
                    )],
                    in_project(
                        &format!("/1.0/instances/{}/snapshots/{}", enc(instance), enc(name)),
                        project,
                    ),
                    Expect::Exists,
                )
            }
            Change::SetConfig {
                target,
                name,
                key,
                value,
                member,
                project,
            } => {
                let path = config_path(*target, name, member, project);
                let (object, etag) = w.read(&path).await?;
                let old = object["config"][key].as_str().map(str::to_string);
                let mut body = writable(*target, &object);
                if !body["config"].is_object() {
                    body["config"] = json!({});
                }
                if value.is_empty() {
                    if let Some(c) = body["config"].as_object_mut() {
                        c.remove(key);
                    }
                } else {
                    body["config"][key] = json!(value);
                }
                let what = match target {
                    ConfigTarget::Server => match member {
                        Some(m) => format!("server configuration of {m}"),
                        None => "server configuration".to_string(),
                    },
                    t => format!(
                        "{} {name}{}",
                        t.as_str(),
                        member
                            .as_deref()
                            .map(|m| format!(" on {m}"))
                            .unwrap_or_default()
                    ),
                };
                plan(
                    Method::Put,
                    path.clone(),
                    body,
                    etag,
                    vec![format!(
                        "{what}: {key}: {} → {}",
                        show(old.as_deref()),
                        show(Some(value))
                    )],
                    path,
                    Expect::Config {
                        key: key.clone(),
                        value: (!value.is_empty()).then(|| value.clone()),
                    },
                )
            }
            Change::AcknowledgeWarning { uuid } => {
                let path = format!("/1.0/warnings/{}", enc(uuid));
                let (warning, etag) = w.read(&path).await?;
                plan(
                    Method::Put,
                    path.clone(),
                    json!({"status": "acknowledged"}),
                    etag,
                    vec![format!(
                        "warning {} on {}: \"{}\": {} → acknowledged (hidden from incus warning list until it happens again)",
                        warning["type"].as_str().unwrap_or(""),
                        warning["location"].as_str().unwrap_or(""),
                        warning["last_message"].as_str().unwrap_or(""),
                        warning["status"].as_str().unwrap_or("")
                    )],
                    path,
                    Expect::WarningStatus("acknowledged"),
                )
            }
            Change::RefreshImage {
                fingerprint,
                project,
            } => {
                let path = in_project(&format!("/1.0/images/{}", enc(fingerprint)), project);
                let (image, _) = w.read(&path).await?;
                let aliases: Vec<&str> = image["aliases"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|a| a["name"].as_str())
                    .collect();
                plan(
                    Method::Post,
                    in_project(
                        &format!("/1.0/images/{}/refresh", enc(fingerprint)),
                        project,
                    ),
                    json!({}),
                    None,
                    vec![format!(
                        "image {} ({}): downloaded again from {} if a newer one exists; instances keep theirs",
                        &fingerprint[..fingerprint.len().min(12)],
                        if aliases.is_empty() {
                            "no alias".to_string()
                        } else {
                            aliases.join(", ")
                        },
                        image["update_source"]["server"]
                            .as_str()
                            .unwrap_or("its source")
                    )],
                    path,
                    Expect::Succeeded,
                )
            }
            Change::MoveInstance {
                instance,
                member,
                project,
            } => {
                let path = in_project(&format!("/1.0/instances/{}", enc(instance)), project);
                let i: Instance = w.read_as(&path).await?;
                let running = i.status == "Running";
                let vm = i.kind == crate::diagnosis::incus::api::InstanceType::VirtualMachine;
                let mut affects = vec![format!(
                    "instance {instance} ({}): {} → {member}",
                    i.status, i.location
                )];
                if running && !vm {
                    affects.push("a running container cannot move: Incus will refuse unless it is stopped first".into());
                }
                plan(
                    Method::Post,
                    with_query(&path, &[("target", member)]),
                    json!({"name": instance, "migration": true, "live": running && vm}),
                    None,
                    affects,
                    path,
                    Expect::Location(member.clone()),
                )
            }
        })
    }

    /// The preview a person reads before saying yes.
    pub fn preview(&self) -> String {
        // Every part may quote the cluster or the model: shown with its controls escaped, so
        // that no value can erase a line or add one.
        let shown = crate::util::out::visible;
        let mut out = format!("  {}\n", shown(&self.command));
        for a in &self.affects {
            out.push_str(&format!("    - {}\n", shown(a)));
        }
        out.push_str(&format!(
            "  runs: {} {}{}\n",
            self.method.as_str(),
            shown(&self.path),
            if self.if_match.is_some() {
                " (If-Match: the ETag read now)"
            } else {
                ""
            }
        ));
        out
    }

    /// Reads the object back; `Ok` with what was seen when the change took effect.
    pub async fn verify(&self, w: &Writer) -> Result<String, WriteError> {
        if self.expect == Expect::Succeeded {
            return Ok("the operation succeeded".into());
        }
        let (v, _) = w.read(&self.check_path).await?;
        let seen = |field: &str| v[field].as_str().unwrap_or("").to_string();
        let (ok, what) = match &self.expect {
            Expect::Config { key, value } => {
                let now = v["config"][key].as_str();
                (
                    now == value.as_deref(),
                    format!("{key} is now {}", show(now)),
                )
            }
            Expect::MemberStatus(want) => (
                seen("status") == *want,
                format!("status {}", seen("status")),
            ),
            Expect::InstanceStatus(want) => (
                seen("status") == *want,
                format!("status {}", seen("status")),
            ),
            Expect::WarningStatus(want) => (
                seen("status") == *want,
                format!("status {}", seen("status")),
            ),
            Expect::Location(want) => (
                seen("location") == *want,
                format!("on {}", seen("location")),
            ),
            Expect::Exists => (true, "it exists".to_string()),
            Expect::Succeeded => (true, String::new()),
        };
        if ok {
            Ok(what)
        } else {
            Err(WriteError::NotApplied {
                path: self.check_path.clone(),
                seen: what,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preview_shows_command_effects_and_request() {
        let p = Plan {
            command: "incus config set c1 limits.memory=300MiB".into(),
            method: Method::Put,
            path: "/1.0/instances/c1".into(),
            body: json!({}),
            if_match: Some("\"abc\"".into()),
            affects: vec!["instance c1: limits.memory: (unset) → 300MiB".into()],
            check_path: "/1.0/instances/c1".into(),
            expect: Expect::Exists,
        };
        assert_eq!(
            p.preview(),
            "  incus config set c1 limits.memory=300MiB\n    - instance c1: limits.memory: (unset) → 300MiB\n  runs: PUT /1.0/instances/c1 (If-Match: the ETag read now)\n"
        );
    }
}
