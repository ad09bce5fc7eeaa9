//! `incus-ai audit`

use super::{Context, Failure, exit, print_json};
use crate::admin::audit::{Audit, Entry};

/// Options of `audit`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print every line as JSON (an array)
    #[arg(long)]
    pub json: bool,
}

/// One line for people: when, what became of it, the command, and how it ended.
pub fn render(entries: &[Entry]) -> String {
    let mut out = String::new();
    for e in entries {
        let decision = serde_json::to_value(e.decision)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let outcome = e
            .error
            .as_deref()
            .map(|x| format!("error: {x}"))
            .or_else(|| e.result.clone())
            .or_else(|| e.reason.clone())
            .unwrap_or_default();
        out.push_str(&format!(
            "{}  {:<11}  {:<19}  {}{}\n",
            e.time,
            decision,
            e.tool,
            e.command.as_deref().unwrap_or("-"),
            if outcome.is_empty() {
                String::new()
            } else {
                format!("  ({outcome})")
            }
        ));
    }
    out
}

pub fn run(ctx: &Context, args: &Args) -> Result<u8, Failure> {
    let audit = Audit::in_data_dir(&ctx.data.root);
    let entries = audit.read().map_err(|e| Failure::new(exit::FAILURE, e))?;
    if args.json {
        print_json(&entries);
    } else if entries.is_empty() {
        if !ctx.quiet {
            crate::errln!(
                "incus-ai: no change was proposed yet ({} does not exist or is empty)",
                audit.path().display()
            );
        }
    } else {
        crate::out!("{}", render(&entries));
    }
    Ok(exit::OK)
}
