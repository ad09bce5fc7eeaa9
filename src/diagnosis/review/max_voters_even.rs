//! `max-voters-even`: `cluster.max_voters` even or below 3; it "must be an odd number >= 3"
//! (the configuration reference): an even number of voters tolerates no more failures than
//! one fewer, and makes split votes possible.

use super::support::server_config;
use crate::diagnosis::checks::{Check, Context, Evidence, Finding, Kind, Severity};

pub const RULE: Check = Check {
    id: "max-voters-even",
    run,
    warnings: &[],
};

fn run(ctx: &Context) -> Vec<Finding> {
    let st = ctx.state;
    let value = server_config(st, "cluster.max_voters").trim();
    let Ok(n) = value.parse::<u64>() else {
        return Vec::new();
    };
    if !st.clustered() || (n >= 3 && n % 2 == 1) {
        return Vec::new();
    }
    vec![
        Finding::new(RULE.id, Severity::Moderate, Kind::Cluster, &st.remote, format!("cluster.max_voters is {n}; it must be an odd number of at least 3"))
            .evidence(Evidence::new("GET /1.0", "config[\"cluster.max_voters\"]", value))
            .explain("A majority of voters keeps the database running. Four voters survive one failure, as three do, but need three to agree; two voters survive none. Odd numbers give the most tolerance per voter.")
            .docs_at("server_config.md", "server-options-cluster", "Cluster configuration").docs_about("cluster.max_voters odd number database voters")
            .fix(format!("incus config set cluster.max_voters={}", if n < 3 { 3 } else { n + 1 })),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};

    #[test]
    fn even_or_too_few() {
        let voters = |v: &str| B::cluster(5).config("cluster.max_voters", v).build();
        table(
            &RULE,
            vec![
                ("default (unset)", B::cluster(5).build(), vec![]),
                ("3", voters("3"), vec![]),
                ("5", voters("5"), vec![]),
                ("4", voters("4"), vec![("moderate", "cluster/local")]),
                ("1", voters("1"), vec![("moderate", "cluster/local")]),
            ],
        );
    }
}
