//! `project-limit`: projects whose usage reaches 90% of a limit (new instances or resources
//! are refused at 100%).

use super::{Check, Context, Evidence, Finding, Kind, Severity};

pub const CHECK: Check = Check {
    id: "project-limit",
    run,
    warnings: &[],
};

fn show(resource: &str, v: i64) -> String {
    match resource {
        "memory" | "disk" => format!("{:.1} GiB", v as f64 / (1u64 << 30) as f64),
        _ => v.to_string(),
    }
}

fn run(ctx: &Context) -> Vec<Finding> {
    let st = ctx.state;
    let mut out = Vec::new();
    for (project, state) in &st.project_states {
        for (resource, r) in &state.resources {
            if r.limit <= 0 {
                continue;
            }
            let percent = r.usage as f64 * 100.0 / r.limit as f64;
            if percent < ctx.settings.project_percent {
                continue;
            }
            let key = match resource.as_str() {
                "containers" | "virtual-machines" | "instances" | "networks" | "processes"
                | "memory" | "disk" | "cpu" => {
                    format!("limits.{resource}")
                }
                other => format!("limits.{other}"),
            };
            let full = r.usage >= r.limit;
            out.push(
                Finding::new(
                    CHECK.id,
                    if full { Severity::High } else { Severity::Moderate },
                    Kind::Project,
                    project,
                    format!("Project {project} uses {} of its {key} limit of {} ({percent:.0}%)", show(resource, r.usage), show(resource, r.limit)),
                )
                .in_project(project)
                .evidence(Evidence::new(format!("GET /1.0/projects/{project}/state"), format!("resources.{resource}"), format!("usage {} / limit {}", r.usage, r.limit)))
                .explain(if full {
                    format!("The project is at its limit: creating more fails with \"Reached maximum ... in project \\\"{project}\\\"\". Raise the limit or free resources.")
                } else {
                    format!("The project is close to its limit; at 100% Incus refuses new {resource} in {project}.")
                })
                .docs_at("reference/projects.md", "project-limits", "Project limits").docs_about("project limits limits.instances")
                .fix(format!("incus project info {project}   # usage against every limit"))
                .fix(format!("incus project set {project} {key}=<higher value>   # or delete what is no longer needed")),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::checks::testkit::{StateBuilder as B, table};

    #[test]
    fn usage_near_and_at_a_limit() {
        table(
            &CHECK,
            vec![
                (
                    "healthy",
                    B::cluster(3)
                        .project_usage("dev", "instances", 3, 10)
                        .build(),
                    vec![],
                ),
                (
                    "89%",
                    B::cluster(3)
                        .project_usage("dev", "memory", 89, 100)
                        .build(),
                    vec![],
                ),
                (
                    "90%",
                    B::cluster(3)
                        .project_usage("dev", "memory", 90, 100)
                        .build(),
                    vec![("moderate", "project/dev")],
                ),
                (
                    "at the limit",
                    B::cluster(3)
                        .project_usage("dev", "instances", 10, 10)
                        .build(),
                    vec![("high", "project/dev")],
                ),
                (
                    "no limit (-1)",
                    B::cluster(3)
                        .project_usage("dev", "instances", 50, -1)
                        .build(),
                    vec![],
                ),
            ],
        );
    }
}
