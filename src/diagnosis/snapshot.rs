//! `incus-ai snapshot`: the current installation and configuration as markdown, secrets
//! removed, written into the local notes so that the next refresh indexes it.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::diagnosis::cluster::ClusterState;
use crate::diagnosis::incus::api::ConfigMap;
use crate::util::redact;

fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    out.push_str(&crate::knowledge::markdown::table(header, rows));
    out.push('\n');
}

fn config_table(out: &mut String, config: &ConfigMap) {
    let rows: Vec<Vec<String>> = redact::config(config)
        .into_iter()
        .filter(|(k, _)| !k.starts_with("volatile."))
        .map(|(k, v)| vec![format!("`{k}`"), format!("`{v}`")])
        .collect();
    if rows.is_empty() {
        out.push_str("No configuration set.\n\n");
    } else {
        table(out, &["Key", "Value"], &rows);
    }
}

fn gib(b: u64) -> String {
    format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64)
}

/// The "server" section.
fn server(out: &mut String, st: &ClusterState) {
    let env = st
        .server
        .as_ref()
        .map(|s| s.environment.clone())
        .unwrap_or_default();
    out.push_str("## Server\n\n");
    table(
        out,
        &["Fact", "Value"],
        &[
            vec!["Incus version".into(), env.server_version.clone()],
            vec!["Kernel".into(), env.kernel_version.clone()],
            vec!["Instance drivers".into(), env.driver.clone()],
            vec!["Firewall".into(), env.firewall.clone()],
            vec!["API addresses".into(), env.addresses.join(", ")],
            vec!["Clustered".into(), st.clustered().to_string()],
        ],
    );
    out.push_str("### Server configuration\n\n");
    config_table(
        out,
        &st.server
            .as_ref()
            .map(|s| s.config.clone())
            .unwrap_or_default(),
    );
}

/// The "members" section.
fn members(out: &mut String, st: &ClusterState) {
    if !st.members.is_empty() {
        out.push_str("## Cluster members and roles\n\n");
        let rows: Vec<Vec<String>> = st
            .members
            .iter()
            .map(|m| {
                vec![
                    m.server_name.clone(),
                    m.url.clone(),
                    m.roles.join(", "),
                    m.status.to_string(),
                    m.failure_domain.clone(),
                    m.groups.join(", "),
                    st.instances
                        .iter()
                        .filter(|i| i.location == m.server_name)
                        .count()
                        .to_string(),
                ]
            })
            .collect();
        table(
            out,
            &[
                "Member",
                "Address",
                "Roles",
                "Status",
                "Failure domain",
                "Groups",
                "Instances",
            ],
            &rows,
        );
    }
}

/// The "pools" section.
fn pools(out: &mut String, st: &ClusterState) {
    out.push_str("## Storage pools\n\n");
    for p in &st.pools {
        let _ = writeln!(out, "### Storage pool {}\n", p.name);
        let _ = writeln!(
            out,
            "Driver `{}`, status {}, used by {} object(s).{}\n",
            p.driver,
            p.status,
            p.used_by.len(),
            if p.description.is_empty() {
                String::new()
            } else {
                format!(" {}", p.description)
            }
        );
        let usage: Vec<Vec<String>> = st
            .member_states
            .iter()
            .filter_map(|(m, s)| {
                let u = s.storage_pools.get(&p.name)?;
                let pct = if u.space.total > 0 {
                    u.space.used as f64 * 100.0 / u.space.total as f64
                } else {
                    0.0
                };
                Some(vec![
                    m.clone(),
                    gib(u.space.used),
                    gib(u.space.total),
                    format!("{pct:.0}%"),
                ])
            })
            .collect();
        if !usage.is_empty() {
            table(out, &["Member", "Used", "Total", "Used %"], &usage);
        }
        config_table(out, &p.config);
    }
}

/// The "networks" section.
fn networks(out: &mut String, st: &ClusterState) {
    out.push_str("## Networks\n\n");
    if st.networks.is_empty() {
        out.push_str("No managed networks.\n\n");
    }
    for n in &st.networks {
        let _ = writeln!(out, "### Network {} ({})\n", n.name, n.kind);
        let _ = writeln!(
            out,
            "Project {}, status {}, used by {} object(s).\n",
            n.project_or_default(),
            n.status,
            n.used_by.len()
        );
        config_table(out, &n.config);
    }
}

/// The "profiles" section.
fn profiles(out: &mut String, st: &ClusterState) {
    out.push_str("## Profiles\n\n");
    for p in &st.profiles {
        let project = if p.project.is_empty() {
            "default"
        } else {
            p.project.as_str()
        };
        let _ = writeln!(out, "### Profile {} (project {project})\n", p.name);
        config_table(out, &p.config);
        if !p.devices.is_empty() {
            let rows: Vec<Vec<String>> = p
                .devices
                .iter()
                .map(|(name, d)| {
                    let props: Vec<String> = redact::config(d)
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect();
                    vec![name.clone(), props.join(", ")]
                })
                .collect();
            table(out, &["Device", "Properties"], &rows);
        }
    }
}

/// The "projects" section.
fn projects(out: &mut String, st: &ClusterState) {
    out.push_str("## Projects and limits\n\n");
    for p in &st.projects {
        let _ = writeln!(out, "### Project {}\n", p.name);
        config_table(out, &p.config);
        if let Some(state) = st.project_states.get(&p.name) {
            let rows: Vec<Vec<String>> = state
                .resources
                .iter()
                .filter(|(_, r)| r.limit >= 0)
                .map(|(k, r)| vec![k.clone(), r.usage.to_string(), r.limit.to_string()])
                .collect();
            if !rows.is_empty() {
                table(out, &["Resource", "Usage", "Limit"], &rows);
            }
        }
    }
}

/// The "instances" section.
fn instances(out: &mut String, st: &ClusterState) {
    out.push_str("## Instances per member\n\n");
    let mut by_member: BTreeMap<&str, Vec<Vec<String>>> = BTreeMap::new();
    for i in &st.instances {
        let m = if i.location.is_empty() {
            "(standalone)"
        } else {
            i.location.as_str()
        };
        by_member.entry(m).or_default().push(vec![
            i.name.clone(),
            i.project.clone(),
            i.kind.to_string(),
            i.status.clone(),
            i.profiles.join(", "),
        ]);
    }
    for (m, rows) in by_member {
        let _ = writeln!(out, "### Instances on {m}\n");
        table(
            out,
            &["Instance", "Project", "Type", "Status", "Profiles"],
            &rows,
        );
    }
    // Each instance's own keys (limits, schedules, security settings), secrets redacted.
    for i in st
        .instances
        .iter()
        .filter(|i| i.config.keys().any(|k| !k.starts_with("volatile.")))
    {
        let _ = writeln!(
            out,
            "### Instance {} (project {}) configuration\n",
            i.name, i.project
        );
        config_table(out, &i.config);
    }
}

/// The "review" section: what `incus-ai review` suggests, most important first.
fn review(out: &mut String, st: &ClusterState) {
    out.push_str("## Review: what to improve\n\n");
    let findings =
        crate::diagnosis::review::review(st, None, &crate::diagnosis::checks::Settings::default());
    if findings.is_empty() {
        out.push_str("`incus-ai review` found nothing to improve.\n\n");
        return;
    }
    for f in &findings {
        let _ = writeln!(
            out,
            "- **{}** `{}` ({}): {}",
            f.severity.as_str(),
            f.id,
            f.subject,
            f.title
        );
        if let Some(cmd) = f.fix.first() {
            let _ = writeln!(out, "  Fix: `{cmd}`");
        }
    }
    out.push('\n');
}

/// Renders the snapshot (one section per kind of object); `taken` is a human timestamp.
pub fn render(st: &ClusterState, taken: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Incus installation: {}\n", st.remote);
    let _ = writeln!(
        out,
        "Snapshot taken {taken} by `incus-ai snapshot` (read-only). Values that can hold secrets \
         (passwords, keys, tokens, environment variables, cloud-init data) are shown as `{}`.\n",
        redact::REDACTED
    );

    if let Some(line) = crate::diagnosis::cluster::EndpointError::summary(&st.errors) {
        let _ = writeln!(
            out,
            "Incomplete: {line}; what they hold is missing below.\n"
        );
    }
    for section in [
        server, members, pools, networks, profiles, projects, instances, review,
    ] {
        section(&mut out, st);
    }
    // Values were redacted by their keys above; this catches secrets in any other text
    // (descriptions, addresses, sources, evidence).
    redact::text(&out).into_owned()
}

/// The line of a snapshot that changes on every run (left out when comparing).
const TAKEN: &str = "Snapshot taken ";

/// Writes the snapshot of `st` as `installation-<remote>.md` in `dir` (atomically), unless the
/// file there says the same apart from the time it was taken (so a nightly refresh of an
/// unchanged cluster re-indexes nothing). Returns the path and whether it was written.
pub fn write(
    dir: &std::path::Path,
    st: &ClusterState,
    taken: &str,
) -> std::io::Result<(std::path::PathBuf, bool)> {
    let text = render(st, taken);
    std::fs::create_dir_all(dir)?;
    let name = crate::util::text::file_safe(&st.remote);
    let path = dir.join(format!("installation-{name}.md"));
    let same = |a: &str, b: &str| {
        let body = |t: &str| {
            t.lines()
                .filter(|l| !l.starts_with(TAKEN))
                .collect::<Vec<_>>()
                .join("\n")
        };
        body(a) == body(b)
    };
    if std::fs::read_to_string(&path).is_ok_and(|old| same(&old, &text)) {
        return Ok((path, false));
    }
    crate::util::fsx::write_atomic(&path, text.as_bytes())?;
    Ok((path, true))
}
