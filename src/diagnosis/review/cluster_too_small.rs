//! `cluster-too-small`: a cluster of one or two members. With two, losing either loses the
//! database quorum; "strongly recommended that the number of cluster members be at least
//! three" (explanation/clustering.md).

use crate::diagnosis::checks::{Check, Context, Evidence, Finding, Kind, Severity};

pub const RULE: Check = Check {
    id: "cluster-too-small",
    run,
    warnings: &[],
};

fn run(ctx: &Context) -> Vec<Finding> {
    let st = ctx.state;
    let n = st.members.len();
    if !st.clustered() || n >= 3 || n == 0 {
        return Vec::new();
    }
    vec![
        Finding::new(RULE.id, Severity::High, Kind::Cluster, &st.remote, format!("The cluster has {n} member(s): losing one stops it"))
            .evidence(Evidence::new("GET /1.0/cluster/members", "members", n.to_string()))
            .explain("The cluster database needs a majority of its voters. With one or two members there is no majority left when one fails or reboots, so the whole cluster stops answering, and nothing can be evacuated to keep running. Three members is the smallest cluster that survives the loss of one.")
            .docs_at("explanation/clustering.md", "clustering-members", "Cluster members").docs_about("cluster members at least three database voters quorum")
            .fix("incus cluster add <new-member>   # on this cluster: a join token for a third machine"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};

    #[test]
    fn fewer_than_three_members() {
        table(
            &RULE,
            vec![
                ("three", B::cluster(3).build(), vec![]),
                (
                    "two",
                    B::cluster(2).build(),
                    vec![("high", "cluster/local")],
                ),
                (
                    "one",
                    B::cluster(1).build(),
                    vec![("high", "cluster/local")],
                ),
                ("standalone", B::standalone().build(), vec![]),
            ],
        );
    }
}
