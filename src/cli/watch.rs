//! `incus-ai watch` and its subcommands (`silence`, `silences`, `unsilence`, `status`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::remote::RemoteArgs;
use super::{Context, Failure, exit, print_json};
use crate::watch::silences::{Silences, parse_duration};
use crate::watch::sinks::{Sink, Spec};
use crate::watch::{self, Files, Remote, Settings, Watch};

/// Options of `watch`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Sub>,
    /// A remote to watch (repeatable) [default: the default remote]
    #[arg(long = "remote", value_name = "NAME")]
    pub remotes: Vec<String>,
    /// Seconds between two cycles [default: [watch] interval_secs, else 60]
    #[arg(long, value_name = "SECS")]
    pub interval: Option<u64>,
    /// One cycle, deliver, exit (for timers and cron): exit 0 nothing fires, 1 something does,
    /// 2 a remote could not be read
    #[arg(long)]
    pub once: bool,
    /// Serve /metrics (Prometheus text) on this loopback address
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    /// Print each cycle's report as a JSON line
    #[arg(long)]
    pub json: bool,
    /// Seconds before one API request gives up
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub timeout: u64,
}

/// The subcommands of `watch`.
#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// Keep a check quiet for a while, for a reason (it is notified when the silence ends if it
    /// still fires)
    Silence(SilenceArgs),
    /// The silences that hold
    Silences {
        /// Print them as JSON
        #[arg(long)]
        json: bool,
    },
    /// End a silence now
    Unsilence {
        /// Its id (`watch silences` lists them)
        id: String,
    },
    /// What fires and since when, silences, the last complete read per remote, each sink's
    /// queue and last error
    Status {
        /// Print it as JSON
        #[arg(long)]
        json: bool,
    },
}

/// Options of `watch silence`.
#[derive(Debug, clap::Args)]
pub struct SilenceArgs {
    /// The check to silence (`member-offline`)
    #[arg(long)]
    pub check: String,
    /// Only this subject (`cluster-member/m2`)
    #[arg(long, value_name = "KIND/NAME")]
    pub subject: Option<String>,
    /// Only this remote
    #[arg(long, value_name = "NAME")]
    pub remote: Option<String>,
    /// How long: 30m, 2h, 1d (at most 30 days; there is no silence forever)
    #[arg(long = "for", value_name = "DURATION")]
    pub duration: String,
    /// Why (shown in `watch status`)
    #[arg(long)]
    pub reason: String,
}

pub async fn run(ctx: &Context, args: &Args) -> Result<u8, Failure> {
    let files = Files::new(&ctx.data.root);
    match &args.command {
        Some(Sub::Silence(a)) => silence(&files, a),
        Some(Sub::Silences { json }) => {
            let mut s = watch::load_silences(&files);
            s.prune(watch::now());
            if *json {
                print_json(&s.list);
            } else if s.list.is_empty() {
                crate::outln!("no silences");
            }
            if !*json {
                for x in &s.list {
                    crate::outln!("{}", describe(x));
                }
            }
            Ok(exit::OK)
        }
        Some(Sub::Unsilence { id }) => {
            let mut s = watch::load_silences(&files);
            if !s.remove(id) {
                return Err(Failure::new(
                    exit::FAILURE,
                    format!("no silence {id:?}; `incus-ai watch silences` lists them"),
                ));
            }
            save(&files, &s)?;
            Ok(exit::OK)
        }
        Some(Sub::Status { json }) => super::watch_status::status(ctx, &files, *json),
        None => watch_loop(ctx, args, files).await,
    }
}

fn describe(s: &crate::watch::silences::Silence) -> String {
    format!(
        "{}  {}{}{} until {}: {}",
        s.id,
        s.check,
        s.subject
            .as_deref()
            .map(|x| format!(" {x}"))
            .unwrap_or_default(),
        s.remote
            .as_deref()
            .map(|r| format!(" on {r}"))
            .unwrap_or_default(),
        crate::watch::ledger::rfc3339(s.until),
        s.reason
    )
}

fn save(files: &Files, s: &Silences) -> Result<(), Failure> {
    watch::save_silences(files, s).map_err(|e| Failure::of(exit::FAILURE, &e))
}

fn silence(files: &Files, a: &SilenceArgs) -> Result<u8, Failure> {
    let secs = parse_duration(&a.duration)
        .map_err(|e| Failure::new(exit::FAILURE, format!("--for: {e}")))?;
    if secs > crate::watch::silences::MAX_SECS {
        return Err(Failure::new(
            exit::FAILURE,
            "--for: at most 30 days; a silence always ends (make a new one then)",
        ));
    }
    if a.reason.trim().is_empty() {
        return Err(Failure::new(
            exit::FAILURE,
            "--reason: say why (it is shown with the silence)",
        ));
    }
    let mut s = watch::load_silences(files);
    let made = s.add(
        &a.check,
        a.subject.as_deref(),
        a.remote.as_deref(),
        secs,
        &a.reason,
        watch::now(),
    );
    save(files, &s)?;
    crate::outln!("{}", describe(&made));
    Ok(exit::OK)
}

/// The settings and sinks from the configuration file.
fn settings(ctx: &Context, args: &Args) -> Result<Settings, Failure> {
    let w = &ctx.config.watch;
    let sinks = w
        .notify
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let spec = Spec {
                kind: &n.kind,
                url: n.url.as_deref(),
                min_severity: n.min_severity.as_deref(),
                secret_env: n.secret_env.as_deref(),
                token_env: n.token_env.as_deref(),
                review: n.review,
            };
            Sink::new(i + 1, &spec, ctx.data.notes()).map_err(|e| Failure::new(exit::FAILURE, e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Settings {
        interval: Duration::from_secs(args.interval.unwrap_or(w.interval_secs).max(1)),
        review_every: Duration::from_secs(w.review_every_secs.max(60)),
        resolve_after: w.resolve_after.max(1),
        resend: Duration::from_secs(w.resend_secs.max(5)),
        sinks,
        checks: ctx.config.check_settings(),
    })
}

fn remotes(args: &Args) -> Result<Vec<Remote>, Failure> {
    let names: Vec<Option<String>> = if args.remotes.is_empty() {
        vec![None]
    } else {
        args.remotes.iter().cloned().map(Some).collect()
    };
    names
        .into_iter()
        .map(|name| {
            let client = RemoteArgs {
                remote: name,
                timeout: args.timeout,
            }
            .client()?;
            Ok(Remote {
                name: client.remote().to_string(),
                client,
            })
        })
        .collect()
}

fn print_cycle(ctx: &Context, args: &Args, r: &watch::CycleReport) {
    if args.json {
        crate::util::out::print_raw(&format!(
            "{}\n",
            serde_json::to_string(r).unwrap_or_default()
        ));
        return;
    }
    if ctx.quiet {
        return;
    }
    for t in &r.transitions {
        // The review's findings are advice, not alerts.
        let word = match (t.review, t.status) {
            (false, s) => s.as_str().to_uppercase(),
            (true, crate::watch::ledger::Status::Firing) => "ADVICE".to_string(),
            (true, crate::watch::ledger::Status::Resolved) => "ADVICE-RESOLVED".to_string(),
        };
        crate::outln!(
            "{} {} {} on {}: {}",
            word,
            t.finding["id"].as_str().unwrap_or_default(),
            t.finding["subject"].as_str().unwrap_or_default(),
            t.remote,
            t.finding["title"].as_str().unwrap_or_default()
        );
    }
    for (remote, complete) in &r.remotes {
        if !complete {
            crate::errln!(
                "incus-ai watch: {remote} could not be read completely; nothing resolves until it can"
            );
        }
    }
}

async fn watch_loop(ctx: &Context, args: &Args, files: Files) -> Result<u8, Failure> {
    let _lock =
        crate::util::lock::RunLock::acquire(&files.lock(), Duration::ZERO).map_err(|e| {
            Failure::new(
                exit::BUSY,
                format!(
                    "another `incus-ai watch` holds {} ({e})",
                    files.lock().display()
                ),
            )
        })?;
    let settings = settings(ctx, args)?;
    let watch = Arc::new(Watch::new(files, settings, remotes(args)?));
    let http = crate::util::http::client_builder(crate::watch::sinks::TIMEOUT)
        .build()
        .map_err(|e| Failure::new(exit::FAILURE, format!("watch: {e}")))?;
    let fail = |e: watch::WatchError| Failure::of(exit::FAILURE, &e);
    if args.once {
        let r = watch.cycle().await.map_err(fail)?;
        print_cycle(ctx, args, &r);
        watch::drain_all(&watch, &http, Duration::from_secs(20)).await;
        watch::resend_firing(&watch, &http).await;
        if r.remotes.iter().all(|(_, c)| *c) {
            watch::heartbeats(&watch, &http).await;
        }
        return Ok(if r.firing > 0 {
            exit::FINDINGS
        } else if r.remotes.iter().any(|(_, c)| !c) {
            exit::FAILURE
        } else {
            exit::OK
        });
    }
    let workers = watch::Workers::start(&watch);
    if let Some(addr) = args.listen {
        super::watch_status::serve_metrics(addr, Arc::clone(&watch)).await?;
    }
    let trigger = Arc::new(tokio::sync::Notify::new());
    for remote in watch.remotes() {
        tokio::spawn(watch::events::follow(remote.clone(), Arc::clone(&trigger)));
    }
    // Alertmanager forgets an alert that is not sent again: what fires is re-sent on its own
    // schedule, whatever the interval.
    let resender = Arc::clone(&watch);
    let resend_http = workers.http().clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(resender.settings().resend).await;
            watch::resend_firing(&resender, &resend_http).await;
        }
    });
    loop {
        let started = std::time::Instant::now();
        let r = watch.cycle().await.map_err(fail)?;
        workers.wake();
        print_cycle(ctx, args, &r);
        if r.remotes.iter().all(|(_, c)| *c) {
            watch::heartbeats(&watch, workers.http()).await;
        }
        tokio::select! {
            _ = tokio::time::sleep(watch.settings().interval) => {}
            _ = trigger.notified() => {
                // More events of the same fault follow: let them arrive, and never read more
                // often than every 10 s.
                let gap = Duration::from_secs(10).saturating_sub(started.elapsed());
                tokio::time::sleep(gap.max(Duration::from_secs(2))).await;
            }
        }
    }
}
