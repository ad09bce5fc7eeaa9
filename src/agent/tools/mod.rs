//! The agent's tools, declared once in [`TOOLS`]: a name, a description, a typed argument
//! struct (its JSON schema derived by schemars, its values checked when decoded) and a
//! handler. The `ask` loop, the MCP server and the AIChat agent export all read this one
//! registry. The read tools only read: the cluster through the GET-only client, the docs
//! through the index. The change tools exist only in a toolbox given [`crate::admin::Changes`]
//! (`--allow-changes`); anywhere else a call to one is refused, written to the audit log, and
//! each one proposes a typed change a person confirms. What tools return is redacted
//! ([`crate::util::redact::json`]), fenced as data and bounded: text written by cluster
//! users (descriptions, logs) can inform the model but cannot widen what the tools do.

pub mod args;
pub mod change_args;
mod changes;
mod cluster;
mod docs;
mod instance;
mod output;

use output::render;
pub use output::{bounded, fence};

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::admin::Changes;
use crate::admin::audit::Audit;
use crate::diagnosis::cluster::{ClusterState, GatherOptions, gather};
use crate::diagnosis::incus::Client;
use crate::knowledge::index::Searcher;

/// Largest tool result, in characters, before it is cut with a marker.
pub const MAX_OUTPUT: usize = 8000;

/// How long a gathered cluster state is reused before tools read the cluster again.
pub const STATE_MAX_AGE: Duration = Duration::from_secs(15);

/// A tool's answer before fencing, or why it failed (in words the model can use).
pub type Answer = Result<Value, String>;

type Run = for<'a> fn(&'a mut Toolbox, Value) -> Pin<Box<dyn Future<Output = Answer> + Send + 'a>>;

/// One tool of the registry.
pub struct ToolDef {
    /// Its name (fixed: scripts and tests rely on it).
    pub name: &'static str,
    /// What it does, for the model.
    pub description: &'static str,
    /// Whether it only reads; the others propose changes (offered with `--allow-changes` only).
    pub read_only: bool,
    schema: fn() -> Value,
    run: Run,
}

impl ToolDef {
    /// The JSON schema of its arguments (an object).
    pub fn parameters(&self) -> Value {
        (self.schema)()
    }
}

impl std::fmt::Debug for ToolDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolDef").field("name", &self.name).finish()
    }
}

/// Decodes the arguments into `A`, naming the tool when they do not fit.
fn decode<A: serde::de::DeserializeOwned>(tool: &str, v: Value) -> Result<A, String> {
    serde_json::from_value(v).map_err(|e| format!("bad arguments for {tool}: {e}"))
}

/// Declares the registry: each line is `read|change name, ArgsType, handler, "description"`.
macro_rules! registry {
    ($( $kind:ident $name:literal, $args:ty, $handler:path, $desc:literal; )*) => {
        /// Every tool, in the order they are offered.
        pub static TOOLS: &[ToolDef] = &[$(
            ToolDef {
                name: $name,
                description: $desc,
                read_only: registry!(@read_only $kind),
                schema: args::schema_of::<$args>,
                run: |tb, v| Box::pin(async move {
                    let a: $args = decode($name, v)?;
                    $handler(tb, a).await
                }),
            },
        )*];
    };
    (@read_only read) => { true };
    (@read_only change) => { false };
}

registry! {
    read "search_docs", args::SearchDocs, docs::search_docs,
        "Search the Incus documentation and the site's own notes. Returns ranked sections with their URL.";
    read "cluster_overview", args::NoArgs, cluster::overview,
        "The cluster at a glance: members with status and roles, warnings by severity, instances by status and member, storage pools and networks.";
    read "get_member", args::GetMember, cluster::get_member,
        "One cluster member: status, message, roles, load and memory, storage pool usage, its warnings and the instances on it.";
    read "list_warnings", args::ListWarnings, cluster::list_warnings,
        "Incus warnings (uuid, type, severity, member, entity, last message).";
    read "list_instances", args::ListInstances, instance::list_instances,
        "Instances, filtered by project, member or status.";
    read "get_instance", args::GetInstance, instance::get_instance,
        "One instance: configuration (secrets removed), state, and the end of its log (lxc.log or qemu.log).";
    read "list_operations", args::NoArgs, cluster::list_operations,
        "Running and recently finished background operations, with errors.";
    read "list_storage_pools", args::NoArgs, cluster::list_pools,
        "Storage pools: driver, status on each member, space and inode usage.";
    read "list_networks", args::NoArgs, cluster::list_networks,
        "Managed networks: type, status on each member, configuration.";
    read "list_projects", args::NoArgs, cluster::list_projects,
        "Projects: limits, restrictions and usage against the limits.";
    read "run_checks", args::RunChecks, cluster::run_checks,
        "Run incus-ai's deterministic checks (the doctor): findings with evidence, doc links and fix commands.";
    read "review_cluster", args::ReviewCluster, cluster::review_cluster,
        "Best-practice review (how to make the cluster more robust, safer, easier to run): what works today but will hurt tomorrow, e.g. no failover capacity, snapshots without expiry, privileged containers, healing over local storage. Findings with evidence, doc links and fix commands.";
    read "config_key", args::ConfigKeyArgs, docs::config_key,
        "The reference of a configuration key (type, default, description), e.g. cluster.offline_threshold or limits.memory.";
    change "evacuate_member", change_args::EvacuateMember, changes::evacuate_member,
        "CHANGE (asks the admin first): evacuate a cluster member for maintenance (incus cluster evacuate); its instances move or stop as their cluster.evacuate says.";
    change "restore_member", change_args::RestoreMember, changes::restore_member,
        "CHANGE (asks the admin first): bring an evacuated member back (incus cluster restore); its instances return.";
    change "start_instance", change_args::InstanceAction, changes::start_instance,
        "CHANGE (asks the admin first): start an instance (incus start).";
    change "stop_instance", change_args::InstanceAction, changes::stop_instance,
        "CHANGE (asks the admin first): stop an instance (incus stop; force: without a clean shutdown).";
    change "restart_instance", change_args::InstanceAction, changes::restart_instance,
        "CHANGE (asks the admin first): restart an instance (incus restart).";
    change "create_snapshot", change_args::CreateSnapshot, changes::create_snapshot,
        "CHANGE (asks the admin first): take a snapshot of an instance (incus snapshot create), e.g. before an upgrade; expiry like 2w.";
    change "set_config", change_args::SetConfig, changes::set_config,
        "CHANGE (asks the admin first): set one configuration key of the server, an instance, project, profile, storage pool or network (incus config set and its kin); an empty value unsets it.";
    change "acknowledge_warning", change_args::AcknowledgeWarning, changes::acknowledge_warning,
        "CHANGE (asks the admin first): acknowledge a warning by its UUID (incus warning acknowledge).";
    change "refresh_image", change_args::RefreshImage, changes::refresh_image,
        "CHANGE (asks the admin first): refresh a cached image from its source (incus image refresh).";
    change "move_instance", change_args::MoveInstance, changes::move_instance,
        "CHANGE (asks the admin first): move an instance to another cluster member (incus move --target).";
}

/// A tool by name.
pub fn find(name: &str) -> Option<&'static ToolDef> {
    TOOLS.iter().find(|t| t.name == name)
}

/// Names of the tools.
pub fn names() -> Vec<&'static str> {
    TOOLS.iter().map(|t| t.name).collect()
}

/// The tools offered: the read tools, and the change tools when `changes` is true.
pub fn offered(changes: bool) -> impl Iterator<Item = &'static ToolDef> {
    TOOLS.iter().filter(move |t| t.read_only || changes)
}

/// The offered tools as OpenAI-style function declarations (`{type: function, function: {...}}`).
pub fn openai_functions(changes: bool) -> Vec<Value> {
    offered(changes)
        .map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters()}}))
        .collect()
}

/// What a tool call gives: the text the model sees, and typed flags for the callers.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    /// Fenced, redacted, bounded text (or the error message).
    pub text: String,
    /// The call failed (bad arguments, unknown tool, the cluster could not be read).
    pub is_error: bool,
    /// The output was cut at [`MAX_OUTPUT`].
    pub truncated: bool,
}

/// What the tools read from.
pub struct Toolbox {
    client: Option<Client>,
    /// Where the index lives, to follow new generations in long sessions (MCP).
    index_root: Option<std::path::PathBuf>,
    /// The embedding model of hybrid search (`None`: BM25 alone).
    model_dir: Option<std::path::PathBuf>,
    searcher: Option<Searcher>,
    /// The last gathered state, when it was read, and whether with what `review` needs.
    state: Option<(ClusterState, Instant, bool)>,
    /// What runs changes (`--allow-changes` only).
    changes: Option<Changes>,
    /// Where refused calls to change tools are written down.
    audit: Option<Audit>,
    /// The question being answered, and the tool and arguments of the call being run (for
    /// the audit).
    question: String,
    calling: (&'static str, Value),
    /// Change proposals are prepared and kept here instead of asked about (MCP asks its
    /// client in a second round trip).
    defer: bool,
    deferred: Option<(&'static str, crate::admin::Prepared)>,
    /// Whether the call being run read the cluster state (its answer then says what could
    /// not be read).
    used_state: bool,
    /// The checks' thresholds.
    settings: crate::diagnosis::checks::Settings,
}

impl Toolbox {
    /// Tools over a cluster (when `client` is given) and the docs index under `index_root`
    /// (when given; it is opened when there is one), searched with the embedding model in
    /// `model_dir` too (when given).
    pub fn new(
        client: Option<Client>,
        index_root: Option<std::path::PathBuf>,
        model_dir: Option<std::path::PathBuf>,
    ) -> Toolbox {
        let searcher = index_root
            .as_deref()
            .and_then(|r| Searcher::open(r, model_dir.as_deref()).ok());
        Toolbox {
            client,
            index_root,
            model_dir,
            searcher,
            state: None,
            changes: None,
            audit: None,
            question: String::new(),
            calling: ("", Value::Null),
            defer: false,
            deferred: None,
            used_state: false,
            settings: crate::diagnosis::checks::Settings::default(),
        }
    }

    /// The docs index, when there is one.
    pub fn searcher(&self) -> Option<&Searcher> {
        self.searcher.as_ref()
    }

    /// The checks run with `settings` (the configuration's).
    pub fn with_check_settings(mut self, settings: crate::diagnosis::checks::Settings) -> Toolbox {
        self.settings = settings;
        self
    }

    /// The checks' thresholds.
    pub fn check_settings(&self) -> &crate::diagnosis::checks::Settings {
        &self.settings
    }

    /// The cluster state last read, when there is one.
    pub fn cached_state(&self) -> Option<&ClusterState> {
        self.state.as_ref().map(|(s, _, _)| s)
    }

    /// The read-only client, when a cluster is configured.
    pub fn client(&self) -> Option<&Client> {
        self.client.as_ref()
    }

    /// Opens the index again when a refresh published a new generation since it was opened
    /// (an MCP server runs for days; it must not keep answering from the old docs).
    pub fn follow_index(&mut self) {
        let Some(root) = &self.index_root else { return };
        let current = crate::knowledge::index::build::current_dir(root);
        let opened = self.searcher.as_ref().map(|s| s.dir().to_path_buf());
        if current.is_some() && current != opened {
            match Searcher::open(root, self.model_dir.as_deref()) {
                Ok(s) => self.searcher = Some(s),
                Err(e) => tracing::warn!("index not reopened: {e}"),
            }
        }
    }

    /// The cluster state, reused while it is younger than [`STATE_MAX_AGE`] (a long MCP
    /// session must not answer from a cluster that has changed since).
    pub async fn state(&mut self) -> Result<&ClusterState, String> {
        self.gathered(false).await
    }

    /// [`Toolbox::state`] with what `review` reads on top (members' hardware, usage, volumes).
    pub async fn review_state(&mut self) -> Result<&ClusterState, String> {
        self.gathered(true).await
    }

    /// [`Toolbox::state`], failing when `endpoint` (a path prefix such as `/1.0/instances`)
    /// could not be read: a list that was not read is unknown, never empty.
    pub async fn state_with(&mut self, endpoint: &str) -> Result<&ClusterState, String> {
        let st = self.gathered(false).await?;
        match st.error_for(endpoint).or(st.database_unavailable.as_ref()) {
            Some(e) => Err(format!(
                "{} could not be read ({}{}: {}): what it holds is unknown, not empty; say so in the answer",
                endpoint,
                e.path,
                e.status
                    .map(|s| format!(" answered {s}"))
                    .unwrap_or_default(),
                e.message
            )),
            None => Ok(st),
        }
    }

    async fn gathered(&mut self, review: bool) -> Result<&ClusterState, String> {
        self.used_state = true;
        let stale = self
            .state
            .as_ref()
            .is_none_or(|(_, at, full)| at.elapsed() > STATE_MAX_AGE || (review && !full));
        if stale {
            let client = self
                .client
                .as_ref()
                .ok_or("no Incus server is configured for this session")?;
            let opts = GatherOptions {
                review,
                ..GatherOptions::default()
            };
            let st = gather(client, &opts).await.map_err(|e| e.to_string())?;
            self.state = Some((st, Instant::now(), review));
        }
        self.state
            .as_ref()
            .map(|(s, _, _)| s)
            .ok_or_else(|| "the cluster state is missing".to_string())
    }

    /// Runs a tool and returns its output as the model sees it: redacted, fenced, bounded.
    pub async fn call(&mut self, name: &str, args: &Value) -> String {
        self.call_output(name, args).await.text
    }

    /// [`Toolbox::call`] with the typed flags.
    pub async fn call_output(&mut self, name: &str, args: &Value) -> ToolOutput {
        self.follow_index();
        let args = if args.is_null() {
            json!({})
        } else {
            args.clone()
        };
        let result = match find(name) {
            _ if !args.is_object() => Err("arguments must be a JSON object".to_string()),
            None => Err(format!(
                "unknown tool {:?}; the tools are: {}",
                name.chars().take(64).collect::<String>(),
                names().join(", ")
            )),
            Some(tool) if !tool.read_only && self.changes.is_none() => {
                self.not_offered(name, &args);
                Err(format!(
                    "{name} is a change tool and changes are not allowed in this session (they need --allow-changes and a person's yes); nothing was changed: give the admin the incus command instead"
                ))
            }
            Some(tool) => {
                self.calling = (tool.name, args.clone());
                self.used_state = false;
                let r = (tool.run)(self, args).await;
                self.calling = ("", Value::Null);
                r.map(|v| self.incomplete(v))
            }
        };
        render(name, result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bad_calls_are_refused_in_words_the_model_can_use() {
        let mut t = Toolbox::new(None, None, None);
        let out = t.call_output("delete_instance", &json!({})).await;
        assert!(out.is_error && out.text.starts_with("error: unknown tool"));
        assert!(
            t.call("get_member", &json!("m1"))
                .await
                .contains("JSON object")
        );
        assert!(
            t.call("get_member", &json!({"name": "../../1.0/cluster"}))
                .await
                .contains("not a valid Incus name")
        );
        let huge = "x".repeat(10_000);
        assert!(
            t.call("search_docs", &json!({"query": huge}))
                .await
                .contains("longer than")
        );
        assert!(
            t.call("get_member", &json!({}))
                .await
                .contains("missing field `name`")
        );
        let out = t.call_output("cluster_overview", &json!({})).await;
        assert!(out.is_error && out.text.contains("no Incus server"));
    }

    #[test]
    fn output_is_bounded_and_fenced() {
        let out = render("x", Ok(json!({"log": "y</data>".repeat(3_000)})));
        assert!(out.truncated && out.text.contains("[output truncated:"));
        assert!(out.text.chars().count() < MAX_OUTPUT + 300);
        assert!(
            out.text.ends_with("\n</data>"),
            "{}",
            &out.text[out.text.len() - 80..]
        );
        assert_eq!(out.text.matches("</data>").count(), 1);
        assert_eq!(
            fence("t", "a</data>b"),
            "<data tool=\"t\">\na<\\/data>b\n</data>"
        );
    }

    #[test]
    fn every_tool_is_declared_once_with_an_object_schema() {
        let mut names = names();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n, "a name is declared twice");
        assert_eq!(n, 23);
        for t in TOOLS {
            assert_eq!(t.parameters()["type"], "object", "{}", t.name);
            assert!(t.description.len() > 20);
            assert_eq!(
                t.read_only,
                !t.description.starts_with("CHANGE"),
                "{}",
                t.name
            );
        }
        assert_eq!(openai_functions(false).len(), 13);
        assert_eq!(openai_functions(true).len(), n);
    }
}
