//! `incus-ai ask`: a tool-calling agent that diagnoses from live state and the docs.
//!
//! The first message carries a compact health snapshot (the doctor's findings), so that even a
//! model that calls tools badly can answer the common questions. The loop is bounded: a step
//! limit, the same call repeated is refused with a note, tool output is truncated with a
//! marker, and a token budget ends the tool calls; the model is told what was cut. Without a
//! model (or with the endpoint down) the answer comes from the checks and the docs alone.

pub mod aichat_agent;
pub mod anonymize;
pub mod llm;
pub mod mcp;
pub mod mcp_confirm;
pub mod mcp_http;
pub mod tools;

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::{Value, json};

use crate::agent::anonymize::Anonymizer;
use crate::diagnosis::checks::Finding;
use crate::diagnosis::doctor::{attach_docs, concerns_member, diagnose};
use crate::knowledge::index::Scope;
use llm::{Llm, LlmError};
use tools::Toolbox;

/// The system prompt.
pub const SYSTEM_PROMPT: &str = include_str!("../../prompts/agent-system.md");

/// Limits of one question.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Tool-calling rounds before the model must answer.
    pub max_steps: usize,
    /// Rough token budget (characters / 4) of everything sent for one question.
    pub token_budget: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_steps: 8,
            token_budget: 32_000,
        }
    }
}

/// One tool call as it happened.
#[derive(Debug, Clone, Serialize)]
pub struct CallRecord {
    /// Tool.
    pub tool: String,
    /// Arguments as the model sent them.
    pub arguments: String,
    /// Refused as a repeat, or not run because of the budget.
    pub refused: bool,
    /// The output was cut.
    pub truncated: bool,
}

/// An answer.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    /// Who answered.
    pub mode: AnswerMode,
    /// Why no model answered (with [`AnswerMode::ChecksAndDocs`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why_no_model: Option<String>,
    /// The answer text.
    pub answer: String,
    /// Tool calls made.
    pub tool_calls: Vec<CallRecord>,
    /// Model turns.
    pub steps: usize,
    /// What was cut or stopped, as told to the model.
    pub notes: Vec<String>,
    /// Findings about the subject of the question.
    pub findings: Vec<Finding>,
    /// Doc sections for the question.
    pub docs: Vec<crate::diagnosis::checks::DocLink>,
}

/// Who wrote an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnswerMode {
    /// The model, with the tools.
    Llm,
    /// The checks and the docs, without a model.
    ChecksAndDocs,
}

/// Names a question is about: members and instances of the cluster mentioned in it.
fn subjects<'a>(
    question: &str,
    toolbox_state: Option<&'a crate::diagnosis::cluster::ClusterState>,
) -> Vec<&'a str> {
    let Some(st) = toolbox_state else {
        return Vec::new();
    };
    let words: BTreeSet<&str> = question
        .split(|c: char| !c.is_alphanumeric() && c != '-' && c != '_' && c != '.')
        .filter(|w| !w.is_empty())
        .collect();
    st.members
        .iter()
        .map(|m| m.server_name.as_str())
        .chain(st.instances.iter().map(|i| i.name.as_str()))
        .filter(|n| words.contains(n))
        .collect()
}

/// The compact health snapshot of the first message.
fn snapshot(findings: &[Finding]) -> Value {
    json!(findings
        .iter()
        .map(|f| json!({
            "check": f.id, "severity": f.severity, "subject": f.subject, "project": f.project, "title": f.title,
            "evidence": f.evidence.iter().map(|e| format!("{} {} = {}", e.endpoint, e.field, e.value)).collect::<Vec<_>>(),
            "docs": f.docs.iter().map(|d| d.url.clone()).collect::<Vec<_>>(),
            "fix": f.fix,
        }))
        .collect::<Vec<_>>())
}

fn estimate_tokens(messages: &[Value]) -> usize {
    messages.iter().map(|m| m.to_string().len()).sum::<usize>() / 4
}

/// A conversation with the agent (several questions in interactive mode).
pub struct Session {
    toolbox: Toolbox,
    llm: Option<Llm>,
    limits: Limits,
    anonymizer: Option<Anonymizer>,
    history: Vec<Value>,
}

impl Session {
    /// A session; `anonymize` masks names and addresses in everything sent to the model.
    pub fn new(toolbox: Toolbox, llm: Option<Llm>, limits: Limits, anonymize: bool) -> Session {
        Session {
            toolbox,
            llm,
            limits,
            anonymizer: anonymize.then(Anonymizer::default),
            history: vec![json!({"role": "system", "content": SYSTEM_PROMPT})],
        }
    }

    /// Whether a model is configured.
    pub fn has_llm(&self) -> bool {
        self.llm.is_some()
    }

    fn mask(&mut self, text: &str) -> String {
        match &mut self.anonymizer {
            Some(a) => a.mask(text),
            None => text.to_string(),
        }
    }

    fn unmask(&self, text: &str) -> String {
        match &self.anonymizer {
            Some(a) => a.unmask(text),
            None => text.to_string(),
        }
    }

    async fn findings_and_docs(
        &mut self,
        question: &str,
    ) -> (
        Vec<Finding>,
        Vec<crate::diagnosis::checks::DocLink>,
        Option<String>,
    ) {
        let improve = asks_to_improve(question);
        let settings = self.toolbox.check_settings().clone();
        let state = if improve {
            self.toolbox.review_state().await
        } else {
            self.toolbox.state().await
        };
        let (mut findings, note) = match state {
            Ok(st) => {
                let subj: Vec<String> = subjects(question, Some(st))
                    .into_iter()
                    .map(str::to_string)
                    .collect();
                let mut f = diagnose(st, settings.clone(), None);
                // "How can I make my cluster more robust?": the review answers that.
                if improve {
                    f.extend(crate::diagnosis::review::review(st, None, &settings));
                }
                if !subj.is_empty() {
                    f.retain(|x| subj.iter().any(|s| concerns_member(x, s)));
                }
                if let Some(a) = &mut self.anonymizer {
                    for m in &st.members {
                        a.name("member", &m.server_name);
                    }
                    for i in &st.instances {
                        a.name("instance", &i.name);
                        a.name("project", &i.project);
                    }
                    for n in &st.networks {
                        a.name("network", &n.name);
                    }
                    for p in &st.pools {
                        a.name("pool", &p.name);
                    }
                }
                // Unread endpoints are not health: say that the checks are incomplete.
                let note = crate::diagnosis::cluster::EndpointError::summary(&st.errors)
                    .map(|s| format!("the checks are incomplete: {s}"));
                (f, note)
            }
            Err(e) => (
                Vec::new(),
                Some(format!("the cluster could not be read: {e}")),
            ),
        };
        let base = crate::diagnosis::doctor::docs_base(
            self.toolbox.searcher(),
            self.toolbox.cached_state(),
        );
        attach_docs(&mut findings, self.toolbox.searcher(), &base);
        let docs = self
            .toolbox
            .searcher()
            .and_then(|s| s.search(question, Scope::All, 3).ok())
            .unwrap_or_default()
            .into_iter()
            .map(|h| crate::diagnosis::checks::DocLink {
                title: h.section,
                url: h.url,
            })
            .collect();
        (findings, docs, note)
    }

    /// Answers one question. Text is streamed to `on_text` as the model produces it.
    pub async fn ask(&mut self, question: &str, on_text: &mut dyn FnMut(&str)) -> Answer {
        self.toolbox.begin_question(question);
        let (findings, docs, read_note) = self.findings_and_docs(question).await;
        let Some(llm) = self.llm.take() else {
            return fallback(
                question,
                findings,
                docs,
                read_note,
                "no LLM is configured ([llm] in the config file, or --model CLIENT:MODEL)",
            );
        };
        let result = self
            .run_llm(&llm, question, &findings, read_note.clone(), on_text)
            .await;
        self.llm = Some(llm);
        match result {
            Ok(mut a) => {
                a.findings = findings;
                a.docs = docs;
                a
            }
            Err(e) => fallback(question, findings, docs, read_note, &e.to_string()),
        }
    }

    async fn run_llm(
        &mut self,
        llm: &Llm,
        question: &str,
        findings: &[Finding],
        read_note: Option<String>,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Answer, LlmError> {
        let mut snap = snapshot(findings);
        crate::util::redact::json(&mut snap);
        let first = format!(
            "Health snapshot from incus-ai's checks ({} finding(s){}):\n{}\n\nQuestion: {question}",
            findings.len(),
            read_note.map(|n| format!("; {n}")).unwrap_or_default(),
            tools::fence(
                "health_snapshot",
                &serde_json::to_string_pretty(&snap).unwrap_or_default()
            )
        );
        let first = self.mask(&first);
        let start = self.history.len();
        self.history.push(json!({"role": "user", "content": first}));
        let specs: Vec<Value> = tools::openai_functions(self.toolbox.changes_offered());
        let mut records: Vec<CallRecord> = Vec::new();
        let mut notes = Vec::new();
        let mut seen: Vec<(String, Value)> = Vec::new();
        let stream = self.anonymizer.is_none();
        let mut steps = 0;
        let answer = loop {
            steps += 1;
            let over_budget = estimate_tokens(&self.history[start..]) > self.limits.token_budget;
            let last_step = steps > self.limits.max_steps;
            if over_budget || last_step {
                let note = if over_budget {
                    format!(
                        "token budget of about {} reached: no more tool calls; answer now with what you have",
                        self.limits.token_budget
                    )
                } else {
                    format!(
                        "step limit of {} tool rounds reached: answer now with what you have",
                        self.limits.max_steps
                    )
                };
                notes.push(note.clone());
                self.history
                    .push(json!({"role": "user", "content": format!("[incus-ai: {note}]")}));
            }
            let offered: &[Value] = if over_budget || last_step {
                &[]
            } else {
                &specs
            };
            let mut sink = |t: &str| on_text(t);
            let reply = llm
                .chat(
                    &self.history,
                    offered,
                    if stream { Some(&mut sink) } else { None },
                )
                .await?;
            if reply.tool_calls.is_empty() || offered.is_empty() {
                self.history
                    .push(json!({"role": "assistant", "content": reply.content}));
                break reply.content;
            }
            self.history.push(json!({
                "role": "assistant",
                "content": if reply.content.is_empty() { Value::Null } else { json!(reply.content) },
                "tool_calls": reply.tool_calls.iter().map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}})).collect::<Vec<_>>(),
            }));
            self.run_calls(&reply.tool_calls, &mut seen, &mut records, &mut notes)
                .await;
        };
        let answer = self.unmask(&answer);
        if !stream {
            on_text(&answer);
        }
        Ok(Answer {
            mode: AnswerMode::Llm,
            why_no_model: None,
            answer,
            tool_calls: records,
            steps,
            notes,
            findings: Vec::new(),
            docs: Vec::new(),
        })
    }
}

impl Session {
    /// Runs the model's tool calls (a repeated identical call is refused) and adds their
    /// results to the history.
    async fn run_calls(
        &mut self,
        calls: &[llm::ToolCall],
        seen: &mut Vec<(String, Value)>,
        records: &mut Vec<CallRecord>,
        notes: &mut Vec<String>,
    ) {
        for call in calls {
            let args: Value =
                serde_json::from_str(&self.unmask(&call.arguments)).unwrap_or(Value::Null);
            let key = (call.name.clone(), args.clone());
            let (output, refused, truncated) = match seen.iter().position(|k| *k == key) {
                Some(i) => (
                    format!(
                        "refused: this exact call ({} {}) was already made; use its result above (call {} of this question)",
                        call.name,
                        call.arguments.chars().take(200).collect::<String>(),
                        i + 1
                    ),
                    true,
                    false,
                ),
                None => {
                    seen.push(key);
                    let out = self.toolbox.call_output(&call.name, &args).await;
                    (out.text, false, out.truncated)
                }
            };
            if truncated {
                notes.push(format!("output of {} was truncated", call.name));
            }
            records.push(CallRecord {
                tool: call.name.clone(),
                arguments: call.arguments.chars().take(500).collect(),
                refused,
                truncated,
            });
            let output = self.mask(&output);
            self.history
                .push(json!({"role": "tool", "tool_call_id": call.id, "content": output}));
        }
    }
}

/// Whether the question asks how to make things better rather than what is wrong (then the
/// `review` rules answer too).
fn asks_to_improve(question: &str) -> bool {
    const WORDS: &[&str] = &[
        "improve",
        "robust",
        "resilien",
        "best practice",
        "harden",
        "recommend",
        "review",
        "more reliable",
        "reliab",
        "redundan",
        "failover",
        "fail over",
        "production",
        "safer",
        "more secure",
        "better",
        "weakness",
        "single point",
    ];
    let q = question.to_lowercase();
    WORDS.iter().any(|w| q.contains(w))
}

/// The answer without a model: the findings about the question's subject and the best doc
/// sections for it.
fn fallback(
    question: &str,
    findings: Vec<Finding>,
    docs: Vec<crate::diagnosis::checks::DocLink>,
    read_note: Option<String>,
    why: &str,
) -> Answer {
    let mut text = String::new();
    if let Some(n) = &read_note {
        text.push_str(&format!("Note: {n}.\n"));
    }
    if findings.is_empty() && read_note.is_some() {
        text.push_str(
            "\nThe checks could not read the whole cluster, so they cannot say that nothing is wrong.\n",
        );
    } else if findings.is_empty() {
        text.push_str("\nThe checks found nothing wrong that concerns the question.\n");
    } else {
        text.push_str("\nFindings:\n");
        for f in &findings {
            text.push_str(&f.render_text());
        }
    }
    if !docs.is_empty() {
        text.push_str(&format!("\nDocumentation for \"{question}\":\n"));
        for d in &docs {
            text.push_str(&format!("- {} <{}>\n", d.title, d.url));
        }
    }
    Answer {
        mode: AnswerMode::ChecksAndDocs,
        why_no_model: Some(format!("{why}; answering from the checks and the docs")),
        answer: text,
        tool_calls: Vec::new(),
        steps: 0,
        notes: vec![why.to_string()],
        findings,
        docs,
    }
}
