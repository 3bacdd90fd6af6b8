//! The diff an executed action made, in lines a responder and an auditor can read.
//!
//! Executors record what they did as JSON (`request.executed`'s `result`). Their shapes
//! differ per action, but follow a few conventions this module reads: `X_before`/`X_after`
//! pairs, `parts` of `{part, before, after}`, and named lists (`evicted`, `snapshots`, …).
//! Anything else stays in the JSON: these lines are a reading aid, the JSON is the record.

use serde_json::{Map, Value};

/// One line per change: before/after pairs first, then objects created or deleted, then lists. Empty when the result
/// holds nothing this module knows how to read.
pub fn lines(result: &Value) -> Vec<String> {
    let Some(o) = result.as_object() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    pairs(o, &mut out);
    if let Some(p) = o.get("network_policy").and_then(|p| p.get("name")) {
        out.push(format!("NetworkPolicy {} applied", text(p)));
    }
    match o.get("policy_deleted").and_then(Value::as_bool) {
        Some(true) => out.push("quarantine NetworkPolicy deleted".into()),
        Some(false) => out.push("quarantine NetworkPolicy was already gone".into()),
        None => {}
    }
    if let (Some(policy), Some(role)) = (o.get("policy_name"), o.get("role_arn")) {
        if let Some(at) = o.get("revoked_before") {
            out.push(format!(
                "inline policy {} put on {}: sessions issued before {} denied",
                text(policy),
                text(role),
                text(at)
            ));
        } else if o.get("deleted").and_then(Value::as_bool) == Some(true) {
            out.push(format!(
                "inline policy {} deleted from {}",
                text(policy),
                text(role)
            ));
        }
    }
    for part in list(o, "parts") {
        let name = part.get("part").map(text).unwrap_or_else(|| "part".into());
        match (part.get("before"), part.get("after"), part.get("skipped")) {
            (_, _, Some(why)) => out.push(format!("{name}: skipped ({})", text(why))),
            (Some(b), Some(a), None) => out.push(format!("{name}: {} → {}", text(b), text(a))),
            _ => {}
        }
    }
    let evicted: Vec<String> = list(o, "evicted").iter().map(text).collect();
    if o.contains_key("evicted") {
        out.push(if evicted.is_empty() {
            "evicted: none".into()
        } else {
            format!("evicted: {}", evicted.join(", "))
        });
    }
    for p in list(o, "skipped") {
        out.push(format!(
            "left in place: {} ({})",
            p.get("pod").map(text).unwrap_or_default(),
            p.get("why").map(text).unwrap_or_default()
        ));
    }
    for p in list(o, "blocked_by_disruption_budget") {
        out.push(format!(
            "not evicted, PodDisruptionBudget: {}",
            p.get("pod").map(text).unwrap_or_else(|| text(p))
        ));
    }
    for s in list(o, "snapshots") {
        let lock = s
            .get("lock")
            .filter(|l| !l.is_null())
            .map(|l| {
                format!(
                    ", locked ({}) until {}",
                    l.get("state").map(text).unwrap_or_default(),
                    l.get("expires_on").map(text).unwrap_or_default()
                )
            })
            .unwrap_or_default();
        out.push(format!(
            "snapshot {} of {} ({}){lock}",
            s.get("snapshot_id").map(text).unwrap_or_default(),
            s.get("volume_id").map(text).unwrap_or_default(),
            s.get("state").map(text).unwrap_or_default()
        ));
    }
    for a in list(o, "artifacts") {
        out.push(format!(
            "captured {} (sha256 {})",
            a.get("name").map(text).unwrap_or_default(),
            a.get("sha256").map(text).unwrap_or_default()
        ));
    }
    if let Some(at) = o.get("restartedAt") {
        out.push(format!(
            "pod template annotation kubectl.kubernetes.io/restartedAt = {}",
            text(at)
        ));
    }
    out
}

/// `X_before` beside `X_after`: maps are diffed key by key, anything else is `X: a → b`.
fn pairs(o: &Map<String, Value>, out: &mut Vec<String>) {
    for (key, before) in o {
        let Some(name) = key.strip_suffix("_before") else {
            continue;
        };
        let Some(after) = o.get(&format!("{name}_after")) else {
            continue;
        };
        let name = name.replace('_', " ");
        match (before.as_object(), after.as_object()) {
            (Some(b), Some(a)) => {
                let mut changed = false;
                for (k, v) in a {
                    match b.get(k) {
                        None => out.push(format!("{name}: + {k}={}", text(v))),
                        Some(old) if old != v => {
                            out.push(format!("{name}: {k} {} → {}", text(old), text(v)))
                        }
                        Some(_) => continue,
                    }
                    changed = true;
                }
                for (k, v) in b {
                    if !a.contains_key(k) {
                        out.push(format!("{name}: − {k}={}", text(v)));
                        changed = true;
                    }
                }
                if !changed {
                    out.push(format!("{name}: unchanged"));
                }
            }
            _ if before == after => out.push(format!("{name}: {} (unchanged)", text(after))),
            _ => out.push(format!("{name}: {} → {}", text(before), text(after))),
        }
    }
}

fn list<'a>(o: &'a Map<String, Value>, key: &str) -> &'a [Value] {
    o.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// A value as a person reads it: strings bare, `null` as "none", the rest as compact JSON.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "none".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quarantine_shows_labels_added_removed_and_the_policy() {
        let r = json!({
            "pod": "payments/api-7f9c",
            "labels_before": { "app": "api", "tier": "web" },
            "labels_after": { "tier": "web", "warroom.io/quarantine": "INC-1" },
            "network_policy": { "name": "warroom-quarantine-api-7f9c" },
        });
        assert_eq!(
            lines(&r),
            [
                "labels: + warroom.io/quarantine=INC-1",
                "labels: − app=api",
                "NetworkPolicy warroom-quarantine-api-7f9c applied"
            ]
        );
    }

    #[test]
    fn scalars_drains_and_aws_parts_read_as_before_and_after() {
        let r = json!({
            "replicas_before": 3, "replicas_after": 0,
            "evicted": ["payments/a", "payments/b"],
            "skipped": [{ "pod": "kube-system/cni-x", "why": "DaemonSet" }],
            "parts": [
                { "part": "termination protection", "before": false, "after": true },
                { "part": "scale-in protection", "skipped": "not in an Auto Scaling group" }
            ],
        });
        assert_eq!(
            lines(&r),
            [
                "replicas: 3 → 0",
                "termination protection: false → true",
                "scale-in protection: skipped (not in an Auto Scaling group)",
                "evicted: payments/a, payments/b",
                "left in place: kube-system/cni-x (DaemonSet)",
            ]
        );
    }

    #[test]
    fn unknown_or_malformed_results_give_no_lines_and_never_panic() {
        for r in [
            json!(null),
            json!("text"),
            json!([1, 2]),
            json!({ "omitted": "too large", "sha256": "ab" }),
            json!({ "parts": "not a list", "evicted": 3, "snapshots": [1, null] }),
        ] {
            let _ = lines(&r);
        }
        assert!(lines(&json!({ "omitted": "too large" })).is_empty());
        assert_eq!(
            lines(&json!({ "unschedulable_before": true, "unschedulable_after": true })),
            ["unschedulable: true (unchanged)"]
        );
    }
}
