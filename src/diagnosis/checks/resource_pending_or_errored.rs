//! `resource-pending-or-errored`: storage pools and networks whose cluster-wide creation did
//! not finish (`Pending`: defined on some members only) or failed (`Errored`).

use super::{Check, Context, Evidence, Finding, Kind, Severity};

pub const CHECK: Check = Check {
    id: "resource-pending-or-errored",
    run,
    warnings: &[],
};

fn run(ctx: &Context) -> Vec<Finding> {
    let st = ctx.state;
    let mut out = Vec::new();
    let pools = st.pools.iter().map(|p| {
        (
            Kind::StoragePool,
            p.name.as_str(),
            p.status.as_str(),
            p.driver.as_str(),
            "default",
        )
    });
    let nets = st.networks.iter().map(|n| {
        (
            Kind::Network,
            n.name.as_str(),
            n.status.as_str(),
            n.kind.as_str(),
            if n.project.is_empty() {
                "default"
            } else {
                n.project.as_str()
            },
        )
    });
    for (kind, name, status, driver, project) in pools.chain(nets) {
        if status != "Pending" && status != "Errored" {
            continue;
        }
        let (noun, cmd, endpoint) = match kind {
            Kind::StoragePool => ("storage pool", "storage", "storage-pools"),
            _ => ("network", "network", "networks"),
        };
        let mut f = Finding::new(
            CHECK.id,
            if status == "Errored" {
                Severity::High
            } else {
                Severity::Moderate
            },
            kind,
            name,
            format!("The {noun} {name} is {}", status.to_lowercase()),
        )
        .evidence(Evidence::new(
            format!("GET /1.0/{endpoint}"),
            format!("{name}.status"),
            status,
        ))
        .docs_about(if kind == Kind::StoragePool {
            "configure storage for a cluster create storage pool target"
        } else {
            "configure networks for a cluster create network target"
        });
        f = if kind == Kind::StoragePool {
            f.docs_at(
                "howto/cluster_config_storage.md",
                "",
                "How to configure storage for a cluster",
            )
        } else {
            f.docs_at(
                "howto/cluster_config_networks.md",
                "",
                "How to configure networks for a cluster",
            )
        };
        if status == "Pending" {
            f = f
                .explain(format!(
                    "In a cluster a {noun} is created in two steps: first on each member with --target and \
                     the member-specific keys, then once without --target. {name} has only done the first \
                     step (or some member is missing), so it cannot be used yet."
                ))
                .fix(format!("incus {cmd} create {name} {driver} --target <member>   # for each member that is missing"))
                .fix(format!("incus {cmd} create {name} {driver}   # then once without --target to finish"));
        } else {
            f = f
                .explain(format!(
                    "Creating {name} failed on at least one member; the cluster keeps it in the Errored \
                     state. Look at the error on each member, fix the cause, then create it again or delete it."
                ))
                .fix(format!("incus {cmd} show {name} --target <member>"))
                .fix(format!("incus {cmd} delete {name}   # if it should not exist; then create it again"));
        }
        if kind == Kind::Network && project != "default" {
            f = f.in_project(project);
        }
        out.push(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};

    #[test]
    fn pools_and_networks_that_did_not_finish() {
        table(
            &CHECK,
            vec![
                (
                    "healthy",
                    B::cluster(3).network("br0", "bridge", "Created").build(),
                    vec![],
                ),
                (
                    "pending pool",
                    B::cluster(3).pool_state("default", "Pending").build(),
                    vec![("moderate", "storage-pool/default")],
                ),
                (
                    "errored network",
                    B::cluster(3).network("br0", "bridge", "Errored").build(),
                    vec![("high", "network/br0")],
                ),
            ],
        );
    }
}
