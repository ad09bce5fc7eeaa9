//! Administration with a person's yes: a fixed catalogue of typed changes
//! ([`change::Change`]), each previewed as the `incus` command and the one REST request it
//! becomes ([`plan::Plan`]), asked about on the terminal ([`confirm`]), sent through the
//! separate write-capable client ([`writer::Writer`]) with `If-Match`, waited for, read back
//! and written down ([`audit`]). Nothing here is reachable without `--allow-changes`; the
//! diagnosis path keeps its GET-only client.

pub mod audit;
pub mod change;
pub mod confirm;
pub mod plan;
pub mod request;
pub mod writer;

use serde_json::{Value, json};

use audit::{Audit, Entry, RequestLine, Verdict};
use change::Change;
use confirm::{Confirm, Decision};
use plan::Plan;
use writer::{Sent, Writer};

/// Most changes proposed for one question: a model that calls change tools in a loop is
/// stopped, and a person is not asked a hundred times.
pub const MAX_CHANGES_PER_QUESTION: usize = 5;

/// A change read and ready for a person's decision.
#[derive(Debug)]
pub struct Prepared {
    /// What the person is shown (secrets removed).
    pub preview: String,
    plan: Plan,
    entry: Entry,
    secret: Option<String>,
}

/// What runs changes for a session: the writer, who is asked, where it is written down.
pub struct Changes {
    writer: Writer,
    confirm: Box<dyn Confirm>,
    audit: Audit,
    proposed: usize,
}

impl std::fmt::Debug for Changes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Changes")
            .field("writer", &self.writer)
            .finish()
    }
}

fn blank(text: &str, secret: Option<&str>) -> String {
    match secret.filter(|s| !s.is_empty()) {
        Some(s) => text.replace(s, crate::util::redact::REDACTED),
        None => text.to_string(),
    }
}

impl Changes {
    /// Changes through `writer`, asked about with `confirm`, written to `audit`.
    pub fn new(writer: Writer, confirm: Box<dyn Confirm>, audit: Audit) -> Changes {
        Changes {
            writer,
            confirm,
            audit,
            proposed: 0,
        }
    }

    /// The same writer and audit log for another session, asking with `confirm`.
    pub fn sibling(&self, confirm: Box<dyn Confirm>) -> Changes {
        Changes::new(self.writer.clone(), confirm, self.audit.clone())
    }

    /// Who is asked from now on (MCP asks through the client of each call).
    pub fn set_confirm(&mut self, confirm: Box<dyn Confirm>) {
        self.confirm = confirm;
    }

    /// A new question: its proposals are counted afresh.
    pub fn begin_question(&mut self) {
        self.proposed = 0;
    }

    fn record(&self, entry: &Entry, secret: Option<&str>) {
        if let Err(e) = self.audit.record(entry, secret) {
            tracing::warn!("{e}");
        }
    }

    /// Proposes one change: preview, question, and when a person says yes, the request, the
    /// wait and the check. What the model gets back says what happened (a decline is a
    /// result, not an error, so that it can answer sensibly).
    pub async fn propose(
        &mut self,
        question: &str,
        tool: &str,
        arguments: &Value,
        change: Change,
    ) -> Result<Value, String> {
        let prepared = self.prepare(question, tool, arguments, change).await?;
        let decision = self.confirm.confirm(&prepared.preview).await;
        self.decide(prepared, decision).await
    }

    /// The first half of [`Changes::propose`]: counts the proposal and reads what it touches.
    /// `Err` (written down) when it cannot be proposed.
    pub async fn prepare(
        &mut self,
        question: &str,
        tool: &str,
        arguments: &Value,
        change: Change,
    ) -> Result<Prepared, String> {
        if let Err(e) = self.audit.writable() {
            return Err(format!(
                "{e}; no change runs without being written down, nothing was changed"
            ));
        }
        let secret = change.secret().map(str::to_string);
        let mut entry = Entry::new(
            self.writer.remote(),
            question,
            tool,
            arguments,
            Verdict::Refused,
        );
        entry.command = Some(change.command());
        self.proposed += 1;
        if self.proposed > MAX_CHANGES_PER_QUESTION {
            let why = format!(
                "refused: at most {MAX_CHANGES_PER_QUESTION} changes may be proposed for one question; give the remaining commands in the answer instead"
            );
            entry.reason = Some(why.clone());
            self.record(&entry, secret.as_deref());
            return Err(why);
        }
        let plan = match Plan::new(&change, &self.writer).await {
            Ok(p) => p,
            Err(e) => {
                let why = blank(
                    &format!("the change cannot be prepared: {e}; nothing was changed"),
                    secret.as_deref(),
                );
                entry.error = Some(why.clone());
                self.record(&entry, secret.as_deref());
                return Err(why);
            }
        };
        entry.request = Some(RequestLine {
            method: plan.method.as_str().to_string(),
            path: plan.path.clone(),
            body: plan.body.clone(),
        });
        Ok(Prepared {
            preview: blank(
                &crate::util::redact::text(&plan.preview()),
                secret.as_deref(),
            ),
            plan,
            entry,
            secret,
        })
    }

    /// The second half of [`Changes::propose`]: runs a prepared change when `decision` is a
    /// yes; writes down what happened either way.
    pub async fn decide(
        &mut self,
        prepared: Prepared,
        decision: Decision,
    ) -> Result<Value, String> {
        let Prepared {
            plan,
            mut entry,
            secret,
            ..
        } = prepared;
        let secret = secret.as_deref();
        let command = blank(&plan.command, secret);
        let (verdict, word, why) = match decision {
            Decision::Approved => (Verdict::Approved, "", String::new()),
            Decision::Declined(why) => (Verdict::Declined, "declined", why),
            Decision::Refused(why) => (Verdict::Refused, "refused", why),
        };
        entry.decision = verdict;
        if verdict != Verdict::Approved {
            entry.reason = Some(why.clone());
            self.record(&entry, secret);
            return Ok(json!({
                "status": word,
                "command": command,
                "reason": why,
                "retryable": false,
                "note": "Nothing was changed. Do not call the tool again for this change; give the command in the answer so the admin can run it.",
            }));
        }
        let result = match self.run(&plan, &mut entry).await {
            Ok(seen) => {
                entry.result = Some(seen.clone());
                Ok(json!({
                    "status": "done",
                    "command": command,
                    "operation": entry.operation,
                    "verified": seen,
                }))
            }
            Err(e) => {
                let why = blank(&e.to_string(), secret);
                entry.error = Some(why.clone());
                Err(format!(
                    "the change was approved but did not succeed: {why}"
                ))
            }
        };
        self.record(&entry, secret);
        result
    }

    async fn run(&self, plan: &Plan, entry: &mut Entry) -> Result<String, writer::WriteError> {
        let sent = self
            .writer
            .send(
                plan.method,
                &plan.path,
                &plan.body,
                plan.if_match.as_deref(),
            )
            .await?;
        if let Sent::Operation(id) = &sent {
            entry.operation = Some(id.clone());
            self.writer.wait(id).await?;
        }
        plan.verify(&self.writer).await
    }
}
