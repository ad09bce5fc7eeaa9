//! `incus-ai ask`, `incus-ai mcp` and the hidden `incus-ai tool`.

use std::io::{BufRead, IsTerminal, Write};

use serde_json::Value;

use super::remote::RemoteArgs;
use super::{Context, Failure, exit, print_json};
use crate::admin::Changes;
use crate::admin::audit::Audit;
use crate::admin::confirm::{Confirm, Nobody, Terminal};
use crate::agent::llm::{Llm, LlmError};
use crate::agent::tools::Toolbox;
use crate::agent::{AnswerMode, Limits, Session};
use crate::config::LlmConfig;

/// Options of `ask`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub remote: RemoteArgs,
    /// Chat model from AIChat's config.yaml, CLIENT:MODEL [default: [llm] in the config file]
    #[arg(long, value_name = "CLIENT:MODEL")]
    pub model: Option<String>,
    /// Mask member, instance, project and network names and addresses sent to the model
    #[arg(long)]
    pub anonymize: bool,
    /// Tool-calling rounds before the model must answer [default: 8, or [llm] max_steps]
    #[arg(long, value_name = "N")]
    pub max_steps: Option<usize>,
    /// Print the answer, tool calls and findings as JSON
    #[arg(long)]
    pub json: bool,
    /// Offer the change tools (evacuate, start/stop, snapshot, set a key...): each change is
    /// shown and runs only after your yes on the terminal
    #[arg(long)]
    pub allow_changes: bool,
    /// The question; without one, questions are read from stdin, one per line
    #[arg(value_name = "QUESTION")]
    pub question: Vec<String>,
}

/// The tools over the configured remote and the docs index (either may be missing); with
/// `allow_changes`, the change tools too, asked about with `confirm`.
fn toolbox(
    ctx: &Context,
    remote: &RemoteArgs,
    allow_changes: bool,
    confirm: Box<dyn Confirm>,
) -> Result<Toolbox, Failure> {
    let audit = Audit::in_data_dir(&ctx.data.root);
    if allow_changes {
        crate::admin::confirm::exit_on_interrupt_outside_questions();
        // One connection pool for the reads and the changes.
        let writer = remote.writer()?;
        let client = writer.reader().clone();
        return Ok(
            Toolbox::new(Some(client), Some(ctx.data.index()), ctx.model_dir())
                .with_check_settings(ctx.config.check_settings())
                .with_audit(audit.clone())
                .with_changes(Changes::new(writer, confirm, audit)),
        );
    }
    let client = match remote.client() {
        Ok(c) => Some(c),
        Err(f) => {
            if !ctx.quiet {
                crate::errln!("incus-ai: {} (answering without the cluster)", f.message);
            }
            None
        }
    };
    let toolbox = Toolbox::new(client, Some(ctx.data.index()), ctx.model_dir())
        .with_check_settings(ctx.config.check_settings())
        .with_audit(audit);
    Ok(toolbox)
}

/// Asks on the terminal, waiting as long as `[changes] answer_timeout_secs` says.
fn terminal(ctx: &Context) -> Box<dyn Confirm> {
    let mut t = Terminal::default();
    if let Some(secs) = ctx.config.changes.answer_timeout_secs {
        t.timeout = std::time::Duration::from_secs(secs.max(1));
    }
    Box::new(t)
}

/// The model configured in `[llm]` or named with `--model CLIENT:MODEL`; `None` when no model
/// is configured.
fn resolve_llm(cfg: &LlmConfig, model_flag: Option<&str>) -> Result<Option<Llm>, LlmError> {
    if let Some(id) = model_flag.or(cfg.aichat_model.as_deref()) {
        return Llm::from_aichat(id).map(Some);
    }
    match (&cfg.api_base, &cfg.model) {
        (Some(base), Some(model)) => {
            let key = cfg
                .api_key
                .clone()
                .or_else(|| cfg.api_key_env.as_ref().and_then(|v| std::env::var(v).ok()));
            Ok(Some(Llm::new(base, key.as_deref(), model)))
        }
        (None, None) => Ok(None),
        _ => Err(LlmError::Config(
            "[llm] needs both api_base and model (or aichat_model = \"CLIENT:MODEL\")".into(),
        )),
    }
}

pub async fn run(ctx: &Context, args: &Args) -> Result<u8, Failure> {
    let toolbox = toolbox(ctx, &args.remote, args.allow_changes, terminal(ctx))?;
    let llm = resolve_llm(&ctx.config.llm, args.model.as_deref())
        .map_err(|e| Failure::new(exit::FAILURE, e))?;
    let limits = Limits {
        max_steps: args.max_steps.or(ctx.config.llm.max_steps).unwrap_or(8),
        token_budget: ctx.config.llm.token_budget.unwrap_or(32_000),
    };
    let mut session = Session::new(toolbox, llm, limits, args.anonymize);
    let question = args.question.join(" ");
    // Interactive mode reads one line, answers it, then reads the next.
    let mut once = (!question.trim().is_empty()).then_some(question);
    let interactive = once.is_none();
    if interactive && std::io::stdin().is_terminal() {
        crate::errln!("incus-ai ask: one question per line, empty line or Ctrl-D to end");
    }
    let mut next_question = move || -> Option<String> {
        if !interactive {
            return once.take();
        }
        let mut line = String::new();
        match std::io::stdin().lock().read_line(&mut line) {
            Ok(n) if n > 0 && !line.trim().is_empty() => Some(line.trim().to_string()),
            _ => None,
        }
    };
    while let Some(q) = next_question() {
        let stream = !args.json;
        let mut printed = false;
        let answer = session
            .ask(&q, &mut |t: &str| {
                if stream {
                    crate::util::out::print(t);
                    printed = true;
                }
            })
            .await;
        if args.json {
            print_json(&answer);
        } else if let Some(why) = &answer.why_no_model {
            // One line on stderr says why there was no model; the answer goes to stdout.
            crate::errln!("incus-ai: {why}");
            crate::out!("{}", answer.answer.trim_start_matches('\n'));
        } else if printed {
            crate::outln!();
        }
        if !args.json && !answer.notes.is_empty() && answer.mode == AnswerMode::Llm && !ctx.quiet {
            crate::errln!("incus-ai: {}", answer.notes.join("; "));
        }
        // Interactive users see each answer before typing the next question.
        let _ = std::io::stdout().flush();
    }
    Ok(exit::OK)
}

/// Options of `mcp`.
#[derive(Debug, clap::Args)]
pub struct McpArgs {
    #[command(flatten)]
    pub remote: RemoteArgs,
    /// Serve MCP over streamable HTTP on this loopback address instead of stdio
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<std::net::SocketAddr>,
    /// Offer the change tools (annotated destructive); each change is confirmed by the
    /// client's user through MCP elicitation, and refused when the client cannot ask
    #[arg(long)]
    pub allow_changes: bool,
}

pub async fn mcp(ctx: &Context, args: &McpArgs) -> Result<u8, Failure> {
    let nobody = || -> Box<dyn Confirm> {
        Box::new(Nobody(
            "the MCP client cannot ask its user (no elicitation)".into(),
        ))
    };
    let toolbox = toolbox(ctx, &args.remote, args.allow_changes, nobody())?;
    let Some(addr) = args.listen else {
        crate::agent::mcp::serve(toolbox, tokio::io::stdin(), tokio::io::stdout())
            .await
            .map_err(|e| Failure::new(exit::FAILURE, format!("MCP over stdio: {e}")))?;
        return Ok(exit::OK);
    };
    // Each HTTP session gets its own toolbox over the same clients and index; only requests
    // with the admin's token may be offered changes.
    let quiet = ctx.quiet;
    let changes = if args.allow_changes {
        let path = ctx.data.mcp_token();
        let (token, created) = crate::util::token::load_or_create(&path)
            .map_err(|e| Failure::new(exit::FAILURE, format!("mcp --allow-changes: {e}")))?;
        // The token itself is never printed (stderr may be a journal): it is read from the file.
        if !quiet || created {
            crate::errln!(
                "incus-ai mcp: change tools only for requests with `Authorization: Bearer <token>`, the token being the content of {} ({}mode 0600); other clients get the read-only tools",
                path.display(),
                if created { "made now, " } else { "" }
            );
        }
        let sibling = toolbox.sibling();
        let make: Box<dyn Fn() -> crate::agent::tools::Toolbox + Send + Sync> =
            Box::new(move || sibling.sibling());
        Some((token, make))
    } else {
        None
    };
    crate::agent::mcp_http::serve(
        addr,
        move || toolbox.sibling_read_only(),
        changes,
        |bound| {
            if !quiet {
                crate::errln!("incus-ai mcp: serving MCP on http://{bound}/mcp");
            }
        },
    )
    .await
    .map_err(|e| Failure::new(exit::FAILURE, e))?;
    Ok(exit::OK)
}

/// Options of the hidden `tool` command.
#[derive(Debug, clap::Args)]
pub struct ToolArgs {
    #[command(flatten)]
    pub remote: RemoteArgs,
    /// Allow the change tools (asked about on the terminal, refused without one)
    #[arg(long)]
    pub allow_changes: bool,
    /// Tool name
    pub name: String,
    /// Arguments as a JSON object
    #[arg(default_value = "{}")]
    pub arguments: String,
}

pub async fn tool(ctx: &Context, args: &ToolArgs) -> Result<u8, Failure> {
    let mut toolbox = toolbox(ctx, &args.remote, args.allow_changes, terminal(ctx))?;
    let parsed: Value = serde_json::from_str(&args.arguments)
        .map_err(|e| Failure::new(exit::FAILURE, format!("arguments are not JSON: {e}")))?;
    crate::outln!("{}", toolbox.call(&args.name, &parsed).await);
    Ok(exit::OK)
}
