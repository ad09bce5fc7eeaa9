//! The cluster tools: the overview, members, warnings, operations, pools, networks,
//! projects and the checks, all from one gathered cluster state.

use serde_json::{Value, json};

use super::args::{GetMember, ListWarnings, NoArgs, ReviewCluster, RunChecks, WarningStatus};
use super::{Answer, Toolbox};

pub async fn overview(tb: &mut Toolbox, _: NoArgs) -> Answer {
    Ok(json!(crate::diagnosis::status::summarize(
        tb.state().await?
    )))
}

pub async fn list_operations(tb: &mut Toolbox, _: NoArgs) -> Answer {
    Ok(json!(tb.state_with("/1.0/operations").await?.operations))
}

pub async fn get_member(tb: &mut Toolbox, a: GetMember) -> Answer {
    let name = a.name.0;
    let st = tb.state_with("/1.0/cluster/members").await?;
    let m = st.member(&name).ok_or_else(|| {
        format!(
            "no cluster member named {name}; members: {}",
            st.members
                .iter()
                .map(|m| m.server_name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    let address = crate::diagnosis::checks::support::url_address(&m.url).to_string();
    let warnings: Vec<_> = st
        .active_warnings()
        .filter(|w| {
            w.location == name || (!address.is_empty() && w.last_message.contains(&address))
        })
        .collect();
    let instances: Vec<Value> = st
        .instances
        .iter()
        .filter(|i| i.location == name)
        .map(|i| json!({"name": i.name, "project": i.project, "status": i.status, "type": i.kind}))
        .collect();
    Ok(json!({
        "member": m,
        "state": st.member_states.get(&name),
        "state_note": if st.member_states.contains_key(&name) { Value::Null } else { json!("not read: the member is not online") },
        "warnings": warnings,
        "instances": instances,
    }))
}

pub async fn list_warnings(tb: &mut Toolbox, a: ListWarnings) -> Answer {
    let all = a.status == Some(WarningStatus::All);
    let st = tb.state_with("/1.0/warnings").await?;
    Ok(json!(
        st.warnings
            .iter()
            .filter(|w| all || w.is_active())
            .collect::<Vec<_>>()
    ))
}

pub async fn list_pools(tb: &mut Toolbox, _: NoArgs) -> Answer {
    let st = tb.state_with("/1.0/storage-pools").await?;
    Ok(json!(st
        .pools
        .iter()
        .map(|p| {
            let per_member: serde_json::Map<String, Value> = st
                .member_states
                .iter()
                .filter_map(|(m, s)| {
                    let u = s.storage_pools.get(&p.name)?;
                    let status = st.pool_status.get(&crate::diagnosis::cluster::OnMember::new(&p.name, m)).cloned().unwrap_or_default();
                    Some((m.clone(), json!({"status": status, "space": u.space, "inodes": u.inodes})))
                })
                .collect();
            json!({"name": p.name, "driver": p.driver, "status": p.status, "config": crate::util::redact::config(&p.config), "used_by": p.used_by.len(), "members": per_member})
        })
        .collect::<Vec<_>>()))
}

pub async fn list_networks(tb: &mut Toolbox, _: NoArgs) -> Answer {
    let st = tb.state_with("/1.0/networks").await?;
    Ok(json!(st
        .networks
        .iter()
        .map(|n| {
            let per_member: serde_json::Map<String, Value> = st
                .network_status
                .iter()
                .filter(|(k, _)| k.name == n.name)
                .map(|(k, s)| (k.member.clone(), json!(s)))
                .collect();
            json!({"name": n.name, "type": n.kind, "project": n.project_or_default(), "status": n.status, "config": crate::util::redact::config(&n.config), "members": per_member})
        })
        .collect::<Vec<_>>()))
}

pub async fn list_projects(tb: &mut Toolbox, _: NoArgs) -> Answer {
    let st = tb.state_with("/1.0/projects").await?;
    Ok(json!(st
        .projects
        .iter()
        .map(|p| json!({"name": p.name, "config": crate::util::redact::config(&p.config), "usage": st.project_states.get(&p.name).map(|s| &s.resources)}))
        .collect::<Vec<_>>()))
}

pub async fn run_checks(tb: &mut Toolbox, a: RunChecks) -> Answer {
    let member = a.member.map(|m| m.0);
    let settings = tb.check_settings().clone();
    let st = tb.state().await?;
    let mut findings = crate::diagnosis::doctor::diagnose(st, settings, member.as_deref());
    link_docs(tb, &mut findings);
    Ok(json!({"findings": findings, "checks_run": crate::diagnosis::checks::ids().len()}))
}

pub async fn review_cluster(tb: &mut Toolbox, a: ReviewCluster) -> Answer {
    let project = a.project.map(|p| p.0);
    let settings = tb.check_settings().clone();
    let mut findings =
        crate::diagnosis::review::review(tb.review_state().await?, project.as_deref(), &settings);
    link_docs(tb, &mut findings);
    Ok(json!({"findings": findings, "rules_run": crate::diagnosis::review::ids().len()}))
}

/// Each finding's doc page and related sections, on the docs of the version in use.
fn link_docs(tb: &Toolbox, findings: &mut [crate::diagnosis::checks::Finding]) {
    let base = crate::diagnosis::doctor::docs_base(tb.searcher(), tb.cached_state());
    crate::diagnosis::doctor::attach_docs(findings, tb.searcher(), &base);
}
