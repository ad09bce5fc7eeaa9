//! One read of a remote for the ledger (through the application layer, as `doctor` and
//! `review` read): the doctor's checks and, when they are due, the review's rules, each
//! finding with its doc page, as redacted JSON.

use serde_json::Value;

use super::Remote;
use super::ledger::Read;
use crate::diagnosis::checks::Settings;
use crate::diagnosis::review;

/// Reads `remote` once with the checks' `settings`; `with_review`: the review's rules run too.
pub async fn remote(remote: &Remote, settings: &Settings, with_review: bool) -> Read {
    let review_checks = review::ids().into_iter().map(str::to_string).collect();
    match crate::app::judge(&remote.client, settings, with_review, None).await {
        Ok(j) => {
            let complete = j.complete();
            let unreadable = j.state.errors.iter().map(|e| e.path.clone()).collect();
            let findings = j
                .faults
                .iter()
                .chain(&j.advice)
                .filter_map(|f| serde_json::to_value(f).ok())
                .map(|mut v: Value| {
                    crate::util::redact::json(&mut v);
                    v
                })
                .collect();
            Read {
                remote: remote.name.clone(),
                findings,
                review_checks,
                reviewed: with_review,
                complete,
                unreadable,
            }
        }
        // Nothing could be read: no verdict, nothing resolves.
        Err(e) => Read {
            remote: remote.name.clone(),
            findings: Vec::new(),
            review_checks,
            reviewed: false,
            complete: false,
            unreadable: vec![format!(
                "/1.0 ({})",
                crate::util::out::one_line(&e.to_string())
            )],
        },
    }
}
