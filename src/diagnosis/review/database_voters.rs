//! `database-voters`: a cluster of three or more members with fewer than three database
//! voters: the loss of one voter loses quorum (explanation/clustering.md).

use crate::diagnosis::checks::{Check, Context, Evidence, Finding, Kind, Severity};

pub const RULE: Check = Check {
    id: "database-voters",
    run,
    warnings: &[],
};

fn run(ctx: &Context) -> Vec<Finding> {
    let st = ctx.state;
    if st.members.len() < 3 {
        return Vec::new();
    }
    let voters: Vec<&str> = st.voters().map(|m| m.server_name.as_str()).collect();
    if voters.len() >= 3 {
        return Vec::new();
    }
    vec![
        Finding::new(RULE.id, Severity::High, Kind::Cluster, &st.remote, format!("Only {} of {} members are database voters", voters.len(), st.members.len()))
            .evidence(Evidence::new("GET /1.0/cluster/members", "members with the database role", voters.join(", ")))
            .explain("The cluster database keeps running while a majority of its voters answer. With fewer than three voters, one failure or reboot of a voter stops the cluster even though other members are fine. Incus promotes members to voters by itself unless cluster.max_voters is lowered or members are offline.")
            .docs_at("explanation/clustering.md", "clustering-member-roles", "Member roles").docs_about("database voters stand-by cluster.max_voters roles")
            .fix("incus cluster list   # the roles column: which members vote")
            .fix("incus config set cluster.max_voters=3"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};

    #[test]
    fn fewer_than_three_voters() {
        let demote = |b: B, m: &str| b.member(m, |m| m.roles.clear());
        table(
            &RULE,
            vec![
                ("three voters", B::cluster(5).build(), vec![]),
                (
                    "two voters",
                    demote(B::cluster(4), "m3").build(),
                    vec![("high", "cluster/local")],
                ),
                ("two members", B::cluster(2).build(), vec![]),
            ],
        );
    }
}
