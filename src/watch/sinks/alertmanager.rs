//! Alertmanager's API v2: `POST {url}/api/v2/alerts` with a list of alerts. Labels identify an
//! alert (`alertname` = the check, `severity`, `subject`, `remote`, `project` and `member` where
//! they apply, `source = incus-ai`); annotations carry the doctor's title, explanation,
//! evidence, fix commands and first doc link. Alertmanager forgets an alert that is not sent
//! again within its `resolve_timeout`, so the watch re-sends what fires every `resend_secs`;
//! a resolve sends `endsAt`.

use serde_json::{Value, json};

use crate::watch::ledger::{Status, Transition};
use crate::watch::outbox::Delivery;

/// Lines of a finding's list field (`fix`) or of its evidence.
fn lines(finding: &Value, field: &str) -> String {
    finding[field]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| match v {
            Value::String(s) => s.clone(),
            e => format!(
                "{} {} = {}",
                e["endpoint"].as_str().unwrap_or_default(),
                e["field"].as_str().unwrap_or_default(),
                e["value"]
                    .as_str()
                    .map_or_else(|| e["value"].to_string(), str::to_string)
            ),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The alert of a transition (a resolve carries `endsAt`).
pub fn alert(t: &Transition) -> Value {
    let f = &t.finding;
    let mut labels = json!({
        "alertname": f["id"].as_str().unwrap_or("incus-ai"),
        "severity": f["severity"].as_str().unwrap_or("moderate"),
        "subject": f["subject"].as_str().unwrap_or_default(),
        "remote": t.remote,
        "source": "incus-ai",
    });
    if let Some(p) = f["project"].as_str().filter(|p| !p.is_empty()) {
        labels["project"] = json!(p);
    }
    if let Some(m) = f["members"]
        .as_array()
        .and_then(|m| m.first())
        .and_then(Value::as_str)
    {
        labels["member"] = json!(m);
    }
    let mut a = json!({
        "labels": labels,
        "annotations": {
            "summary": f["title"].as_str().unwrap_or_default(),
            "description": f["explanation"].as_str().unwrap_or_default(),
            "evidence": lines(f, "evidence"),
            "fix": lines(f, "fix"),
            "docs": f["docs"][0]["url"].as_str().unwrap_or_default(),
        },
        "startsAt": t.started_at,
    });
    if let Some(n) = &t.note {
        a["annotations"]["note"] = json!(n);
    }
    if t.status == Status::Resolved
        && let Some(end) = &t.ended_at
    {
        a["endsAt"] = json!(end);
    }
    a
}

/// Sends `alerts` to the Alertmanager at `url`.
pub async fn post(http: &reqwest::Client, url: &str, alerts: &[Value]) -> Delivery {
    super::judge(
        http.post(format!("{url}/api/v2/alerts"))
            .json(alerts)
            .timeout(super::TIMEOUT)
            .send()
            .await,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_carry_the_doctors_evidence_fix_and_docs() {
        let t = Transition {
            id: "a".into(),
            transition: "a:resolved".into(),
            status: Status::Resolved,
            remote: "prod".into(),
            finding: json!({"id": "member-offline", "severity": "high", "subject": "cluster-member/m2",
                "members": ["m2"], "title": "m2 is offline", "explanation": "why",
                "evidence": [{"endpoint": "GET /1.0/cluster/members", "field": "status", "value": "Offline"}],
                "fix": ["incus cluster list"], "docs": [{"title": "t", "url": "https://docs/x"}]}),
            review: false,
            started_at: "2026-12-06T03:00:00Z".into(),
            ended_at: Some("2026-12-06T03:05:00Z".into()),
            note: None,
        };
        let a = alert(&t);
        assert_eq!(a["labels"]["alertname"], "member-offline");
        assert_eq!(a["labels"]["member"], "m2");
        assert_eq!(a["labels"]["source"], "incus-ai");
        assert!(a["labels"].get("project").is_none());
        assert_eq!(
            a["annotations"]["evidence"],
            "GET /1.0/cluster/members status = Offline"
        );
        assert_eq!(a["annotations"]["fix"], "incus cluster list");
        assert_eq!(a["annotations"]["docs"], "https://docs/x");
        assert_eq!(a["endsAt"], "2026-12-06T03:05:00Z");
    }
}
