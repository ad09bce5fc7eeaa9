//! `unrestricted-client-certificates`: more than one client certificate with full access.
//! One is the admin's; other clients (CI, monitoring, colleagues' tools) should be confined to
//! their projects (howto/projects_confine.md). One finding for the installation.

use super::support::{installation, some_names};
use crate::diagnosis::checks::{Check, Context, Evidence, Finding, Severity};

pub const RULE: Check = Check {
    id: "unrestricted-client-certificates",
    run,
    warnings: &[],
};

fn run(ctx: &Context) -> Vec<Finding> {
    let st = ctx.state;
    let names: Vec<String> = st
        .certificates
        .iter()
        .filter(|c| c.kind == "client" && !c.restricted)
        .map(|c| {
            if c.name.is_empty() {
                c.fingerprint.chars().take(12).collect()
            } else {
                c.name.clone()
            }
        })
        .collect();
    if names.len() < 2 {
        return Vec::new();
    }
    let (kind, name) = installation(st);
    vec![
        Finding::new(RULE.id, Severity::Low, kind, &name, format!("{} client certificates have full access", names.len()))
            .evidence(Evidence::new("GET /1.0/certificates?recursion=1", "type client, restricted false", some_names(&names, 8)))
            .explain("An unrestricted client certificate can do anything on every member: create privileged containers, read every instance, change the cluster. Only administrators need that; confine the others to the projects they use, so a leaked key costs one project.")
            .docs_at("howto/projects_confine.md", "confine-projects-to-specific-tls-clients", "Confine projects to specific TLS clients").docs_about("confine users to projects restricted certificates trust")
            .fix("incus config trust list")
            .fix("incus config trust edit <fingerprint>   # restricted: true, projects: [the ones it needs]"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};

    #[test]
    fn more_than_the_admins_own() {
        let certs = |restricted: &[bool]| {
            let mut b = B::cluster(3);
            for (n, r) in restricted.iter().enumerate() {
                let r = *r;
                b = b
                    .certificate(&format!("client{n}"), "client", "")
                    .with(move |st| {
                        st.certificates.last_mut().unwrap().restricted = r;
                    });
            }
            b.certificate("m1", "server", "").build()
        };
        table(
            &RULE,
            vec![
                ("the admin only", certs(&[false]), vec![]),
                ("admin and a restricted one", certs(&[false, true]), vec![]),
                (
                    "two unrestricted",
                    certs(&[false, false]),
                    vec![("low", "cluster/local")],
                ),
            ],
        );
    }
}
