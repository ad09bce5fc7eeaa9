//! One read of a remote for the ledger: the doctor's checks (the review's rules when they are
//! due) on one gathered cluster state, each finding with its doc page, as redacted JSON.

use serde_json::Value;

use super::Remote;
use super::ledger::Read;
use crate::diagnosis::checks::Settings;
use crate::diagnosis::cluster::{GatherOptions, gather};
use crate::diagnosis::{doctor, review};

/// Reads `remote` once; `with_review`: the review's rules run too.
pub async fn remote(remote: &Remote, with_review: bool) -> Read {
    let review_checks = review::ids().into_iter().map(str::to_string).collect();
    let opts = GatherOptions {
        review: with_review,
        ..GatherOptions::default()
    };
    match gather(&remote.client, &opts).await {
        Ok(st) => {
            let mut findings = doctor::diagnose(&st, Settings::default(), None);
            if with_review {
                findings.extend(review::review(&st, None));
            }
            doctor::attach_docs(&mut findings, None, &doctor::docs_base(None, Some(&st)));
            let findings = findings
                .iter()
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
                complete: st.errors.is_empty() && st.database_unavailable.is_none(),
                unreadable: st.errors.iter().map(|e| e.path.clone()).collect(),
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
