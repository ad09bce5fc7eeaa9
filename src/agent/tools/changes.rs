//! The change tools: each turns its checked arguments into one typed
//! [`Change`](crate::admin::change::Change) and proposes it; a person decides
//! ([`crate::admin::Changes::propose`]). They are offered only with `--allow-changes`.

use super::change_args::{
    AcknowledgeWarning, CreateSnapshot, EvacuateMember, InstanceAction, MoveInstance, RefreshImage,
    RestoreMember, SetConfig,
};
use super::{Answer, Toolbox};
use crate::admin::change::{Change, ConfigTarget, StateAction};

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
            return Err(format!(
                "set_config on {} needs its name",
                serde_json::to_value(t)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            ));
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
