//! `daemon-starting`: a daemon that answers 503 because it is starting up (often waiting for
//! the other members to be upgraded) or shutting down.

use super::{Check, Context, Evidence, Finding, Kind, Severity};

pub const CHECK: Check = Check {
    id: "daemon-starting",
    run,
    warnings: &[],
};

fn run(ctx: &Context) -> Vec<Finding> {
    let st = ctx.state;
    let Some(err) = st.errors.iter().find(|e| {
        e.message.contains("Daemon is starting up") || e.message.contains("shutting down")
    }) else {
        return Vec::new();
    };
    let starting = err.message.contains("starting");
    vec![Finding::new(
        CHECK.id,
        Severity::High,
        Kind::Server,
        &st.remote,
        if starting { "The Incus daemon is still starting up" } else { "The Incus daemon is shutting down" },
    )
    .evidence(Evidence::new(format!("GET {}", err.path), "error", format!("{} {}", err.status.unwrap_or(503), err.message)))
    .explain(if starting {
        "The daemon answers 503 to every request until its startup completes. If this lasts, the member is \
         usually waiting for the other cluster members to be upgraded to its version (its log says \"Wait for \
         other cluster nodes to upgrade their versions\"), or for the cluster database."
    } else {
        "The daemon is stopping and refuses requests. It answers again once it has been started."
    })
    .docs_at("howto/cluster_manage.md", "upgrade-cluster-members", "Upgrade cluster members").docs_about("upgrade cluster members daemon waits")
    .fix("incus admin waitready --timeout=60   # on the server: wait for the daemon")
    .fix("journalctl -u incus -n 50   # why it is not ready (waiting for other members to be upgraded?)")
    .fix("incus cluster list   # from another member: is this member BLOCKED?")]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};

    #[test]
    fn a_daemon_that_answers_503() {
        table(
            &CHECK,
            vec![
                ("healthy", B::cluster(3).build(), vec![]),
                (
                    "starting",
                    B::standalone()
                        .unreadable("/1.0", Some(503), "Daemon is starting up")
                        .build(),
                    vec![("high", "server/local")],
                ),
                (
                    "shutting down",
                    B::standalone()
                        .unreadable("/1.0", Some(503), "Daemon is shutting down")
                        .build(),
                    vec![("high", "server/local")],
                ),
                (
                    "another error is not this",
                    B::standalone()
                        .unreadable("/1.0", Some(500), "boom")
                        .build(),
                    vec![],
                ),
            ],
        );
    }
}
