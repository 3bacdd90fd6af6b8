//! What can happen in an incident: each timeline entry records one event.
//!
//! On the wire an event is split into `kind` (a dotted name) and `data` (an object), so that
//! an auditor's script can read the timeline without knowing every kind.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Severity;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", deny_unknown_fields)]
pub enum Event {
    #[serde(rename = "incident.opened")]
    IncidentOpened { title: String, severity: Severity },
    #[serde(rename = "incident.severity")]
    SeverityChanged { from: Severity, to: Severity },
    #[serde(rename = "incident.resolved")]
    Resolved { summary: String },
    #[serde(rename = "note")]
    Note { text: String },
    /// An artifact stored in the evidence store. The chain carries its digest, so an export
    /// proves which bytes were collected, by whom and under which approval.
    #[serde(rename = "evidence.recorded")]
    EvidenceRecorded {
        evidence_id: String,
        name: String,
        sha256: String,
        size: u64,
        location: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        approval: Option<String>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("timeline entry kind `{kind}` with data {data} is not understood: {reason}")]
    Unreadable {
        kind: String,
        data: String,
        reason: String,
    },
}

impl Event {
    /// Split into the `(kind, data)` pair stored in a timeline entry.
    pub fn to_parts(&self) -> (String, Value) {
        // Serialising a plain enum of strings and integers into a Value cannot fail.
        let mut value = serde_json::to_value(self).unwrap_or(Value::Null);
        let kind = value
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let data = value
            .as_object_mut()
            .and_then(|o| o.remove("data"))
            .unwrap_or(Value::Object(Default::default()));
        (kind, data)
    }

    pub fn from_parts(kind: &str, data: &Value) -> Result<Event, EventError> {
        let joined = serde_json::json!({ "kind": kind, "data": data });
        serde_json::from_value(joined).map_err(|e| EventError::Unreadable {
            kind: kind.to_string(),
            data: data.to_string(),
            reason: e.to_string(),
        })
    }

    /// One line for humans: the Markdown export and `incident show` use it.
    pub fn describe(&self) -> String {
        match self {
            Event::IncidentOpened { title, severity } => {
                format!("Incident opened ({severity}): {title}")
            }
            Event::SeverityChanged { from, to } => format!("Severity changed {from} → {to}"),
            Event::Resolved { summary } => format!("Resolved: {summary}"),
            Event::Note { text } => format!("Note: {text}"),
            Event::EvidenceRecorded {
                name, sha256, size, ..
            } => format!("Evidence `{name}` recorded ({size} bytes, sha256 {sha256})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_into_kind_and_data_and_back() {
        let e = Event::IncidentOpened {
            title: "Shell in payments-api".into(),
            severity: Severity::Sev2,
        };
        let (kind, data) = e.to_parts();
        assert_eq!(kind, "incident.opened");
        assert_eq!(data["severity"], "sev2");
        assert_eq!(Event::from_parts(&kind, &data).unwrap(), e);
    }

    #[test]
    fn unknown_kinds_and_fields_are_reported_not_guessed() {
        let err = Event::from_parts("incident.exploded", &serde_json::json!({})).unwrap_err();
        assert!(err.to_string().contains("incident.exploded"));
        let err =
            Event::from_parts("note", &serde_json::json!({"text": "x", "extra": 1})).unwrap_err();
        assert!(err.to_string().contains("extra"), "{err}");
    }
}
