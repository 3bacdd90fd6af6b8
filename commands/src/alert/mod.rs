//! Alerts as warroom reads them, whatever sent them: Prometheus Alertmanager's webhook,
//! Falco's JSON output (as `http_output` and falcosidekick send it), the PagerDuty Events
//! API v2, and GuardDuty findings as EventBridge delivers them. Each becomes one or more [`Alert`]s with a fingerprint (what makes two deliveries
//! the same alert), a status and flat string fields for rules to match.
//!
//! Pure: parsing only, no I/O. Every input is untrusted; errors name the field.

mod alertmanager;
mod events_v2;
mod falco;
mod fingerprint;
mod guardduty;
mod rules;

use std::collections::BTreeMap;

pub use alertmanager::parse_alertmanager;
pub use events_v2::parse_events_v2;
pub use falco::{FalcoPriority, parse_falco};
pub use fingerprint::label_fingerprint;
pub use guardduty::parse_guardduty;
pub use rules::{Verdict, evaluate, pages_now, sender_allowed};

/// Which intake an alert came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Intake {
    Alertmanager,
    Falco,
    EventsV2,
    Guardduty,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    Firing,
    /// Events API v2 `acknowledge`: someone is on it at the sender's side.
    Acknowledged,
    Resolved,
}

/// One alert, normalized.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Alert {
    pub intake: Intake,
    /// Alertmanager's fingerprint, Falco's rule + pod, or the Events API `dedup_key`.
    pub fingerprint: String,
    pub status: AlertStatus,
    /// One line for people: the summary, Falco's output, or the alert name.
    pub title: String,
    /// Flat string fields rules match on: Alertmanager labels, Falco `rule`, `priority`,
    /// `source` and every output field, Events API payload fields.
    pub fields: BTreeMap<String, String>,
    /// Alertmanager annotations; empty for the others.
    pub annotations: BTreeMap<String, String>,
    /// Falco's priority, for "at least" rules.
    pub priority: Option<FalcoPriority>,
    /// When it started, as the sender said (RFC 3339), if it did.
    pub started_at: Option<String>,
}

/// Why a body is not an alert warroom can read: a 400 that says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{format}: {field}: {reason}")]
pub struct AlertError {
    pub format: &'static str,
    /// Where in the body (`alerts[2].labels`), or empty for the whole body.
    pub field: String,
    pub reason: String,
}

impl AlertError {
    fn new(format: &'static str, field: impl Into<String>, reason: impl Into<String>) -> Self {
        let field = field.into();
        AlertError {
            format,
            field: if field.is_empty() || field == "." {
                "body".into()
            } else {
                field
            },
            reason: reason.into(),
        }
    }
}

/// Longest title kept; the fields keep the details.
const MAX_TITLE_CHARS: usize = 300;
/// Longest field value kept (Falco outputs can carry whole command lines).
const MAX_FIELD_CHARS: usize = 2000;
/// Most fields kept from one alert.
const MAX_FIELDS: usize = 256;

/// The first `max` characters of `s`.
/// A sender's "started at" text, kept to the length of a timestamp: it is not checked as one
/// (PagerDuty senders write `+0000` offsets RFC 3339 refuses), but it goes into the timeline
/// as given, so a megabyte of it must not.
fn started_at(text: Option<String>) -> Option<String> {
    text.map(|t| cut_owned(t, MAX_STARTED_AT_CHARS))
}

const MAX_STARTED_AT_CHARS: usize = 64;

fn cut(s: &str, max: usize) -> String {
    s[..cut_at(s, max)].to_owned()
}

/// `s` kept to its first `max` characters, without copying it.
fn cut_owned(mut s: String, max: usize) -> String {
    s.truncate(cut_at(&s, max));
    s
}

/// Byte length of the first `max` characters of `s` (all of it when it is shorter).
fn cut_at(s: &str, max: usize) -> usize {
    // Never more characters than bytes: a short string needs no counting.
    if s.len() <= max {
        return s.len();
    }
    s.char_indices().nth(max).map_or(s.len(), |(at, _)| at)
}

/// The body as `T`; when it is not, the error names the field. The path is tracked only to
/// explain a failure: tracking it on every body cost more than the parse itself.
fn decode<T: serde::de::DeserializeOwned>(
    format: &'static str,
    body: &[u8],
) -> Result<T, AlertError> {
    serde_json::from_slice(body).or_else(|_| {
        let de = &mut serde_json::Deserializer::from_slice(body);
        serde_path_to_error::deserialize(de)
            .map_err(|e| AlertError::new(format, e.path().to_string(), e.inner().to_string()))
    })
}

/// JSON scalars as the strings rules compare; null and `<NA>` mean "absent".
fn scalar(v: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    let s = match v {
        Value::Null => return None,
        Value::String(s) if s == "<NA>" || s.is_empty() => return None,
        Value::String(s) => return Some(cut(s, MAX_FIELD_CHARS)),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => items
            .iter()
            .filter_map(scalar)
            .collect::<Vec<_>>()
            .join(","),
        Value::Object(_) => v.to_string(),
    };
    Some(cut_owned(s, MAX_FIELD_CHARS))
}

/// Insert `key = value` unless the alert already has too many fields.
fn put(fields: &mut BTreeMap<String, String>, key: &str, value: &serde_json::Value) {
    if fields.len() < MAX_FIELDS
        && let Some(v) = scalar(value)
    {
        fields.insert(cut(key, 200), v);
    }
}

/// [`put`] for a key and value the caller no longer needs: their strings are moved, not
/// copied.
fn put_owned(fields: &mut BTreeMap<String, String>, key: String, value: serde_json::Value) {
    if fields.len() >= MAX_FIELDS {
        return;
    }
    let v = match value {
        serde_json::Value::String(s) if s == "<NA>" || s.is_empty() => None,
        serde_json::Value::String(s) => Some(cut_owned(s, MAX_FIELD_CHARS)),
        other => scalar(&other),
    };
    if let Some(v) = v {
        fields.insert(cut_owned(key, 200), v);
    }
}

#[cfg(test)]
mod fuzz_tests;

#[cfg(test)]
mod cut_tests {
    use super::*;

    #[test]
    fn cutting_counts_characters_not_bytes() {
        assert_eq!(cut("abc", 5), "abc");
        assert_eq!(cut("abcdef", 3), "abc");
        // Five bytes, three characters: shorter than 4 characters, so whole.
        assert_eq!(cut("aéb", 4), "aéb");
        assert_eq!(cut("ééé", 2), "éé");
        assert_eq!(cut("日本語テキスト", 3), "日本語");
        assert_eq!(cut_owned("ééé".to_owned(), 1), "é");
        assert_eq!(cut("", 0), "");
        assert_eq!(cut("abc", 0), "");
    }

    #[test]
    fn a_field_reads_the_same_moved_or_copied() {
        let long = "é".repeat(MAX_FIELD_CHARS + 5);
        let values = serde_json::json!([
            null, "<NA>", "", "sh", long, 7, -1.5, true, ["a", null, 2], {"k": "v"}
        ]);
        let key = "k".repeat(300);
        for v in values.as_array().unwrap() {
            let (mut copied, mut moved) = (BTreeMap::new(), BTreeMap::new());
            put(&mut copied, &key, v);
            put_owned(&mut moved, key.clone(), v.clone());
            assert_eq!(copied, moved, "{v}");
        }
    }
}
