//! The `meta.k8s.io/v1` Table kubectl asks for (`Accept: application/json;as=Table;…`), so
//! `kubectl get` prints the columns a trainee knows from production: pods with READY, STATUS,
//! RESTARTS and (with `-o wide`) IP and NODE; nodes with `SchedulingDisabled` when cordoned;
//! NetworkPolicies with their pod selector. Other kinds get NAME and AGE, as the API server
//! does for custom resources without printer columns.

use http::HeaderMap;
use serde_json::{Value, json};

use crate::catalog::ResourceType;
use crate::clock;

/// Whether the client asked for the Table form (kubectl always does for `get`).
pub fn wanted(headers: &HeaderMap) -> bool {
    headers
        .get_all(http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',')
                .next()
                .is_some_and(|first| first.contains("as=Table"))
        })
}

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// kubectl's short ages: 45s, 12m, 5h, 3d.
pub fn age(created: &str, now: i64) -> String {
    let Some(at) = clock::parse(created) else {
        return "<unknown>".to_owned();
    };
    let s = (now - at).max(0);
    match s {
        s if s < 120 => format!("{s}s"),
        s if s < 7_200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3_600),
        s => format!("{}d", s / 86_400),
    }
}

/// (name, type, priority): priority 1 columns show only with `-o wide`.
type Column = (&'static str, &'static str, u8);

fn columns(kind: &str) -> &'static [Column] {
    match kind {
        "Pod" => &[
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Status", "string", 0),
            ("Restarts", "string", 0),
            ("Age", "string", 0),
            ("IP", "string", 1),
            ("Node", "string", 1),
            ("Nominated Node", "string", 1),
            ("Readiness Gates", "string", 1),
        ],
        "Node" => &[
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Roles", "string", 0),
            ("Age", "string", 0),
            ("Version", "string", 0),
            ("Internal-IP", "string", 1),
            ("OS-Image", "string", 1),
            ("Container-Runtime", "string", 1),
        ],
        "NetworkPolicy" => &[
            ("Name", "string", 0),
            ("Pod-Selector", "string", 0),
            ("Age", "string", 0),
        ],
        "Deployment" | "StatefulSet" | "ReplicaSet" => &[
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Age", "string", 0),
        ],
        "Service" => &[
            ("Name", "string", 0),
            ("Type", "string", 0),
            ("Cluster-IP", "string", 0),
            ("Age", "string", 0),
        ],
        _ => &[("Name", "string", 0), ("Age", "string", 0)],
    }
}

fn pod_cells(p: &Value, age: String) -> Vec<Value> {
    let statuses = p
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let total = p
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map_or(statuses.len(), Vec::len);
    let ready = statuses.iter().filter(|c| c["ready"] == true).count();
    let restarts: u64 = statuses
        .iter()
        .filter_map(|c| c["restartCount"].as_u64())
        .sum();
    let status = if p.pointer("/metadata/deletionTimestamp").is_some() {
        "Terminating"
    } else {
        match text(p, "/status/phase") {
            "" => "Pending",
            phase => phase,
        }
    };
    let or_none = |s: &str| {
        if s.is_empty() {
            "<none>".to_owned()
        } else {
            s.to_owned()
        }
    };
    vec![
        json!(text(p, "/metadata/name")),
        json!(format!("{ready}/{total}")),
        json!(status),
        json!(restarts.to_string()),
        json!(age),
        json!(or_none(text(p, "/status/podIP"))),
        json!(or_none(text(p, "/spec/nodeName"))),
        json!("<none>"),
        json!("<none>"),
    ]
}

fn node_cells(n: &Value, age: String) -> Vec<Value> {
    let ready = n
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
        .map(|c| c["status"] == "True");
    let mut status = match ready {
        Some(true) => "Ready".to_owned(),
        Some(false) => "NotReady".to_owned(),
        None => "Unknown".to_owned(),
    };
    if n.pointer("/spec/unschedulable") == Some(&Value::Bool(true)) {
        status.push_str(",SchedulingDisabled");
    }
    let roles: Vec<&str> = n
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.keys()
                .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/"))
                .collect()
        })
        .unwrap_or_default();
    let internal = n
        .pointer("/status/addresses")
        .and_then(Value::as_array)
        .and_then(|a| a.iter().find(|x| x["type"] == "InternalIP"))
        .and_then(|x| x["address"].as_str())
        .unwrap_or("<none>");
    vec![
        json!(text(n, "/metadata/name")),
        json!(status),
        json!(if roles.is_empty() {
            "<none>".to_owned()
        } else {
            roles.join(",")
        }),
        json!(age),
        json!(text(n, "/status/nodeInfo/kubeletVersion")),
        json!(internal),
        json!(text(n, "/status/nodeInfo/osImage")),
        json!(text(n, "/status/nodeInfo/containerRuntimeVersion")),
    ]
}

fn selector_text(p: &Value) -> String {
    let labels = p
        .pointer("/spec/podSelector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    if labels.is_empty() {
        "<none>".to_owned()
    } else {
        labels
    }
}

fn cells(kind: &str, o: &Value, now: i64) -> Vec<Value> {
    let name = json!(text(o, "/metadata/name"));
    let age = age(text(o, "/metadata/creationTimestamp"), now);
    match kind {
        "Pod" => pod_cells(o, age),
        "Node" => node_cells(o, age),
        "NetworkPolicy" => vec![name, json!(selector_text(o)), json!(age)],
        "Deployment" | "StatefulSet" | "ReplicaSet" => {
            let want = o
                .pointer("/spec/replicas")
                .and_then(Value::as_u64)
                .unwrap_or(1);
            let ready = o
                .pointer("/status/readyReplicas")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            vec![name, json!(format!("{ready}/{want}")), json!(age)]
        }
        "Service" => vec![
            name,
            json!(match text(o, "/spec/type") {
                "" => "ClusterIP",
                t => t,
            }),
            json!(match text(o, "/spec/clusterIP") {
                "" => "<none>",
                ip => ip,
            }),
            json!(age),
        ],
        _ => vec![name, json!(age)],
    }
}

/// `objects` as a Table; each row carries the object's metadata, as the API server sends
/// with the default `includeObject=Metadata`.
pub fn of(rt: &ResourceType, objects: &[Value], resource_version: &str) -> Value {
    let now = clock::now_secs();
    let definitions: Vec<Value> = columns(rt.kind)
        .iter()
        .map(|(name, kind, priority)| {
            json!({ "name": name, "type": kind, "format": if *name == "Name" { "name" } else { "" },
                    "description": "", "priority": priority })
        })
        .collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            json!({
                "cells": cells(rt.kind, o, now),
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": o.get("metadata").cloned().unwrap_or(Value::Null),
                },
            })
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": { "resourceVersion": resource_version },
        "columnDefinitions": definitions,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cordoned_ready_node_reads_as_kubectl_prints_it() {
        let n = json!({"metadata": {"name": "n1", "creationTimestamp": "2026-11-27T00:00:00Z",
            "labels": {"node-role.kubernetes.io/worker": ""}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                "nodeInfo": {"kubeletVersion": "v1.31.2"}}});
        let c = node_cells(&n, "3d".into());
        assert_eq!(c[1], "Ready,SchedulingDisabled");
        assert_eq!(c[2], "worker");
        assert_eq!(c[4], "v1.31.2");
    }

    #[test]
    fn ages_are_kubectls_short_form() {
        let at = clock::parse("2026-11-27T00:00:00Z").unwrap();
        assert_eq!(age("2026-11-27T00:00:00Z", at + 45), "45s");
        assert_eq!(age("2026-11-27T00:00:00Z", at + 600), "10m");
        assert_eq!(age("2026-11-27T00:00:00Z", at + 5 * 3600), "5h");
        assert_eq!(age("2026-11-27T00:00:00Z", at + 3 * 86400), "3d");
        assert_eq!(age("nonsense", at), "<unknown>");
    }
}
