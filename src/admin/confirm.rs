//! Asking a person. A change runs only on a "yes" typed on the terminal (`/dev/tty`, never
//! stdin, the model or the config file), one question per change, default No. No terminal,
//! any other answer, Ctrl-C, end of input or the time running out: not run.

use std::future::Future;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a question waits for its answer.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);

/// Whether a question is on the terminal now (Ctrl-C then declines it).
static ASKING: AtomicBool = AtomicBool::new(false);
/// When the last question ended, in milliseconds since [`EPOCH`]: the Ctrl-C that ended it
/// reaches the watcher too, a moment later.
static LAST_ENDED: AtomicU64 = AtomicU64::new(0);
static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

fn millis() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// Ctrl-C outside a question ends the process as it would without incus-ai's questions
/// (exit 130): once a question has watched for Ctrl-C, the process keeps receiving it. Call
/// once, from a runtime, in commands that may ask.
pub fn exit_on_interrupt_outside_questions() {
    let Ok(mut interrupt) =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
    else {
        return;
    };
    millis();
    tokio::spawn(async move {
        while interrupt.recv().await.is_some() {
            let ended = LAST_ENDED.load(Ordering::SeqCst);
            let just_asked = ended > 0 && millis().saturating_sub(ended) < 1000;
            if !ASKING.load(Ordering::SeqCst) && !just_asked {
                std::process::exit(130);
            }
        }
    });
}

/// Marks a question on the terminal for as long as it lives.
struct Asking;

impl Asking {
    fn start() -> Asking {
        ASKING.store(true, Ordering::SeqCst);
        Asking
    }
}

impl Drop for Asking {
    fn drop(&mut self) {
        LAST_ENDED.store(millis().max(1), Ordering::SeqCst);
        ASKING.store(false, Ordering::SeqCst);
    }
}

/// What the person decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// They typed yes.
    Approved,
    /// They said no (or anything but yes, Ctrl-C, end of input, no answer in time).
    Declined(String),
    /// Nobody could be asked.
    Refused(String),
}

/// Something that can ask a person about a change.
pub trait Confirm: Send + Sync {
    /// Shows `preview` and asks whether to run it.
    fn confirm<'a>(
        &'a self,
        preview: &'a str,
    ) -> Pin<Box<dyn Future<Output = Decision> + Send + 'a>>;
}

/// Asks on the controlling terminal.
#[derive(Debug, Clone)]
pub struct Terminal {
    /// How long to wait for the answer.
    pub timeout: Duration,
}

impl Default for Terminal {
    fn default() -> Self {
        Terminal {
            timeout: ANSWER_TIMEOUT,
        }
    }
}

/// Never asks: every change is refused with the reason given.
#[derive(Debug, Clone)]
pub struct Nobody(pub String);

impl Confirm for Nobody {
    fn confirm<'a>(&'a self, _: &'a str) -> Pin<Box<dyn Future<Output = Decision> + Send + 'a>> {
        Box::pin(async move { Decision::Refused(self.0.clone()) })
    }
}

/// What an answer means: only `y` or `yes` (any case) is a yes.
pub fn interpret(answer: &str) -> Decision {
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Decision::Approved,
        "" => Decision::Declined("answered with Enter (the default is No)".into()),
        other => Decision::Declined(format!(
            "answered {:?}",
            other.chars().take(20).collect::<String>()
        )),
    }
}

impl Confirm for Terminal {
    fn confirm<'a>(
        &'a self,
        preview: &'a str,
    ) -> Pin<Box<dyn Future<Output = Decision> + Send + 'a>> {
        Box::pin(async move {
            let tty = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
                .open("/dev/tty");
            let mut tty = match tty {
                Ok(t) => t,
                Err(e) => {
                    return Decision::Refused(format!(
                        "no terminal to ask on (/dev/tty: {e}); changes run only after a person's yes on a terminal"
                    ));
                }
            };
            let _asking = Asking::start();
            // Ctrl-C during the question declines it (registered before the question shows).
            let mut interrupt =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()) {
                    Ok(s) => s,
                    Err(e) => return Decision::Refused(format!("cannot watch for Ctrl-C: {e}")),
                };
            // Whatever was typed before the question cannot answer it.
            let mut junk = [0u8; 256];
            while matches!(tty.read(&mut junk), Ok(n) if n > 0) {}
            // Whatever reaches the terminal before the question carries no terminal controls.
            let question = crate::util::out::clean(&format!(
                "\nincus-ai wants to make this change:\n{preview}Run it? [y/N] "
            ))
            .into_owned();
            if tty
                .write_all(question.as_bytes())
                .and_then(|_| tty.flush())
                .is_err()
            {
                return Decision::Refused("cannot write to the terminal".into());
            }
            let started = Instant::now();
            let mut line = Vec::new();
            loop {
                let mut buf = [0u8; 64];
                match tty.read(&mut buf) {
                    Ok(0) => return Decision::Declined("no answer (end of input)".into()),
                    Ok(n) => {
                        line.extend_from_slice(&buf[..n]);
                        if line.contains(&b'\n') || line.len() > 200 {
                            let text = String::from_utf8_lossy(&line);
                            let first = text.lines().next().unwrap_or("");
                            return interpret(first);
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Decision::Declined(format!("the terminal failed: {e}")),
                }
                if started.elapsed() > self.timeout {
                    let _ = tty.write_all(b"\n(no answer in time: not run)\n");
                    return Decision::Declined(format!(
                        "no answer within {}s",
                        self.timeout.as_secs()
                    ));
                }
                tokio::select! {
                    _ = interrupt.recv() => {
                        let _ = tty.write_all(b"\n(interrupted: not run)\n");
                        return Decision::Declined("interrupted (Ctrl-C)".into());
                    }
                    _ = tokio::time::sleep(Duration::from_millis(40)) => {}
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_yes_is_yes() {
        assert_eq!(interpret("y\n"), Decision::Approved);
        assert_eq!(interpret(" YES "), Decision::Approved);
        for no in ["", "n", "no", "yes please", "ja", "\u{1b}[A", "1"] {
            assert!(matches!(interpret(no), Decision::Declined(_)), "{no:?}");
        }
    }

    #[tokio::test]
    async fn nobody_refuses() {
        let d = Nobody("no terminal".into()).confirm("x").await;
        assert_eq!(d, Decision::Refused("no terminal".into()));
    }
}
