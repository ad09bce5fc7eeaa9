//! `incus-ai search`

use super::{Context, Failure, exit, print_json};
use crate::knowledge::index::{MAX_LIMIT, Scope, Searcher};

/// `--collection`: the docs, the site's notes, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScopeArg {
    /// The Incus documentation.
    Docs,
    /// The site's own notes.
    Local,
    /// Both.
    All,
}

impl From<ScopeArg> for Scope {
    fn from(a: ScopeArg) -> Scope {
        match a {
            ScopeArg::Docs => Scope::Docs,
            ScopeArg::Local => Scope::Local,
            ScopeArg::All => Scope::All,
        }
    }
}

/// Options of `search`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Number of results [default: 10, or [search] limit]
    #[arg(long, short = 'n')]
    pub limit: Option<usize>,
    /// Which collection to search
    #[arg(long, value_enum, default_value_t = ScopeArg::All)]
    pub collection: ScopeArg,
    /// Print the hits as a JSON array
    #[arg(long)]
    pub json: bool,
    /// The question, error message or config key
    #[arg(required = true, num_args = 1.., value_name = "QUERY")]
    pub query: Vec<String>,
}

fn snippet(markdown: &str, max: usize) -> String {
    let flat = crate::util::text::collapse_ws(markdown);
    if flat.chars().count() <= max {
        return flat;
    }
    let cut: String = flat.chars().take(max).collect();
    format!("{}…", cut.trim_end())
}

pub fn run(ctx: &Context, args: &Args) -> Result<u8, Failure> {
    let query = args.query.join(" ");
    if query.trim().is_empty() {
        return Err(Failure::new(
            exit::FAILURE,
            "empty query; say what to search for",
        ));
    }
    let limit = args.limit.unwrap_or(ctx.config.search.limit);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Failure::new(
            exit::FAILURE,
            format!("--limit {limit} is out of range; give 1 to {MAX_LIMIT} results"),
        ));
    }
    let mut searcher = Searcher::open(&ctx.data.index(), ctx.model_dir().as_deref())?;
    // One query: a running `incus-ai serve` embeds it faster than loading the model.
    if let Ok(addr) = super::serve::listen_addr(ctx, None) {
        searcher = searcher.with_query_server(addr);
    }
    let hits = searcher.search(&query, args.collection.into(), limit)?;
    if args.json {
        print_json(&hits);
        return Ok(exit::OK);
    }
    if hits.is_empty() && !ctx.quiet {
        crate::errln!("no results for {query:?}");
    }
    for h in &hits {
        crate::outln!(
            "{:>2}. {}  [{}] {:.2}",
            h.rank,
            h.section,
            h.collection,
            h.score
        );
        crate::outln!("    {}", h.url);
        crate::outln!("    {}", snippet(&h.text, 220));
    }
    Ok(exit::OK)
}
