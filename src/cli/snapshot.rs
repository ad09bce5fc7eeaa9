//! `incus-ai snapshot`

use std::path::PathBuf;

use super::remote::RemoteArgs;
use super::{Context, Failure, exit};
use crate::cluster::{GatherOptions, gather};

/// Options of `snapshot`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub remote: RemoteArgs,
    /// Folder to write into [default: incus-ai's notes folder, indexed as `local`]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

fn now_utc() -> String {
    let secs = crate::checks::support::now();
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    // civil date from days (the inverse of support::parse_time)
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

pub async fn run(ctx: &Context, args: &Args) -> Result<u8, Failure> {
    let client = args.remote.client()?;
    let state = gather(&client, &GatherOptions::default()).await?;
    let text = crate::snapshot::render(&state, &now_utc());
    let dir = args.out.clone().unwrap_or_else(|| ctx.data.notes());
    std::fs::create_dir_all(&dir).map_err(|e| {
        Failure::new(
            exit::FAILURE,
            format!("cannot create {}: {e}", dir.display()),
        )
    })?;
    let name: String = state
        .remote
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = dir.join(format!("installation-{name}.md"));
    let tmp = dir.join(format!(".installation-{name}.md.tmp"));
    std::fs::write(&tmp, text)
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|e| {
            Failure::new(
                exit::FAILURE,
                format!("cannot write {}: {e}", path.display()),
            )
        })?;
    if !ctx.quiet {
        println!(
            "wrote {} ({} API requests); the next refresh indexes it as local notes",
            path.display(),
            state.requests
        );
    }
    Ok(exit::OK)
}
