//! `database-quorum`: database voters online against the majority the cluster needs, clusters
//! with too few voters to survive a failure, and a database that has lost its leader.

use super::support::heartbeat_failures;
use super::{Check, Context, Evidence, Finding, Kind, Severity};
use crate::diagnosis::incus::api::MemberStatus;

pub const CHECK: Check = Check {
    id: "database-quorum",
    run,
    warnings: &[],
};

use crate::diagnosis::cluster::NO_LEADER;

fn run(ctx: &Context) -> Vec<Finding> {
    let st = ctx.state;
    if !st.clustered() {
        return Vec::new();
    }
    let recover = "incus admin cluster list-database   # on a surviving member: which members hold the database";
    let unavailable = st.database_unavailable.as_ref().or_else(|| {
        st.errors.iter().find(|e| {
            NO_LEADER.iter().any(|m| e.message.contains(m))
                || (e.path.starts_with("/1.0/cluster/members") && e.status == Some(503))
        })
    });
    if let Some(err) = unavailable {
        let title = if err.status.is_some() {
            "The cluster database has no leader: quorum is lost"
        } else {
            "The cluster database does not answer: quorum is probably lost"
        };
        return vec![Finding::new(CHECK.id, Severity::Critical, Kind::Cluster, &st.remote, title)
            .evidence(Evidence::new(format!("GET {}", err.path), "error", err.message.clone()))
            .explain(
                "The server answers but every request that needs the cluster database fails: fewer than a \
                 majority of the database voters are reachable. Bring the missing voters back; if a majority \
                 is lost for good, recover the database from one surviving voter.",
            )
            .docs_at("howto/cluster_recover.md", "recover-from-quorum-loss", "Recover from quorum loss").docs_about("recover from quorum loss")
            .fix(recover)
            .fix("sudo systemctl stop incus.service incus.socket   # on every member, then on the chosen survivor only:")
            .fix("sudo incus admin cluster recover-from-quorum-loss")];
    }
    let voters: Vec<_> = st.voters().collect();
    if voters.is_empty() {
        return Vec::new();
    }
    // Blocked, evacuated and restoring members still run their database; only members the
    // leader gets no heartbeat from are down.
    // An Online member answers heartbeats now, whatever older warnings say (warnings raised
    // during an outage can outlive it, e.g. when the leader changed).
    let down = |m: &crate::diagnosis::incus::api::Member| {
        m.status == MemberStatus::Offline
            || (m.status != MemberStatus::Online && !heartbeat_failures(st, m).is_empty())
    };
    let online = voters.iter().filter(|m| !down(m)).count();
    let majority = voters.len() / 2 + 1;
    let names: Vec<String> = voters
        .iter()
        .map(|m| format!("{} ({})", m.server_name, m.status))
        .collect();
    let evidence = Evidence::new(
        "GET /1.0/cluster/members",
        "database voters",
        names.join(", "),
    );
    let mut out = Vec::new();
    if online < majority {
        out.push(
            Finding::new(CHECK.id, Severity::Critical, Kind::Cluster, &st.remote, format!("Only {online} of {} database voters are online; {majority} are needed", voters.len()))
                .evidence(evidence)
                .explain("Without a majority of voters the distributed database cannot commit: the cluster is unavailable until voters come back.")
                .docs_at("howto/cluster_recover.md", "recover-from-quorum-loss", "Recover from quorum loss").docs_about("recover from quorum loss")
                .fix(recover)
                .fix("sudo incus admin cluster recover-from-quorum-loss   # only if the missing voters are lost for good"),
        );
    } else if online == majority && voters.len() > 1 && online < voters.len() {
        out.push(
            Finding::new(CHECK.id, Severity::High, Kind::Cluster, &st.remote, format!("{online} of {} database voters are online: one more failure loses quorum", voters.len()))
                .evidence(evidence)
                .explain("The cluster still has quorum, but exactly a majority of the voters is left. If one more voter fails, the cluster becomes unavailable. Bring the offline voters back or remove the lost ones so that others are promoted.")
                .docs_at("explanation/clustering.md", "clustering-member-roles", "Member roles").docs_about("offline members fault tolerance database voters")
                .fix("incus cluster list   # which voters are offline")
                .fix("incus cluster remove --force <lost member>   # lets Incus promote another member to voter"),
        );
    } else if st.members.len() == 2 {
        out.push(
            Finding::new(CHECK.id, Severity::Moderate, Kind::Cluster, &st.remote, "A two-member cluster cannot survive the loss of either member")
                .evidence(evidence)
                .explain("With two voters the majority is two: losing either member stops the database. Add a third member for fault tolerance.")
                .docs_at("explanation/clustering.md", "clustering-members", "Cluster members").docs_about("cluster members database voters max_voters")
                .fix("incus cluster add <new member>   # then join a third server with the token"),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};
    use crate::diagnosis::incus::api::MemberStatus;

    #[test]
    fn voters_against_the_majority() {
        let no_leader = "Failed to begin transaction: no available cowsql leader server found";
        table(
            &CHECK,
            vec![
                ("healthy", B::cluster(3).build(), vec![]),
                ("standalone", B::standalone().build(), vec![]),
                (
                    "one of three down: exactly a majority left",
                    B::cluster(3)
                        .status("m3", MemberStatus::Offline, "")
                        .build(),
                    vec![("high", "cluster/local")],
                ),
                (
                    "two of three down",
                    B::cluster(3)
                        .status("m2", MemberStatus::Offline, "")
                        .status("m3", MemberStatus::Offline, "")
                        .build(),
                    vec![("critical", "cluster/local")],
                ),
                (
                    "four voters, none down",
                    B::cluster(4)
                        .member("m4", |m| m.roles = vec!["database".into()])
                        .build(),
                    vec![],
                ),
                (
                    "four voters, one down: 3 of 4 is exactly the majority of an even count",
                    B::cluster(4)
                        .member("m4", |m| m.roles = vec!["database".into()])
                        .status("m4", MemberStatus::Offline, "")
                        .build(),
                    vec![("high", "cluster/local")],
                ),
                (
                    "four voters, two down: 2 of 4 is no majority",
                    B::cluster(4)
                        .member("m4", |m| m.roles = vec!["database".into()])
                        .status("m3", MemberStatus::Offline, "")
                        .status("m4", MemberStatus::Offline, "")
                        .build(),
                    vec![("critical", "cluster/local")],
                ),
                (
                    "two members",
                    B::cluster(2).build(),
                    vec![("moderate", "cluster/local")],
                ),
                (
                    "no leader",
                    B::cluster(3)
                        .unreadable("/1.0/cluster/members?recursion=1", Some(503), no_leader)
                        .build(),
                    vec![("critical", "cluster/local")],
                ),
                (
                    "the database does not answer",
                    B::cluster(3)
                        .with(|s| {
                            s.database_unavailable =
                                Some(crate::diagnosis::cluster::EndpointError {
                                    path: "/1.0/cluster/members?recursion=1".into(),
                                    status: None,
                                    message: "timed out".into(),
                                });
                        })
                        .build(),
                    vec![("critical", "cluster/local")],
                ),
            ],
        );
    }
}
