//! How `incus-ai mcp --allow-changes` asks the client's user about a change: MCP elicitation
//! (a form with one yes/no field, default no). Before protocol 2026-07-28 the server sends the
//! elicitation request while the tool call waits ([`Elicit`]); from 2026-07-28 on it answers the
//! call with `input_required` and the client calls again with the answer ([`ask_in_rounds`],
//! [`Pending`]). A client that cannot ask its user gets every change refused.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rmcp::model::{
    ElicitRequest, ElicitRequestParams, ElicitationSchema, InputRequest, InputRequests,
    InputRequiredResult, InputResponses, ProtocolVersion,
};
use rmcp::service::RequestContext;
use rmcp::{Peer, RoleServer};

use crate::admin::Prepared;
use crate::admin::confirm::{ANSWER_TIMEOUT, Confirm, Decision};

/// Why a change is refused when the client cannot ask.
pub const NO_ELICITATION: &str =
    "the MCP client cannot ask its user (no elicitation support); changes need a person's yes";

/// The key of the one input request of a change.
const APPROVE: &str = "approve";

/// Most changes waiting for an answer at once.
const MAX_PENDING: usize = 16;

/// The user's answer to a change.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub struct Approval {
    /// true to run the change, false to leave everything as it is
    pub approve: bool,
}

rmcp::elicit_safe!(Approval);

/// How the user of this call's client can be asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asking {
    /// Protocol 2026-07-28 or later: `input_required`, then the call again with the answer.
    Rounds,
    /// An elicitation request while the call waits.
    Elicit,
    /// Not at all.
    Nobody,
}

impl Asking {
    /// What the client of this request declared.
    pub fn of(context: &RequestContext<RoleServer>) -> Asking {
        let can = context
            .client_capabilities()
            .is_some_and(|c| c.elicitation.is_some());
        let rounds = context
            .protocol_version()
            .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
        match (can, rounds) {
            (false, _) => Asking::Nobody,
            (true, true) => Asking::Rounds,
            (true, false) => Asking::Elicit,
        }
    }
}

fn message(preview: &str) -> String {
    format!("incus-ai wants to make this change:\n{preview}Run it?")
}

/// Asks through an elicitation request while the tool call waits (protocols before 2026-07-28).
pub struct Elicit(pub Peer<RoleServer>);

impl Confirm for Elicit {
    fn confirm<'a>(
        &'a self,
        preview: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Decision> + Send + 'a>> {
        Box::pin(async move {
            use rmcp::service::ElicitationError as E;
            match self
                .0
                .elicit_with_timeout::<Approval>(message(preview), Some(ANSWER_TIMEOUT))
                .await
            {
                Ok(Some(a)) if a.approve => Decision::Approved,
                Ok(_) => Decision::Declined("the user did not approve it".into()),
                Err(E::UserDeclined) => Decision::Declined("the user declined".into()),
                Err(E::UserCancelled) => Decision::Declined("the user cancelled".into()),
                Err(E::CapabilityNotSupported) => Decision::Refused(NO_ELICITATION.into()),
                Err(e) => Decision::Refused(format!("the user could not be asked: {e}")),
            }
        })
    }
}

/// The `input_required` answer to a change tool call, without its request state yet (`None`
/// if the form could not be built).
pub fn ask_in_rounds(preview: &str) -> Option<Form> {
    let schema = ElicitationSchema::from_type::<Approval>().ok()?;
    let mut requests = InputRequests::new();
    requests.insert(
        APPROVE.to_string(),
        InputRequest::Elicitation(ElicitRequest::new(
            ElicitRequestParams::FormElicitationParams {
                meta: None,
                message: message(preview),
                requested_schema: schema,
            },
        )),
    );
    Some(Form(requests))
}

/// The form of [`ask_in_rounds`].
pub struct Form(InputRequests);

impl Form {
    /// The `input_required` result naming the kept change.
    pub fn with_state(self, state: String) -> InputRequiredResult {
        InputRequiredResult::new(Some(self.0), Some(state))
    }
}

/// What the client answered in the second round: only an accepted form with `approve: true`
/// is a yes.
pub fn answer(responses: Option<&InputResponses>) -> Decision {
    let Some(r) = responses.and_then(|r| r.get(APPROVE)) else {
        return Decision::Declined("no answer from the user".into());
    };
    match r["action"].as_str() {
        Some("accept") if r["content"]["approve"] == true => Decision::Approved,
        Some("accept") => Decision::Declined("the user did not approve it".into()),
        Some("cancel") => Decision::Declined("the user cancelled".into()),
        _ => Decision::Declined("the user declined".into()),
    }
}

/// Changes waiting for the second round, under unguessable request states; each waits at
/// most [`ANSWER_TIMEOUT`].
#[derive(Default)]
pub struct Pending {
    kept: HashMap<String, (Instant, &'static str, Prepared)>,
}

/// 128 random bits from the kernel, in hex.
fn random_id() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_nanos();
        bytes.copy_from_slice(&t.to_le_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Pending {
    /// Keeps a prepared change; returns its request state.
    pub fn keep(&mut self, tool: &'static str, prepared: Prepared) -> String {
        self.kept
            .retain(|_, (at, _, _)| at.elapsed() < ANSWER_TIMEOUT);
        if self.kept.len() >= MAX_PENDING
            && let Some(oldest) = self
                .kept
                .iter()
                .min_by_key(|(_, (at, _, _))| *at)
                .map(|(k, _)| k.clone())
        {
            self.kept.remove(&oldest);
        }
        let id = random_id();
        self.kept
            .insert(id.clone(), (Instant::now(), tool, prepared));
        id
    }

    /// The change kept under `state`, once.
    pub fn take(&mut self, state: &str) -> Option<(&'static str, Prepared)> {
        let (at, tool, prepared) = self.kept.remove(state)?;
        (at.elapsed() < ANSWER_TIMEOUT).then_some((tool, prepared))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_an_accepted_yes_approves() {
        let r = |v: serde_json::Value| InputResponses::from([(APPROVE.to_string(), v)]);
        assert_eq!(
            answer(Some(&r(
                json!({"action": "accept", "content": {"approve": true}})
            ))),
            Decision::Approved
        );
        for no in [
            json!({"action": "accept", "content": {"approve": false}}),
            json!({"action": "accept", "content": {"approve": "true"}}),
            json!({"action": "decline"}),
            json!({"action": "cancel"}),
            json!({}),
        ] {
            assert!(
                matches!(answer(Some(&r(no.clone()))), Decision::Declined(_)),
                "{no}"
            );
        }
        assert!(matches!(answer(None), Decision::Declined(_)));
        let asked = ask_in_rounds("  incus stop c1\n")
            .unwrap()
            .with_state("s".into());
        let v = serde_json::to_value(&asked).unwrap();
        assert_eq!(v["resultType"], "input_required");
        assert_eq!(
            v["inputRequests"][APPROVE]["params"]["requestedSchema"]["properties"]["approve"]["type"],
            "boolean"
        );
    }
}
