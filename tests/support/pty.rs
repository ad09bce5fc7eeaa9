//! Running a command on a real pseudo-terminal (util-linux `script`), so that what it asks on
//! `/dev/tty` can be answered the way a person would; and running one with no terminal at all
//! (`setsid`: no controlling terminal, `/dev/tty` cannot be opened).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Run;

/// What a run on the terminal gave.
#[derive(Debug)]
pub struct PtyRun {
    /// Exit code.
    pub code: i32,
    /// Everything the terminal showed (stdout, stderr and the questions, with `\r\n`).
    pub screen: String,
    /// How many `[y/N]` questions were asked.
    pub questions: usize,
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The command line and environment of `cmd`, for `script -c` and `setsid`.
fn parts(cmd: &Command) -> (String, Vec<(String, String)>) {
    let mut line = shell_quote(&cmd.get_program().to_string_lossy());
    for a in cmd.get_args() {
        line.push(' ');
        line.push_str(&shell_quote(&a.to_string_lossy()));
    }
    let envs = cmd
        .get_envs()
        .filter_map(|(k, v)| {
            Some((
                k.to_string_lossy().into_owned(),
                v?.to_string_lossy().into_owned(),
            ))
        })
        .collect();
    (line, envs)
}

/// Runs `cmd` on a pseudo-terminal. Each time a `[y/N]` question appears, `answer(n)` (n from
/// 1) gives what to type (e.g. `"y\n"`, `"\u{3}"` for Ctrl-C); it may change the world first.
pub async fn run_on_pty(cmd: &Command, answer: impl FnMut(usize) -> String) -> PtyRun {
    run_on_pty_at(cmd, "[y/N]", answer).await
}

/// [`run_on_pty`], answering each time `marker` appears.
pub async fn run_on_pty_at(
    cmd: &Command,
    marker: &str,
    mut answer: impl FnMut(usize) -> String,
) -> PtyRun {
    let (line, envs) = parts(cmd);
    let mut child = tokio::process::Command::new("script")
        .args([
            "-qfec",
            &format!("stty cols 120 rows 40; exec {line}"),
            "/dev/null",
        ])
        .env_clear()
        .envs(envs)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("util-linux script");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut screen = String::new();
    let mut questions = 0;
    let mut cursor_queries = 0;
    let started = Instant::now();
    let mut buf = vec![0u8; 8192];
    loop {
        let read = tokio::time::timeout(Duration::from_secs(1), stdout.read(&mut buf)).await;
        match read {
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => screen.push_str(&String::from_utf8_lossy(&buf[..n])),
            Ok(Err(_)) => break,
            Err(_) => {}
        }
        // A terminal answers "where is the cursor?" (ESC [6n), as crossterm asks it.
        while screen.matches("\u{1b}[6n").count() > cursor_queries {
            cursor_queries += 1;
            let _ = stdin.write_all(b"\x1b[1;1R").await;
            let _ = stdin.flush().await;
        }
        while screen.matches(marker).count() > questions {
            questions += 1;
            let typed = answer(questions);
            // The command may have ended meanwhile (its question timed out): the assertions on
            // the screen say so.
            let _ = stdin.write_all(typed.as_bytes()).await;
            let _ = stdin.flush().await;
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "still running after 180 s:\n{screen}"
        );
    }
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("exits")
        .unwrap();
    PtyRun {
        code: status.code().unwrap_or(-1),
        screen,
        questions,
    }
}

/// Runs `cmd` in a new session without a controlling terminal, stdin empty.
pub async fn run_without_terminal(cmd: &Command) -> Run {
    run_without_terminal_fed(cmd, "").await
}

/// [`run_without_terminal`] with `input` piped to stdin.
pub async fn run_without_terminal_fed(cmd: &Command, input: &str) -> Run {
    let (line, envs) = parts(cmd);
    let mut child = tokio::process::Command::new("setsid")
        .args(["-w", "sh", "-c", &format!("exec {line}")])
        .env_clear()
        .envs(envs)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("setsid");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).await.unwrap();
    drop(stdin);
    child.wait_with_output().await.expect("setsid").into()
}
