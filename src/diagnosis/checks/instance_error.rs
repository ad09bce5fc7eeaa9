//! `instance-error`: instances in the Error state, tied to the state of the member they are on.

use super::{Check, Context, Evidence, Finding, Kind, Severity};
use crate::diagnosis::incus::api::MemberStatus;

pub const CHECK: Check = Check {
    id: "instance-error",
    run,
    warnings: &[],
};

fn run(ctx: &Context) -> Vec<Finding> {
    let st = ctx.state;
    st.instances
        .iter()
        .filter(|i| i.status == "Error" || i.status_code == 112)
        .map(|i| {
            let member = st.member(&i.location);
            let member_status = member.map(|m| m.status.as_str()).unwrap_or("");
            let mut f = Finding::new(
                CHECK.id,
                Severity::High,
                Kind::Instance,
                &i.name,
                format!("Instance {} is in the Error state{}", i.name, if i.location.is_empty() { String::new() } else { format!(" on {}", i.location) }),
            )
            .on_member(&i.location)
            .in_project(&i.project)
            .evidence(Evidence::new(
                "GET /1.0/instances",
                format!("{}.status", i.name),
                format!("{} (status_code {}), location {}", i.status, i.status_code, i.location),
            ));
            if let Some(m) = member.filter(|m| m.status != MemberStatus::Online) {
                f = f
                    .evidence(Evidence::new(
                        "GET /1.0/cluster/members",
                        format!("{}.status", m.server_name),
                        format!("{} ({})", m.status, m.message),
                    ))
                    .explain(format!(
                        "{} is located on {}, which is {}: the cluster cannot reach the instance, so it \
                         reports Error. The instance itself may still be running; it comes back when the \
                         member does.",
                        i.name,
                        m.server_name,
                        member_status.to_lowercase()
                    ))
                    .docs_at("explanation/clustering.md", "clustering-offline-members", "Offline members and fault tolerance").docs_about("deal with offline cluster members instances")
                    .fix(format!("incus cluster list   # bring {} back first", m.server_name))
                    .fix(format!(
                        "incus move {} --target <online member>   # only with shared storage (ceph) while {} is down",
                        i.name, m.server_name
                    ));
            } else {
                f = f
                    .explain(format!(
                        "Incus could not determine the state of {} (its runtime failed or cannot be queried).",
                        i.name
                    ))
                    .docs_at("howto/instances_troubleshoot.md", "", "How to troubleshoot failing instances").docs_about("troubleshoot instances show log")
                    .fix(format!("incus info {} --show-log --project {}", i.name, i.project))
                    .fix(format!("incus restart {} --force --project {}", i.name, i.project));
            }
            f
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};

    #[test]
    fn instances_in_the_error_state() {
        table(
            &CHECK,
            vec![
                (
                    "healthy",
                    B::cluster(3).instance("c1", "m1").build(),
                    vec![],
                ),
                (
                    "error",
                    B::cluster(3)
                        .instance_with("c1", "m2", |i| {
                            i.status = "Error".into();
                            i.status_code = 112;
                        })
                        .build(),
                    vec![("high", "instance/c1")],
                ),
                (
                    "stopped is not an error",
                    B::cluster(3)
                        .instance_with("c1", "m2", |i| {
                            i.status = "Stopped".into();
                            i.status_code = 102;
                        })
                        .build(),
                    vec![],
                ),
            ],
        );
    }
}
