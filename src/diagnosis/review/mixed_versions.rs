//! `mixed-versions`: members whose daemons run different Incus versions (or the same version
//! with different API extensions). "All members must be upgraded to the same version of
//! Incus"; an upgraded member waits blocked for the others, and one left behind holds the
//! cluster in that state (howto/cluster_manage.md, upgrade cluster members). Doctor's
//! `member-blocked` reports the blocked members; this rule says which are behind.

use crate::diagnosis::checks::{Check, Context, Evidence, Finding, Kind, Severity};
use crate::diagnosis::incus::capacity::DaemonVersion;

pub const RULE: Check = Check {
    id: "mixed-versions",
    run,
    warnings: &[],
};

/// Orders versions as people read them: `6.0.10` after `6.0.4`, then by API extensions.
fn order(v: &DaemonVersion) -> (Vec<u64>, String, usize) {
    let numbers = v
        .server_version
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    (numbers, v.server_version.clone(), v.api_extensions)
}

fn run(ctx: &Context) -> Vec<Finding> {
    let st = ctx.state;
    let Some(newest) = st.member_versions.values().max_by_key(|v| order(v)) else {
        return Vec::new();
    };
    let behind: Vec<&str> = st
        .member_versions
        .iter()
        .filter(|(_, v)| *v != newest)
        .map(|(m, _)| m.as_str())
        .collect();
    if !st.clustered() || behind.is_empty() {
        return Vec::new();
    }
    let evidence: Vec<String> = st
        .member_versions
        .iter()
        .map(|(m, v)| format!("{m}: {v}"))
        .collect();
    let behind_list = behind.join(", ");
    let finding = Finding::new(RULE.id, Severity::Moderate, Kind::Cluster, &st.remote, format!("Members run different Incus versions: {behind_list} behind {}", newest.server_version))
            .evidence(Evidence::new("GET /1.0?target=…", "environment.server_version, api_extensions", evidence.join("; ")))
            .explain(format!("All members of a cluster must run the same version of Incus. A member upgraded to a version with database or API changes stops serving the API (blocked) until every other member runs it too, and features of the newer version are refused cluster-wide meanwhile. Finish the upgrade on {behind_list}, and never start one while a member is offline."))
            .docs_at("howto/cluster_manage.md", "upgrade-cluster-members", "Upgrade cluster members").docs_about("upgrade cluster members same version blocked")
            .fix(format!("apt-get install --only-upgrade incus   # on {behind_list}, then: systemctl restart incus"))
            .fix("incus cluster list   # every member ONLINE again, none BLOCKED");
    vec![behind.iter().fold(finding, |f, m| f.on_member(m))]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};

    fn versions(vs: &[(&str, usize)]) -> B {
        let vs: Vec<(String, usize)> = vs.iter().map(|(v, n)| (v.to_string(), *n)).collect();
        B::cluster(vs.len()).with(move |st| {
            for (n, (v, ext)) in vs.into_iter().enumerate() {
                st.member_versions.insert(
                    format!("m{}", n + 1),
                    DaemonVersion {
                        server_version: v,
                        api_extensions: ext,
                    },
                );
            }
        })
    }

    #[test]
    fn different_versions_fire() {
        table(
            &RULE,
            vec![
                (
                    "same",
                    versions(&[("6.0.4", 400), ("6.0.4", 400), ("6.0.4", 400)]).build(),
                    vec![],
                ),
                (
                    "one behind",
                    versions(&[("6.0.4", 400), ("6.0.3", 395), ("6.0.4", 400)]).build(),
                    vec![("moderate", "cluster/local")],
                ),
                (
                    "same version, other extensions",
                    versions(&[("6.0.4", 400), ("6.0.4", 401), ("6.0.4", 400)]).build(),
                    vec![("moderate", "cluster/local")],
                ),
                (
                    "not read (offline or standalone)",
                    B::cluster(3).build(),
                    vec![],
                ),
            ],
        );
    }

    #[test]
    fn names_the_members_behind_the_newest() {
        let st = versions(&[("6.0.10", 410), ("6.0.9", 405), ("6.0.10", 410)]).build();
        let f = &crate::diagnosis::checks::testkit::run(&RULE, &st)[0];
        assert!(f.title.contains("m2 behind 6.0.10"), "{}", f.title);
        assert!(
            f.fix[0].contains("on m2,") || f.fix[0].contains("on m2 "),
            "{:?}",
            f.fix
        );
        assert!(
            f.evidence[0]
                .value
                .contains("m1: 6.0.10 (410 API extensions)")
        );
        assert_eq!(f.members, vec!["m2".to_string()]);
    }
}
