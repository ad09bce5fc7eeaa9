//! `images-auto-update-disabled`: `images.auto_update_interval=0`, so cached images are never
//! refreshed and new instances start from stale, unpatched images (image-handling.md).

use super::support::{installation, server_config};
use crate::diagnosis::checks::{Check, Context, Evidence, Finding, Severity};

pub const RULE: Check = Check {
    id: "images-auto-update-disabled",
    run,
    warnings: &[],
};

fn run(ctx: &Context) -> Vec<Finding> {
    let value = server_config(ctx.state, "images.auto_update_interval").trim();
    if value != "0" {
        return Vec::new();
    }
    let (kind, name) = installation(ctx.state);
    vec![
        Finding::new(
            RULE.id,
            Severity::Moderate,
            kind,
            &name,
            "Images are never updated (images.auto_update_interval=0)",
        )
        .evidence(Evidence::new("GET /1.0", "config[\"images.auto_update_interval\"]", value))
        .explain(
            "With the interval at 0, images cached from remotes are never refreshed: every new instance starts from the image as it was when first downloaded, missing months of security fixes, and cached images that nothing uses are still kept. The default checks every 6 hours.",
        )
        .docs_at("image-handling.md", "auto-update", "Auto-update").docs_about("images auto update interval cached images image handling")
        .fix("incus config unset images.auto_update_interval   # back to the default, every 6 hours")
        .fix("incus config set images.auto_update_interval=24   # or once a day"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};

    #[test]
    fn interval_zero_only() {
        table(
            &RULE,
            vec![
                ("default", B::cluster(3).build(), vec![]),
                (
                    "24 hours",
                    B::cluster(3)
                        .config("images.auto_update_interval", "24")
                        .build(),
                    vec![],
                ),
                (
                    "0 on a cluster",
                    B::cluster(3)
                        .config("images.auto_update_interval", "0")
                        .build(),
                    vec![("moderate", "cluster/local")],
                ),
                (
                    "0 standalone",
                    B::standalone()
                        .config("images.auto_update_interval", "0")
                        .build(),
                    vec![("moderate", "server/local")],
                ),
            ],
        );
    }
}
