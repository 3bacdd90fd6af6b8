//! Prometheus Alertmanager's webhook (payload version 4): a group of alerts, each firing or
//! resolved, each with labels, annotations and (since 0.19) its fingerprint.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::{
    Alert, AlertError, AlertStatus, Intake, MAX_TITLE_CHARS, cut, decode, label_fingerprint, put,
    started_at,
};

const FORMAT: &str = "Alertmanager webhook";

#[derive(Deserialize)]
struct Group {
    version: Option<String>,
    /// The group's status; some senders give only this, not each alert's.
    #[serde(default)]
    status: Option<String>,
    alerts: Vec<RawAlert>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAlert {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, Value>,
    #[serde(default)]
    annotations: BTreeMap<String, Value>,
    #[serde(default)]
    starts_at: Option<String>,
    #[serde(default)]
    fingerprint: Option<String>,
}

/// Every alert of one webhook delivery, in order.
pub fn parse_alertmanager(body: &[u8]) -> Result<Vec<Alert>, AlertError> {
    let group: Group = decode(FORMAT, body)?;
    if let Some(v) = &group.version
        && v != "4"
    {
        return Err(AlertError::new(
            FORMAT,
            "version",
            format!("payload version {v} is not supported (Alertmanager sends \"4\")"),
        ));
    }
    let group_status = group.status.clone();
    group
        .alerts
        .into_iter()
        .enumerate()
        .map(|(i, a)| {
            let at = |f: &str| format!("alerts[{i}].{f}");
            let status = a.status.as_deref().or(group_status.as_deref());
            let status = match status.unwrap_or("") {
                "firing" => AlertStatus::Firing,
                "resolved" => AlertStatus::Resolved,
                "" => {
                    return Err(AlertError::new(
                        FORMAT,
                        at("status"),
                        "missing, and the group has no status either",
                    ));
                }
                other => {
                    return Err(AlertError::new(
                        FORMAT,
                        at("status"),
                        format!("`{other}` is neither firing nor resolved"),
                    ));
                }
            };
            let mut fields = BTreeMap::new();
            for (k, v) in &a.labels {
                put(&mut fields, k, v);
            }
            let mut annotations = BTreeMap::new();
            for (k, v) in &a.annotations {
                put(&mut annotations, k, v);
            }
            if !fields.contains_key("alertname") {
                return Err(AlertError::new(
                    FORMAT,
                    at("labels"),
                    "no `alertname` label",
                ));
            }
            let fingerprint = match a.fingerprint.filter(|f| !f.is_empty()) {
                Some(f) => cut(&f, 64),
                None => label_fingerprint(&fields),
            };
            let title = annotations
                .get("summary")
                .or_else(|| fields.get("summary"))
                .or_else(|| fields.get("alertname"))
                .map(|t| cut(t, MAX_TITLE_CHARS))
                .unwrap_or_default();
            Ok(Alert {
                intake: Intake::Alertmanager,
                fingerprint,
                status,
                title,
                fields,
                annotations,
                priority: None,
                started_at: started_at(a.starts_at),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_grouped_webhooks_give_one_alert_each_with_fingerprints() {
        let alerts = parse_alertmanager(include_bytes!("fixtures/firing-grouped-3.json")).unwrap();
        assert_eq!(alerts.len(), 3);
        assert!(alerts.iter().all(|a| a.status == AlertStatus::Firing));
        assert_eq!(alerts[0].fields["instance"], "172.29.254.30");
        assert_eq!(alerts[0].title, "No physical connection to 172.29.254.30");
        // No fingerprint in this older payload: computed from the labels, one per alert.
        assert_eq!(alerts[0].fingerprint.len(), 16);
        assert_ne!(alerts[0].fingerprint, alerts[1].fingerprint);
        let one = parse_alertmanager(include_bytes!("fixtures/firing-1.json")).unwrap();
        assert!(!one.is_empty());
        assert!(one.iter().all(|a| a.fields.contains_key("alertname")));
    }

    #[test]
    fn resolved_alerts_keep_the_fingerprint_alertmanager_sent() {
        let body = br#"{"version":"4","status":"resolved","alerts":[{"status":"resolved","labels":{"alertname":"KubePodCrashLooping","namespace":"payments"},"annotations":{"summary":"api crash looping"},"startsAt":"2026-11-27T01:58:00Z","endsAt":"2026-11-27T02:10:00Z","fingerprint":"a1b2c3d4e5f60718"}]}"#;
        let a = &parse_alertmanager(body).unwrap()[0];
        assert_eq!(a.status, AlertStatus::Resolved);
        assert_eq!(a.fingerprint, "a1b2c3d4e5f60718");
        assert_eq!(a.title, "api crash looping");
    }

    #[test]
    fn malformed_bodies_name_what_is_wrong() {
        let e = parse_alertmanager(b"{").unwrap_err();
        assert_eq!(e.format, FORMAT);
        let e = parse_alertmanager(br#"{"alerts":[{"status":"firing","labels":{}}]}"#).unwrap_err();
        assert_eq!(e.field, "alerts[0].labels");
        let e =
            parse_alertmanager(br#"{"alerts":[{"status":"burning","labels":{"alertname":"x"}}]}"#)
                .unwrap_err();
        assert!(e.reason.contains("burning"), "{e}");
        let e = parse_alertmanager(br#"{"version":"3","alerts":[]}"#).unwrap_err();
        assert_eq!(e.field, "version");
        let e = parse_alertmanager(br#"{"alerts":{}}"#).unwrap_err();
        assert_eq!(e.field, "alerts", "{e}");
    }
}
