//! The notes: each transition appended to `<notes>/incidents-<remote>.md`, which the next
//! refresh indexes in the `local` collection, so `ask` and `aichat --rag incus-local` know
//! what happened and when.

use std::io::Write;
use std::path::Path;

use crate::watch::ledger::{Status, Transition};
use crate::watch::outbox::Delivery;

/// The notes file of `remote` in `dir`.
pub fn file(dir: &Path, remote: &str) -> std::path::PathBuf {
    let name = crate::util::text::file_safe(remote);
    dir.join(format!("incidents-{name}.md"))
}

/// The markdown of one transition.
pub fn entry(t: &Transition) -> String {
    let f = &t.finding;
    let when = match t.status {
        Status::Firing => t.started_at.clone(),
        Status::Resolved => t.ended_at.clone().unwrap_or_default(),
    };
    let mut out = format!(
        "## {when}: {} {} {}\n\n{}\n\n- Check `{}` on {} ({}), {}{}.\n",
        t.status.as_str(),
        f["id"].as_str().unwrap_or_default(),
        f["subject"].as_str().unwrap_or_default(),
        crate::util::out::one_line(f["title"].as_str().unwrap_or_default()),
        f["id"].as_str().unwrap_or_default(),
        t.remote,
        f["severity"].as_str().unwrap_or_default(),
        if t.review { "advice" } else { "fault" },
        match t.status {
            Status::Firing => String::new(),
            Status::Resolved => format!(", it had fired since {}", t.started_at),
        },
    );
    if let Some(n) = &t.note {
        out.push_str(&format!("- Note: {n}.\n"));
    }
    if t.status == Status::Firing {
        if let Some(x) = f["explanation"].as_str().filter(|x| !x.is_empty()) {
            out.push_str(&format!("- Why: {}\n", crate::util::out::one_line(x)));
        }
        for c in f["fix"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str())
        {
            out.push_str(&format!("- Fix: `{}`\n", crate::util::out::one_line(c)));
        }
        if let Some(u) = f["docs"][0]["url"].as_str() {
            out.push_str(&format!("- Docs: <{u}>\n"));
        }
    }
    out.push('\n');
    out
}

/// Appends `t` to its remote's notes file in `dir`.
pub fn append(dir: &Path, t: &Transition) -> Delivery {
    let path = file(dir, &t.remote);
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let new = !path.exists();
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        let mut text = String::new();
        if new {
            text.push_str(&format!(
                "# Incidents on {} (recorded by incus-ai watch)\n\nWhat fired and when it was resolved, newest last.\n\n",
                t.remote
            ));
        }
        text.push_str(&entry(t));
        f.write_all(text.as_bytes())?;
        f.sync_data()
    };
    match write() {
        Ok(()) => Delivery::Done,
        Err(e) => Delivery::Retry(format!("{}: {e}", path.display())),
    }
}
