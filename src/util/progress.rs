//! Progress bars on a terminal, nothing otherwise (cron, pipes, `--quiet`).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar that draws only when stderr is a terminal and output is not quiet.
#[derive(Clone)]
pub struct Progress(ProgressBar);

impl Progress {
    /// A bar for `what`; hidden when `quiet` or when stderr is not a terminal.
    pub fn new(what: &str, quiet: bool) -> Self {
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(Some(0), target);
        bar.set_style(
            ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len} {elapsed}")
                .expect("static template")
                .progress_chars("=> "),
        );
        bar.set_message(what.to_string());
        Progress(bar)
    }

    /// A bar that never draws.
    pub fn hidden() -> Self {
        Progress::new("", true)
    }

    /// Sets the total.
    pub fn set_length(&self, n: u64) {
        self.0.set_length(n);
    }

    /// Grows the total.
    pub fn inc_length(&self, n: u64) {
        self.0.inc_length(n);
    }

    /// Advances.
    pub fn inc(&self, n: u64) {
        self.0.inc(n);
    }

    /// Removes the bar from the terminal.
    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}
