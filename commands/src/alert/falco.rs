//! Falco's JSON output, as `http_output` posts it and falcosidekick forwards it: `rule`,
//! `priority`, `output`, `time`, `source`, `hostname`, `tags` and `output_fields` (keys with
//! dots and brackets, values of any type, `null` and `<NA>` for unknown).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::{
    Alert, AlertError, AlertStatus, Intake, MAX_TITLE_CHARS, cut, decode, put, put_owned,
    started_at,
};

const FORMAT: &str = "Falco event";

pub use warroom_config::FalcoPriority;

#[derive(Deserialize)]
struct RawEvent {
    rule: String,
    priority: String,
    #[serde(default)]
    output: String,
    #[serde(default)]
    time: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    hostname: Option<String>,
    #[serde(default)]
    tags: Option<Vec<Value>>,
    #[serde(default)]
    output_fields: BTreeMap<String, Value>,
}

/// One Falco event. Its fingerprint is the rule and the pod it is about (namespace/pod from
/// the syscall or k8s-audit fields), else the rule and the host, so repeats of the same rule
/// on the same pod are one alert.
pub fn parse_falco(body: &[u8]) -> Result<Alert, AlertError> {
    let mut raw: RawEvent = decode(FORMAT, body)?;
    if raw.rule.trim().is_empty() {
        return Err(AlertError::new(FORMAT, "rule", "empty"));
    }
    let priority: FalcoPriority = raw
        .priority
        .parse()
        .map_err(|e| AlertError::new(FORMAT, "priority", e))?;
    let mut fields = BTreeMap::new();
    for (k, v) in std::mem::take(&mut raw.output_fields) {
        put_owned(&mut fields, k, v);
    }
    fields.insert("rule".into(), cut(&raw.rule, 500));
    fields.insert("priority".into(), format!("{priority:?}"));
    if let Some(s) = &raw.source {
        put(&mut fields, "source", &Value::String(s.clone()));
    }
    if let Some(h) = &raw.hostname {
        put(&mut fields, "hostname", &Value::String(h.clone()));
    }
    if let Some(tags) = &raw.tags {
        put(&mut fields, "tags", &Value::Array(tags.clone()));
    }
    let namespace = ["k8s.ns.name", "ka.target.namespace"]
        .iter()
        .find_map(|k| fields.get(*k));
    let pod = ["k8s.pod.name", "ka.target.name"]
        .iter()
        .find_map(|k| fields.get(*k));
    let subject = match (namespace, pod) {
        (Some(ns), Some(pod)) => format!("{ns}/{pod}"),
        _ => raw
            .hostname
            .clone()
            .or_else(|| fields.get("container.id").cloned())
            .unwrap_or_default(),
    };
    let output = raw.output.trim();
    Ok(Alert {
        intake: Intake::Falco,
        // Both parts cut: the subject may be a sender's whole `hostname`, and the
        // fingerprint is a key in the ledger.
        fingerprint: format!("{}|{}", cut(&raw.rule, 500), cut(&subject, 255)),
        status: AlertStatus::Firing,
        title: cut(
            if output.is_empty() { &raw.rule } else { output },
            MAX_TITLE_CHARS,
        ),
        fields,
        annotations: BTreeMap::new(),
        priority: Some(priority),
        started_at: started_at(raw.time),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_falco_events_parse_with_their_pod_as_the_subject() {
        let a = parse_falco(include_bytes!("fixtures/terminal-shell-null-fields.json")).unwrap();
        assert_eq!(a.fingerprint, "Terminal shell in container|default/alpine");
        assert_eq!(a.priority, Some(FalcoPriority::Notice));
        assert_eq!(a.fields["k8s.pod.name"], "alpine");
        assert_eq!(a.fields["proc.tty"], "34817");
        assert!(!a.fields.contains_key("proc.pname"), "null is absent");
        assert_eq!(a.fields["user.loginuid"], "-1");
        let audit = parse_falco(include_bytes!("fixtures/k8saudit-attach-exec-pod.json")).unwrap();
        assert_eq!(audit.fingerprint, "Attach/Exec Pod|default/kubecon");
        assert_eq!(audit.fields["source"], "k8s_audit");
        assert_eq!(audit.fields["ka.uri.param[command]"], "sh");
        for sample in [
            &include_bytes!("fixtures/terminal-shell.json")[..],
            include_bytes!("fixtures/contact-k8s-api-server.json"),
            include_bytes!("fixtures/write-below-binary-dir.json"),
        ] {
            let a = parse_falco(sample).unwrap();
            assert!(a.fingerprint.contains('|'), "{a:?}");
        }
    }

    #[test]
    fn events_without_a_pod_are_keyed_by_host() {
        let r = parse_falco(include_bytes!("fixtures/syscall-event-drop.json"));
        // falcosidekick's internal drop event has a rule and a priority like any other.
        let a = r.unwrap();
        assert!(a.fingerprint.ends_with("|host"), "{}", a.fingerprint);
    }

    #[test]
    fn a_huge_hostname_makes_a_bounded_fingerprint() {
        let body = format!(
            r#"{{"output":"o","priority":"Warning","rule":"Write below etc","time":"2026-12-02T02:00:00Z","hostname":"{}"}}"#,
            "h".repeat(1 << 20)
        );
        let a = parse_falco(body.as_bytes()).unwrap();
        assert!(
            a.fingerprint.starts_with("Write below etc|hhh"),
            "{}",
            &a.fingerprint[..40]
        );
        assert_eq!(a.fingerprint.len(), "Write below etc|".len() + 255);
    }

    #[test]
    fn priorities_order_and_parse_with_aliases() {
        assert!(FalcoPriority::Critical > FalcoPriority::Warning);
        assert_eq!("WARN".parse(), Ok(FalcoPriority::Warning));
        assert_eq!("Informational".parse(), Ok(FalcoPriority::Informational));
        assert!("loud".parse::<FalcoPriority>().is_err());
    }

    #[test]
    fn malformed_events_name_the_field() {
        assert_eq!(parse_falco(b"[]").unwrap_err().field, "body");
        let e = parse_falco(br#"{"rule":"x","priority":"loud"}"#).unwrap_err();
        assert_eq!(e.field, "priority");
        let e = parse_falco(br#"{"priority":"Notice"}"#).unwrap_err();
        assert!(e.reason.contains("rule"), "{e}");
        let e = parse_falco(br#"{"rule":"x","priority":"Notice","output_fields":[]}"#).unwrap_err();
        assert_eq!(e.field, "output_fields");
    }
}
