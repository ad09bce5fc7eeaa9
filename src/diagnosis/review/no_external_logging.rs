//! `no-external-logging`: no lifecycle and log events sent anywhere (`logging.NAME.target.*` or
//! `loki.api.url`): once a member is gone, so is the record of who changed what (events.md).

use super::support::installation;
use crate::diagnosis::checks::{Check, Context, Evidence, Finding, Severity};

pub const RULE: Check = Check {
    id: "no-external-logging",
    run,
    warnings: &[],
};

fn run(ctx: &Context) -> Vec<Finding> {
    let st = ctx.state;
    let Some(server) = &st.server else {
        return Vec::new();
    };
    let configured = server.config.iter().any(|(k, v)| {
        !v.trim().is_empty()
            && ((k.starts_with("logging.") && k.ends_with(".target.address"))
                || k == "loki.api.url")
    });
    if configured {
        return Vec::new();
    }
    let (kind, name) = installation(st);
    vec![
        Finding::new(RULE.id, Severity::Low, kind, &name, "No logging target: lifecycle events stay on the members")
            .evidence(Evidence::new("GET /1.0", "config[\"logging.*.target.address\"], config[\"loki.api.url\"]", "(unset)"))
            .explain("Incus records every change (who started, deleted or reconfigured what, with the requestor) as lifecycle events, but keeps them only in memory unless a target is configured. A syslog, Loki or webhook target keeps an audit trail that survives a member and can alert.")
            .docs_at("server_config.md", "server-options-logging", "Logging configuration").docs_about("logging target loki syslog lifecycle events requestor")
            .fix("incus config set logging.audit.target.type=syslog logging.audit.target.address=<syslog-host>:514 logging.audit.types=lifecycle"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};

    #[test]
    fn a_target_of_any_kind() {
        table(
            &RULE,
            vec![
                (
                    "none",
                    B::cluster(3).build(),
                    vec![("low", "cluster/local")],
                ),
                (
                    "syslog",
                    B::cluster(3)
                        .config("logging.audit.target.address", "10.0.0.9:514")
                        .build(),
                    vec![],
                ),
                (
                    "loki",
                    B::cluster(3)
                        .config("loki.api.url", "https://loki:3100")
                        .build(),
                    vec![],
                ),
                (
                    "empty value",
                    B::cluster(3).config("loki.api.url", " ").build(),
                    vec![("low", "cluster/local")],
                ),
            ],
        );
    }
}
