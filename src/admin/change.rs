//! The catalogue of changes incus-ai may run after a person's yes: each one API call, shown as
//! the `incus` command an admin would type. Deleting, removing members, quorum recovery,
//! certificates and joins are not here: they stay propose-only (the answer gives commands).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How an evacuation treats the member's instances (`cluster.evacuate`, or `--action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum EvacuateMode {
    /// Each instance's own `cluster.evacuate` (default `auto`).
    Auto,
    /// Move each instance (brief downtime).
    Migrate,
    /// Move each instance while it runs (virtual machines with `migration.stateful`).
    LiveMigrate,
    /// Stop the instances on the member.
    Stop,
    /// Stop them with their memory saved to disk.
    StatefulStop,
    /// Stop them at once.
    ForceStop,
}

impl EvacuateMode {
    /// The word Incus uses.
    pub fn as_str(self) -> &'static str {
        match self {
            EvacuateMode::Auto => "auto",
            EvacuateMode::Migrate => "migrate",
            EvacuateMode::LiveMigrate => "live-migrate",
            EvacuateMode::Stop => "stop",
            EvacuateMode::StatefulStop => "stateful-stop",
            EvacuateMode::ForceStop => "force-stop",
        }
    }

    /// What an evacuation in this mode does to one instance.
    pub fn effect(word: &str) -> &'static str {
        match word {
            "migrate" => {
                "moved to another member (the scheduler picks; brief downtime), back on restore"
            }
            "live-migrate" => "live-migrated to another member, back on restore",
            "stop" => "stopped on this member, started again on restore",
            "stateful-stop" => "stopped with its memory saved, resumed on restore",
            "force-stop" => "stopped at once (no clean shutdown), started again on restore",
            _ => "moved to another member if all its devices can move, else stopped (auto)",
        }
    }
}

/// What `set_config` changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ConfigTarget {
    /// The server (or cluster-wide) configuration; `member` for a member-specific key.
    Server,
    /// An instance.
    Instance,
    /// A project.
    Project,
    /// A profile.
    Profile,
    /// A storage pool; `member` for a member-specific key (`size`, `source`).
    StoragePool,
    /// A network; `member` for a member-specific key.
    Network,
}

impl ConfigTarget {
    /// The word of the tool's argument (`storage-pool`).
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigTarget::Server => "server",
            ConfigTarget::Instance => "instance",
            ConfigTarget::Project => "project",
            ConfigTarget::Profile => "profile",
            ConfigTarget::StoragePool => "storage-pool",
            ConfigTarget::Network => "network",
        }
    }
}

/// An instance's state change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StateAction {
    /// `incus start`
    Start,
    /// `incus stop`
    Stop,
    /// `incus restart`
    Restart,
}

impl StateAction {
    /// The word of the API and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            StateAction::Start => "start",
            StateAction::Stop => "stop",
            StateAction::Restart => "restart",
        }
    }
}

/// One change, with validated names (the tools' argument types check them).
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// `incus cluster evacuate`
    EvacuateMember {
        /// Member.
        member: String,
        /// Overrides each instance's `cluster.evacuate`.
        mode: Option<EvacuateMode>,
    },
    /// `incus cluster restore`
    RestoreMember {
        /// Member.
        member: String,
    },
    /// `incus start|stop|restart`
    InstanceState {
        /// Instance.
        instance: String,
        /// Its project.
        project: String,
        /// What to do.
        action: StateAction,
        /// Without a clean shutdown.
        force: bool,
    },
    /// `incus snapshot create`
    CreateSnapshot {
        /// Instance.
        instance: String,
        /// Its project.
        project: String,
        /// Snapshot name.
        name: String,
        /// Expiry as Incus writes it (`2w`, `3d`), when given.
        expiry: Option<String>,
        /// The expiry as an RFC 3339 time.
        expires_at: Option<String>,
    },
    /// `incus config set` and its kin; an empty value unsets.
    SetConfig {
        /// What is configured.
        target: ConfigTarget,
        /// Its name (not for the server).
        name: String,
        /// Key.
        key: String,
        /// New value (`""`: unset).
        value: String,
        /// Member, for member-specific keys.
        member: Option<String>,
        /// Project (instances, profiles, networks).
        project: String,
    },
    /// `incus warning acknowledge`
    AcknowledgeWarning {
        /// The warning's UUID.
        uuid: String,
    },
    /// `incus image refresh`
    RefreshImage {
        /// Image fingerprint.
        fingerprint: String,
        /// Its project.
        project: String,
    },
    /// `incus move --target`
    MoveInstance {
        /// Instance.
        instance: String,
        /// Destination member.
        member: String,
        /// Its project.
        project: String,
    },
}

/// Quotes a word for the shell when it needs it.
pub fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/:=@,+%".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn project_flag(project: &str) -> String {
    if project.is_empty() || project == "default" {
        String::new()
    } else {
        format!(" --project {}", shell_word(project))
    }
}

fn target_flag(member: &Option<String>) -> String {
    member
        .as_deref()
        .map(|m| format!(" --target {}", shell_word(m)))
        .unwrap_or_default()
}

impl Change {
    /// The `incus` command an admin would type for it.
    pub fn command(&self) -> String {
        match self {
            Change::EvacuateMember { member, mode } => format!(
                "incus cluster evacuate {}{}",
                shell_word(member),
                mode.map(|m| format!(" --action={}", m.as_str()))
                    .unwrap_or_default()
            ),
            Change::RestoreMember { member } => {
                format!("incus cluster restore {}", shell_word(member))
            }
            Change::InstanceState {
                instance,
                project,
                action,
                force,
            } => format!(
                "incus {} {}{}{}",
                action.as_str(),
                shell_word(instance),
                if *force && *action != StateAction::Start {
                    " --force"
                } else {
                    ""
                },
                project_flag(project)
            ),
            Change::CreateSnapshot {
                instance,
                project,
                name,
                expiry,
                ..
            } => format!(
                "incus snapshot create {} {}{}{}",
                shell_word(instance),
                shell_word(name),
                expiry
                    .as_deref()
                    .map(|e| format!(" --expiry {}", shell_word(e)))
                    .unwrap_or_default(),
                project_flag(project)
            ),
            Change::SetConfig {
                target,
                name,
                key,
                value,
                member,
                project,
            } => {
                let (verb, object) = match target {
                    ConfigTarget::Server => ("config", String::new()),
                    ConfigTarget::Instance => ("config", format!(" {}", shell_word(name))),
                    ConfigTarget::Project => ("project", format!(" {}", shell_word(name))),
                    ConfigTarget::Profile => ("profile", format!(" {}", shell_word(name))),
                    ConfigTarget::StoragePool => ("storage", format!(" {}", shell_word(name))),
                    ConfigTarget::Network => ("network", format!(" {}", shell_word(name))),
                };
                let project = match target {
                    ConfigTarget::Instance | ConfigTarget::Profile | ConfigTarget::Network => {
                        project_flag(project)
                    }
                    _ => String::new(),
                };
                let setting = if value.is_empty() {
                    format!("unset{object} {}", shell_word(key))
                } else {
                    format!("set{object} {}", shell_word(&format!("{key}={value}")))
                };
                format!("incus {verb} {setting}{}{project}", target_flag(member))
            }
            Change::AcknowledgeWarning { uuid } => {
                format!("incus warning acknowledge {}", shell_word(uuid))
            }
            Change::RefreshImage {
                fingerprint,
                project,
            } => format!(
                "incus image refresh {}{}",
                shell_word(fingerprint),
                project_flag(project)
            ),
            Change::MoveInstance {
                instance,
                member,
                project,
            } => format!(
                "incus move {} --target {}{}",
                shell_word(instance),
                shell_word(member),
                project_flag(project)
            ),
        }
    }

    /// The configuration key and value of a `set_config`, when the key can hold a secret (the
    /// value is then shown and written down as `[redacted]`).
    pub fn secret(&self) -> Option<&str> {
        match self {
            Change::SetConfig { key, value, .. }
                if !value.is_empty() && crate::util::redact::is_secret_key(key) =>
            {
                Some(value)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_what_an_admin_types() {
        let set = |target, name: &str, value: &str, member: Option<&str>, project: &str| {
            Change::SetConfig {
                target,
                name: name.into(),
                key: "limits.memory".into(),
                value: value.into(),
                member: member.map(str::to_string),
                project: project.into(),
            }
            .command()
        };
        assert_eq!(
            set(ConfigTarget::Instance, "c1", "300MiB", None, "default"),
            "incus config set c1 limits.memory=300MiB"
        );
        assert_eq!(
            set(ConfigTarget::Instance, "c1", "", None, "dev"),
            "incus config unset c1 limits.memory --project dev"
        );
        assert_eq!(
            set(ConfigTarget::Server, "", "1 GiB", Some("m2"), "default"),
            "incus config set 'limits.memory=1 GiB' --target m2"
        );
        assert_eq!(
            set(ConfigTarget::Project, "dev", "4GiB", None, "dev"),
            "incus project set dev limits.memory=4GiB"
        );
        assert_eq!(
            Change::EvacuateMember {
                member: "m3".into(),
                mode: None
            }
            .command(),
            "incus cluster evacuate m3"
        );
        assert_eq!(
            Change::EvacuateMember {
                member: "m3".into(),
                mode: Some(EvacuateMode::Stop)
            }
            .command(),
            "incus cluster evacuate m3 --action=stop"
        );
        assert_eq!(
            Change::InstanceState {
                instance: "c1".into(),
                project: "default".into(),
                action: StateAction::Stop,
                force: true
            }
            .command(),
            "incus stop c1 --force"
        );
        assert_eq!(shell_word("a'b; rm -rf /"), "'a'\\''b; rm -rf /'");
    }

    #[test]
    fn secret_values_are_known() {
        let c = Change::SetConfig {
            target: ConfigTarget::Server,
            name: String::new(),
            key: "core.trust_password".into(),
            value: "hunter2".into(),
            member: None,
            project: String::new(),
        };
        assert_eq!(c.secret(), Some("hunter2"));
    }
}
