//! `remote-token-without-expiry`: trust tokens (`incus config trust add`) never expire unless
//! `core.remote_token_expiry` is set (authentication.md); a leaked, unused token stays valid.

use super::support::{installation, server_config};
use crate::diagnosis::checks::{Check, Context, Evidence, Finding, Severity};

pub const RULE: Check = Check {
    id: "remote-token-without-expiry",
    run,
    warnings: &[],
};

fn run(ctx: &Context) -> Vec<Finding> {
    let st = ctx.state;
    if st.server.is_none()
        || !server_config(st, "core.remote_token_expiry")
            .trim()
            .is_empty()
    {
        return Vec::new();
    }
    let (kind, name) = installation(st);
    vec![
        Finding::new(RULE.id, Severity::Low, kind, &name, "Trust tokens never expire (core.remote_token_expiry is unset)")
            .evidence(Evidence::new("GET /1.0", "config[\"core.remote_token_expiry\"]", "(unset)"))
            .explain("A trust token handed out to add a client stays valid until it is used: one pasted in a chat or ticket and forgotten lets anyone who finds it become a trusted client. An expiry bounds that window.")
            .docs_at("authentication.md", "authentication-token", "Adding client certificates using tokens").docs_about("trust token expiry core.remote_token_expiry adding trusted clients")
            .fix("incus config set core.remote_token_expiry=1d")
            .fix("incus config trust list-tokens   # and revoke the ones no longer needed"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};

    #[test]
    fn unset_expiry() {
        table(
            &RULE,
            vec![
                (
                    "set",
                    B::cluster(3)
                        .config("core.remote_token_expiry", "1d")
                        .build(),
                    vec![],
                ),
                (
                    "unset",
                    B::cluster(3).build(),
                    vec![("low", "cluster/local")],
                ),
                (
                    "nothing read",
                    B::cluster(3).with(|st| st.server = None).build(),
                    vec![],
                ),
            ],
        );
    }
}
