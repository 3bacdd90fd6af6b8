//! The PagerDuty Events API v2: `routing_key`, `event_action` (trigger, acknowledge,
//! resolve), `dedup_key` and, for triggers, a `payload` with summary, source and severity —
//! so anything that can page PagerDuty can page warroom.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::{
    Alert, AlertError, AlertStatus, Intake, MAX_TITLE_CHARS, cut, decode, put, started_at,
};

const FORMAT: &str = "Events API v2";

#[derive(Deserialize)]
struct RawEvent {
    routing_key: String,
    event_action: String,
    #[serde(default)]
    dedup_key: Option<String>,
    #[serde(default)]
    payload: Option<RawPayload>,
    #[serde(default)]
    client: Option<String>,
}

#[derive(Deserialize)]
struct RawPayload {
    summary: String,
    source: String,
    severity: String,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    component: Option<String>,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    class: Option<String>,
    #[serde(default)]
    custom_details: Option<Value>,
}

/// One event and the routing key it names (the caller checks the key).
pub fn parse_events_v2(body: &[u8]) -> Result<(String, Alert), AlertError> {
    let raw: RawEvent = decode(FORMAT, body)?;
    let status = match raw.event_action.as_str() {
        "trigger" => AlertStatus::Firing,
        "acknowledge" => AlertStatus::Acknowledged,
        "resolve" => AlertStatus::Resolved,
        other => {
            return Err(AlertError::new(
                FORMAT,
                "event_action",
                format!("`{other}` is not trigger, acknowledge or resolve"),
            ));
        }
    };
    let dedup_key = raw.dedup_key.filter(|k| !k.is_empty());
    let mut fields = BTreeMap::new();
    let (title, when, fingerprint) = match (&raw.payload, status) {
        (Some(p), _) => {
            let severity = p.severity.to_ascii_lowercase();
            if !["critical", "error", "warning", "info"].contains(&severity.as_str()) {
                return Err(AlertError::new(
                    FORMAT,
                    "payload.severity",
                    format!("`{}` is not critical, error, warning or info", p.severity),
                ));
            }
            // As PagerDuty: a trigger says what happened and where; two empty ones would
            // also share one made-up dedup key and fold into one incident.
            if status == AlertStatus::Firing {
                for (field, value) in [
                    ("payload.summary", &p.summary),
                    ("payload.source", &p.source),
                ] {
                    if value.trim().is_empty() {
                        return Err(AlertError::new(
                            FORMAT,
                            field,
                            "is empty: a trigger needs it (what happened, and on what)",
                        ));
                    }
                }
            }
            fields.insert("severity".into(), severity);
            put(&mut fields, "source", &Value::String(p.source.clone()));
            for (k, v) in [
                ("component", &p.component),
                ("group", &p.group),
                ("class", &p.class),
            ] {
                if let Some(v) = v {
                    put(&mut fields, k, &Value::String(v.clone()));
                }
            }
            if let Some(Value::Object(details)) = &p.custom_details {
                for (k, v) in details {
                    put(&mut fields, &format!("custom_details.{k}"), v);
                }
            }
            // A trigger without a dedup key gets one from what it is about.
            let fingerprint = dedup_key
                .clone()
                .unwrap_or_else(|| format!("{}|{}", p.source, p.summary));
            (
                cut(&p.summary, MAX_TITLE_CHARS),
                p.timestamp.clone(),
                fingerprint,
            )
        }
        (None, AlertStatus::Firing) => {
            return Err(AlertError::new(
                FORMAT,
                "payload",
                "a trigger needs a payload",
            ));
        }
        (None, _) => {
            let Some(key) = dedup_key.clone() else {
                return Err(AlertError::new(
                    FORMAT,
                    "dedup_key",
                    "acknowledge and resolve need the dedup_key of the trigger",
                ));
            };
            (key.clone(), None, key)
        }
    };
    if let Some(c) = &raw.client {
        put(&mut fields, "client", &Value::String(c.clone()));
    }
    Ok((
        raw.routing_key,
        Alert {
            intake: Intake::EventsV2,
            fingerprint: cut(&fingerprint, 255),
            status,
            title,
            fields,
            annotations: BTreeMap::new(),
            priority: None,
            started_at: started_at(when),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pagerdutys_documented_examples_parse() {
        let (key, t) = parse_events_v2(include_bytes!("fixtures/trigger.json")).unwrap();
        assert_eq!(key, "samplekeyhere");
        assert_eq!(t.status, AlertStatus::Firing);
        assert_eq!(t.fingerprint, "samplekeyhere");
        assert_eq!(t.title, "Example alert on host1.example.com");
        assert_eq!(t.fields["severity"], "info");
        assert_eq!(t.fields["custom_details.ping time"], "1500ms");
        assert_eq!(t.fields["custom_details.load avg"], "0.75");
        let (_, a) = parse_events_v2(include_bytes!("fixtures/acknowledge.json")).unwrap();
        assert_eq!(
            (a.status, a.fingerprint.as_str()),
            (AlertStatus::Acknowledged, "dedupkeyhere")
        );
        let (_, r) = parse_events_v2(include_bytes!("fixtures/resolve.json")).unwrap();
        assert_eq!(r.status, AlertStatus::Resolved);
    }

    #[test]
    fn malformed_events_name_the_field() {
        let e = parse_events_v2(br#"{"routing_key":"k","event_action":"explode"}"#).unwrap_err();
        assert_eq!(e.field, "event_action");
        let e = parse_events_v2(br#"{"routing_key":"k","event_action":"trigger"}"#).unwrap_err();
        assert_eq!(e.field, "payload");
        let e = parse_events_v2(br#"{"routing_key":"k","event_action":"resolve"}"#).unwrap_err();
        assert_eq!(e.field, "dedup_key");
        let e = parse_events_v2(
            br#"{"routing_key":"k","event_action":"trigger","payload":{"summary":"s","source":"x","severity":"loud"}}"#,
        )
        .unwrap_err();
        assert_eq!(e.field, "payload.severity");
        let e = parse_events_v2(br#"{"event_action":"trigger"}"#).unwrap_err();
        assert!(e.reason.contains("routing_key"), "{e}");
        // Empty summaries and sources, as PagerDuty refuses them: two such triggers would
        // otherwise share the made-up key "|" and fold into one incident.
        for (payload, field) in [
            (
                r#"{"summary":"","source":"x","severity":"info"}"#,
                "payload.summary",
            ),
            (
                r#"{"summary":"s","source":"  ","severity":"info"}"#,
                "payload.source",
            ),
        ] {
            let body =
                format!(r#"{{"routing_key":"k","event_action":"trigger","payload":{payload}}}"#);
            let e = parse_events_v2(body.as_bytes()).unwrap_err();
            assert_eq!(e.field, field, "{e}");
        }
    }

    #[test]
    fn a_huge_timestamp_is_kept_to_a_timestamps_length() {
        let body = format!(
            r#"{{"routing_key":"k","event_action":"trigger","payload":{{"summary":"s","source":"x","severity":"info","timestamp":"2026-12-02T02:00:00.000+0000{}"}}}}"#,
            "9".repeat(100_000)
        );
        let (_, a) = parse_events_v2(body.as_bytes()).unwrap();
        let at = a.started_at.unwrap();
        assert_eq!(at.chars().count(), 64);
        assert!(at.starts_with("2026-12-02T02:00:00.000+0000"), "{at}");
    }
}
