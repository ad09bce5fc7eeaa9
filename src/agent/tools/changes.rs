//! The change tools: each turns its checked arguments into one typed
//! [`Change`](crate::admin::change::Change) and proposes it; a person decides
//! ([`crate::admin::Changes::propose`]). They are offered only with `--allow-changes`.

use serde_json::{Value, json};

use super::change_args::{
    AcknowledgeWarning, CreateSnapshot, EvacuateMember, InstanceAction, MoveInstance, RefreshImage,
    RestoreMember, SetConfig,
};
use super::{Answer, ToolOutput, Toolbox, render};
use crate::admin::audit::{Audit, Entry, Verdict};
use crate::admin::change::{Change, ConfigTarget, StateAction};
use crate::admin::confirm::{Confirm, Decision, Nobody};
use crate::admin::{Changes, Prepared};

impl Toolbox {
    /// Another toolbox over the same clients, index and audit log (one per MCP session); its
    /// changes are refused until a caller sets who is asked ([`Toolbox::set_confirm`]).
    pub fn sibling(&self) -> Toolbox {
        let mut t = Toolbox::new(
            self.client.clone(),
            self.index_root.clone(),
            self.model_dir.clone(),
        );
        t.audit = self.audit.clone();
        t.settings = self.settings.clone();
        t.changes = self.changes.as_ref().map(|c| {
            c.sibling(Box::new(Nobody(
                "nobody can be asked in this session".into(),
            )))
        });
        t
    }

    /// [`Toolbox::sibling`] without the change tools (an MCP session that did not show the
    /// admin's token); calls to them are refused and written down.
    pub fn sibling_read_only(&self) -> Toolbox {
        let mut t = self.sibling();
        t.changes = None;
        t
    }

    /// Who is asked about changes from now on.
    pub fn set_confirm(&mut self, confirm: Box<dyn Confirm>) {
        if let Some(c) = &mut self.changes {
            c.set_confirm(confirm);
        }
    }

    /// Offers the change tools, run through `changes`.
    pub fn with_changes(mut self, changes: Changes) -> Toolbox {
        self.changes = Some(changes);
        self
    }

    /// Writes calls to change tools that are not offered to `audit`.
    pub fn with_audit(mut self, audit: Audit) -> Toolbox {
        self.audit = Some(audit);
        self
    }

    /// Whether the change tools are offered.
    pub fn changes_offered(&self) -> bool {
        self.changes.is_some()
    }

    /// A new question (for the audit, and a fresh count of proposed changes).
    pub fn begin_question(&mut self, question: &str) {
        self.question = question.to_string();
        if let Some(c) = &mut self.changes {
            c.begin_question();
        }
    }

    /// Proposes a change of the call being run (the change tools' handlers call this): asked
    /// about at once, or, when deferring, prepared and kept for [`Toolbox::take_deferred`].
    async fn propose(&mut self, change: Change) -> Answer {
        let (tool, arguments) = &self.calling;
        let tool = *tool;
        let Some(changes) = &mut self.changes else {
            return Err("change tools are not offered in this session".into());
        };
        if self.defer {
            let prepared = changes
                .prepare(&self.question, tool, arguments, change)
                .await?;
            self.deferred = Some((tool, prepared));
            return Ok(json!({"status": "awaiting-confirmation"}));
        }
        changes
            .propose(&self.question, tool, arguments, change)
            .await
    }

    /// Whether change proposals are prepared and kept rather than asked about.
    pub fn set_deferring(&mut self, on: bool) {
        self.defer = on;
    }

    /// The change the last call prepared while deferring: its tool and what to show.
    pub fn take_deferred(&mut self) -> Option<(&'static str, Prepared)> {
        self.deferred.take()
    }

    /// Runs (or not) a change kept from [`Toolbox::take_deferred`], as the person decided.
    pub async fn decide(
        &mut self,
        tool: &str,
        prepared: Prepared,
        decision: Decision,
    ) -> ToolOutput {
        let result = match &mut self.changes {
            Some(changes) => changes.decide(prepared, decision).await,
            None => Err("change tools are not offered in this session".into()),
        };
        render(tool, result)
    }

    /// Writes down a call to a change tool that was not offered.
    pub(super) fn not_offered(&self, tool: &str, arguments: &Value) {
        let Some(audit) = &self.audit else { return };
        let remote = self.client.as_ref().map_or("", |c| c.remote());
        let mut e = Entry::new(remote, &self.question, tool, arguments, Verdict::NotOffered);
        e.reason = Some("change tools are offered only with --allow-changes".into());
        if let Err(err) = audit.record(&e, None) {
            tracing::warn!("{err}");
        }
    }
}

fn project(p: Option<super::args::IncusName>) -> String {
    p.map_or_else(|| "default".to_string(), |p| p.0)
}

pub async fn evacuate_member(tb: &mut Toolbox, a: EvacuateMember) -> Answer {
    tb.propose(Change::EvacuateMember {
        member: a.member.0,
        mode: a.mode,
    })
    .await
}

pub async fn restore_member(tb: &mut Toolbox, a: RestoreMember) -> Answer {
    tb.propose(Change::RestoreMember { member: a.member.0 })
        .await
}

fn state(a: InstanceAction, action: StateAction) -> Change {
    Change::InstanceState {
        instance: a.instance.0,
        project: project(a.project),
        action,
        force: a.force,
    }
}

pub async fn start_instance(tb: &mut Toolbox, a: InstanceAction) -> Answer {
    tb.propose(state(a, StateAction::Start)).await
}

pub async fn stop_instance(tb: &mut Toolbox, a: InstanceAction) -> Answer {
    tb.propose(state(a, StateAction::Stop)).await
}

pub async fn restart_instance(tb: &mut Toolbox, a: InstanceAction) -> Answer {
    tb.propose(state(a, StateAction::Restart)).await
}

pub async fn create_snapshot(tb: &mut Toolbox, a: CreateSnapshot) -> Answer {
    let now = crate::util::time::now();
    let name = a.name.map(|n| n.0).unwrap_or_else(|| {
        format!(
            "incus-ai-{}",
            crate::util::time::date_time(now)
                .trim_end_matches(" UTC")
                .replace([' ', ':'], "-")
        )
    });
    let expires_at = a.expiry.as_ref().and_then(|e| {
        time::OffsetDateTime::from_unix_timestamp(now + e.seconds())
            .ok()?
            .format(&time::format_description::well_known::Rfc3339)
            .ok()
    });
    tb.propose(Change::CreateSnapshot {
        instance: a.instance.0,
        project: project(a.project),
        name,
        expiry: a.expiry.map(|e| e.0),
        expires_at,
    })
    .await
}

pub async fn set_config(tb: &mut Toolbox, a: SetConfig) -> Answer {
    let name = match (a.target, a.name) {
        (ConfigTarget::Server, _) => String::new(),
        (_, Some(n)) => n.0,
        (t, None) => {
            return Err(format!("set_config on {} needs its name", t.as_str()));
        }
    };
    if a.member.is_some()
        && !matches!(
            a.target,
            ConfigTarget::Server | ConfigTarget::StoragePool | ConfigTarget::Network
        )
    {
        return Err("member is only for server, storage-pool and network keys".into());
    }
    tb.propose(Change::SetConfig {
        target: a.target,
        name,
        key: a.key.0,
        value: a.value.0,
        member: a.member.map(|m| m.0),
        project: project(a.project),
    })
    .await
}

pub async fn acknowledge_warning(tb: &mut Toolbox, a: AcknowledgeWarning) -> Answer {
    tb.propose(Change::AcknowledgeWarning { uuid: a.uuid.0 })
        .await
}

pub async fn refresh_image(tb: &mut Toolbox, a: RefreshImage) -> Answer {
    tb.propose(Change::RefreshImage {
        fingerprint: a.fingerprint.0,
        project: project(a.project),
    })
    .await
}

pub async fn move_instance(tb: &mut Toolbox, a: MoveInstance) -> Answer {
    tb.propose(Change::MoveInstance {
        instance: a.instance.0,
        member: a.member.0,
        project: project(a.project),
    })
    .await
}
