//! The Approve and Deny buttons of an approval card: what we put in them and how a click
//! is read back.

use warroom_commands::IncidentId;

use super::payloads::{BlockAction, PayloadError};

pub const APPROVE_ACTION_ID: &str = "warroom_approve";
pub const DENY_ACTION_ID: &str = "warroom_deny";
/// The Acknowledge button of a page; its value is the incident id.
pub const ACK_ACTION_ID: &str = "warroom_ack";
/// The actions block holding both buttons.
pub const APPROVAL_BLOCK_ID: &str = "warroom_approval";
/// Block Kit's limit for a button's value.
pub const MAX_VALUE_CHARS: usize = 2000;
/// Request ids are short (`R1`); anything longer did not come from us.
const MAX_REQUEST_CHARS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Deny,
}

/// A click on one of our buttons: who decided what is in the payload's `user_id`, not here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalClick {
    pub decision: Decision,
    pub incident: IncidentId,
    pub request: String,
}

/// The value both buttons carry: `{incident}/{request}`.
pub fn button_value(incident: &IncidentId, request: &str) -> String {
    format!("{}/{request}", incident.as_str())
}

/// Reads a click back: `Ok(None)` when the element is not one of our buttons.
///
/// Guarantees: an `ApprovalClick` names a well-formed incident id and request id.
/// Caveat: the value only says which request the clicked card was about; it grants nothing.
/// The clicking user must still be mapped to a person and authorized, and the request
/// looked up and checked to be open, before the click counts.
pub fn approval_click(action: &BlockAction) -> Result<Option<ApprovalClick>, PayloadError> {
    let decision = match action.action_id.as_str() {
        APPROVE_ACTION_ID => Decision::Approve,
        DENY_ACTION_ID => Decision::Deny,
        _ => return Ok(None),
    };
    let bad = |reason: &str| PayloadError {
        what: "approval button",
        at: "actions[0].value".into(),
        reason: reason.into(),
    };
    let value = action.value.as_deref().ok_or_else(|| bad("missing"))?;
    let (incident, request) = value
        .split_once('/')
        .ok_or_else(|| bad("expected `<incident>/<request>`"))?;
    let incident: IncidentId = incident
        .parse()
        .map_err(|_| bad("not an incident id before the `/`"))?;
    let well_formed = !request.is_empty()
        && request.chars().count() <= MAX_REQUEST_CHARS
        && request
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !well_formed {
        return Err(bad("not a request id after the `/`"));
    }
    Ok(Some(ApprovalClick {
        decision,
        incident,
        request: request.to_owned(),
    }))
}

/// Reads a click on a page's Acknowledge button: `Ok(None)` when it is another element.
/// Like approvals, the value only names the incident; the clicking user acknowledges.
pub fn ack_click(action: &BlockAction) -> Result<Option<IncidentId>, PayloadError> {
    if action.action_id != ACK_ACTION_ID {
        return Ok(None);
    }
    action
        .value
        .as_deref()
        .and_then(|v| v.parse().ok())
        .map(Some)
        .ok_or_else(|| PayloadError {
            what: "acknowledge button",
            at: "actions[0].value".into(),
            reason: "not an incident id".into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_buttons_carry_the_incident_and_nothing_else_counts() {
        let id = ack_click(&action(ACK_ACTION_ID, Some("INC-20261127-0001")))
            .unwrap()
            .unwrap();
        assert_eq!(id.as_str(), "INC-20261127-0001");
        assert_eq!(
            ack_click(&action(APPROVE_ACTION_ID, Some("x"))).unwrap(),
            None
        );
        assert!(ack_click(&action(ACK_ACTION_ID, Some("R1"))).is_err());
        assert!(ack_click(&action(ACK_ACTION_ID, None)).is_err());
    }

    fn action(action_id: &str, value: Option<&str>) -> BlockAction {
        BlockAction {
            action_id: action_id.into(),
            block_id: APPROVAL_BLOCK_ID.into(),
            value: value.map(str::to_owned),
        }
    }

    #[test]
    fn our_buttons_round_trip() {
        let id: IncidentId = "INC-20261127-0001".parse().unwrap();
        let value = button_value(&id, "R1");
        assert_eq!(value, "INC-20261127-0001/R1");
        assert_eq!(
            approval_click(&action(DENY_ACTION_ID, Some(&value))),
            Ok(Some(ApprovalClick {
                decision: Decision::Deny,
                incident: id,
                request: "R1".into()
            }))
        );
    }

    #[test]
    fn other_elements_are_not_ours_and_bad_values_are_refused() {
        assert_eq!(approval_click(&action("something_else", None)), Ok(None));
        for bad in [
            None,
            Some(""),
            Some("INC-20261127-0001"),
            Some("INC-20261127-0001/"),
            Some("nonsense/R1"),
            Some("INC-20261127-0001/R1 extra"),
            Some("INC-20261127-0001/R1/R2"),
        ] {
            assert!(
                approval_click(&action(APPROVE_ACTION_ID, bad)).is_err(),
                "{bad:?}"
            );
        }
    }
}
