//! `https-address-wildcard`: `core.https_address` on every address (`:8443`, `0.0.0.0`,
//! `[::]`). explanation/security.md: bind it to the single address that should serve the API,
//! with firewall rules for the rest.

use super::support::server_config;
use crate::diagnosis::checks::{Check, Context, Evidence, Finding, Kind, Severity};

pub const RULE: Check = Check {
    id: "https-address-wildcard",
    run,
    warnings: &[],
};

/// Whether an address listens on every interface.
fn wildcard(addr: &str) -> bool {
    addr.starts_with(':') || addr.starts_with("0.0.0.0") || addr.starts_with("[::]") || addr == "::"
}

fn run(ctx: &Context) -> Vec<Finding> {
    let st = ctx.state;
    let value = server_config(st, "core.https_address").trim();
    if !wildcard(value) {
        return Vec::new();
    }
    let name = st
        .server
        .as_ref()
        .map(|s| s.environment.server_name.clone())
        .unwrap_or_default();
    vec![
        Finding::new(RULE.id, Severity::Moderate, Kind::Server, &name, format!("The API listens on every address ({value})"))
            .evidence(Evidence::new("GET /1.0", "config[\"core.https_address\"]", value))
            .explain("A wildcard address exposes the Incus API on every network the host is on, including instance bridges and public interfaces. Bind it to the management address only, and firewall the port.")
            .docs_at("explanation/security.md", "security-remote-access", "Access to the remote API").docs_about("core.https_address single address security firewall API exposure")
            .fix("incus config set core.https_address=<management-address>:8443"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};

    #[test]
    fn wildcards_only() {
        let at = |a: &str| B::cluster(3).config("core.https_address", a).build();
        table(
            &RULE,
            vec![
                ("unset", B::cluster(3).build(), vec![]),
                ("one address", at("10.0.0.1:8443"), vec![]),
                ("port only", at(":8443"), vec![("moderate", "server/m1")]),
                (
                    "0.0.0.0",
                    at("0.0.0.0:8443"),
                    vec![("moderate", "server/m1")],
                ),
                ("[::]", at("[::]:8443"), vec![("moderate", "server/m1")]),
            ],
        );
    }
}
