//! `mixed-cpus-without-groups`: members with different CPU vendors or models and no cluster
//! groups: live migration needs a compatible CPU on the target, and placement does not know
//! which are (explanation/clustering.md, cluster groups).

use crate::diagnosis::checks::{Check, Context, Evidence, Finding, Kind, Severity};

pub const RULE: Check = Check {
    id: "mixed-cpus-without-groups",
    run,
    warnings: &[],
};

fn run(ctx: &Context) -> Vec<Finding> {
    let st = ctx.state;
    let mut models: Vec<(String, String)> = st
        .member_resources
        .iter()
        .filter_map(|(m, r)| {
            r.cpu.sockets.first().map(|s| {
                (
                    format!("{} {}", s.vendor, s.name).trim().to_string(),
                    m.clone(),
                )
            })
        })
        .collect();
    models.sort();
    let mut distinct: Vec<&str> = models.iter().map(|(c, _)| c.as_str()).collect();
    distinct.dedup();
    let grouped = st
        .members
        .iter()
        .any(|m| m.groups.iter().any(|g| g != "default"));
    if !st.clustered() || distinct.len() < 2 || grouped {
        return Vec::new();
    }
    let evidence: Vec<String> = models.iter().map(|(c, m)| format!("{m}: {c}")).collect();
    vec![
        Finding::new(RULE.id, Severity::Low, Kind::Cluster, &st.remote, format!("Members have {} different CPU models and no cluster groups", distinct.len()))
            .evidence(Evidence::new("GET /1.0/resources?target=…", "cpu.sockets[0] vendor and name", evidence.join("; ")))
            .evidence(Evidence::new("GET /1.0/cluster/members", "groups", "default only"))
            .explain("A virtual machine live-migrates only to a CPU that offers every feature it started with. With mixed CPUs and one group, evacuation or incus move may pick a member it cannot run on. Put members with the same platform in a cluster group and target instances at it.")
            .docs_at("explanation/clustering.md", "cluster-cpu", "Cluster CPU baseline").docs_about("cluster groups mixed CPU live migration")
            .fix("incus cluster group create <platform>")
            .fix("incus cluster group assign <member> <platform>,default"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};
    use crate::diagnosis::incus::capacity::{CpuSocket, Resources};

    fn cpus(models: &[&str]) -> B {
        let models: Vec<String> = models.iter().map(|s| s.to_string()).collect();
        B::cluster(3).with(move |st| {
            for (n, model) in models.iter().enumerate() {
                let mut r = Resources::default();
                r.cpu.sockets.push(CpuSocket {
                    name: model.clone(),
                    vendor: "GenuineIntel".into(),
                });
                st.member_resources.insert(format!("m{}", n + 1), r);
            }
        })
    }

    #[test]
    fn mixed_models_without_groups() {
        table(
            &RULE,
            vec![
                (
                    "same CPUs",
                    cpus(&["Xeon E-2288G", "Xeon E-2288G", "Xeon E-2288G"]).build(),
                    vec![],
                ),
                (
                    "mixed",
                    cpus(&["Xeon E-2288G", "Core i5-8500T", "Xeon E-2288G"]).build(),
                    vec![("low", "cluster/local")],
                ),
                (
                    "mixed, grouped",
                    cpus(&["Xeon E-2288G", "Core i5-8500T"])
                        .member("m2", |m| m.groups = vec!["default".into(), "tiny".into()])
                        .build(),
                    vec![],
                ),
            ],
        );
    }
}
