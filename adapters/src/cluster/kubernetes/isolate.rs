//! Quarantine, release and label: the pod or node stays for forensics, its traffic stops.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use warroom_commands::command::ObjectKind;

use super::rest;
use super::selector;
use super::{INVESTIGATION_LABEL, QUARANTINE_LABEL};
use super::{KubeTarget, errors, labels_of, str_at};
use crate::cluster::{ClusterError, Execution, Outcome};

fn policy_name(pod: &str) -> String {
    // NetworkPolicy names are DNS subdomains of at most 253 characters; pod names fit.
    format!("warroom-quarantine-{pod}")
}

/// Every other NetworkPolicy in the namespace that selects the pod (with `labels`).
/// Policies are additive: any of these that allows traffic re-opens what quarantine closed.
async fn other_policies(
    t: &KubeTarget,
    ns: &str,
    labels: &BTreeMap<String, String>,
    own: &str,
) -> Result<Vec<Value>, ClusterError> {
    let all = t
        .rest
        .list(
            &format!("/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies"),
            "",
        )
        .await
        .map_err(|e| t.rest.fail("listing NetworkPolicies", &e))?;
    Ok(all
        .into_iter()
        .filter(|p| str_at(p, "/metadata/name") != Some(own))
        // warroom's own quarantine policies deny all: they never re-allow anything.
        .filter(|p| str_at(p, "/metadata/labels/app.kubernetes.io~1managed-by") != Some("warroom"))
        .filter(|p| p.pointer("/spec/podSelector").is_some_and(|s| selector::matches(s, labels)))
        .map(|p| {
            let types = p.pointer("/spec/policyTypes").cloned().unwrap_or(json!(["Ingress"]));
            let allows_in = p.pointer("/spec/ingress").and_then(Value::as_array).is_some_and(|r| !r.is_empty());
            let allows_out = p.pointer("/spec/egress").and_then(Value::as_array).is_some_and(|r| !r.is_empty());
            json!({ "name": str_at(&p, "/metadata/name"), "policyTypes": types, "allows_ingress": allows_in, "allows_egress": allows_out })
        })
        .collect())
}

/// Labels that a Service or the owning ReplicaSet selects the pod by: removing them detaches it.
async fn selected_by(
    t: &KubeTarget,
    ns: &str,
    pod: &Value,
    labels: &BTreeMap<String, String>,
) -> Result<Vec<String>, ClusterError> {
    let mut keys = Vec::new();
    let services = t
        .rest
        .list(&format!("/api/v1/namespaces/{ns}/services"), "")
        .await
        .map_err(|e| t.rest.fail("listing Services", &e))?;
    for s in services {
        if let Some(sel) = s.pointer("/spec/selector")
            && selector::map_matches(sel, labels)
            && let Some(m) = sel.as_object()
        {
            keys.extend(m.keys().cloned());
        }
    }
    let owner = pod.pointer("/metadata/ownerReferences/0");
    if let Some(o) = owner
        && o.get("kind").and_then(Value::as_str) == Some("ReplicaSet")
        && let Some(name) = o.get("name").and_then(Value::as_str)
        && let Ok(rs) = t
            .rest
            .get(&rest::path(ObjectKind::ReplicaSet, ns, name))
            .await
        && let Some(m) = rs
            .pointer("/spec/selector/matchLabels")
            .and_then(Value::as_object)
    {
        keys.extend(m.keys().cloned());
    }
    keys.sort();
    keys.dedup();
    Ok(keys)
}

fn enforcement_note(t: &KubeTarget) -> String {
    if t.network_policy.enforces_network_policy() {
        format!(
            "enforced by the cluster's CNI ({})",
            t.network_policy.as_str()
        )
    } else {
        "NOT ENFORCED: the plan says this cluster's CNI does not enforce NetworkPolicy — isolate the node instead".to_owned()
    }
}

pub async fn preview_quarantine(t: &KubeTarget, ex: &Execution) -> Result<String, ClusterError> {
    let target = &ex.resolved.target;
    let mut labels = ex.resolved.labels.clone();
    labels.insert(QUARANTINE_LABEL.into(), ex.incident.to_string());
    let others = other_policies(t, &target.namespace, &labels, &policy_name(&target.name)).await?;
    let names: Vec<&str> = others
        .iter()
        .filter_map(|p| p.get("name").and_then(Value::as_str))
        .collect();
    Ok(format!(
        "will label {target} {QUARANTINE_LABEL}={} and create NetworkPolicy {} (deny all ingress and egress; {}){}",
        ex.incident,
        policy_name(&target.name),
        enforcement_note(t),
        if names.is_empty() {
            String::new()
        } else {
            format!(
                "; other policies still select it and may re-allow traffic: {}",
                names.join(", ")
            )
        }
    ))
}

pub async fn quarantine(t: &KubeTarget, ex: &Execution) -> Result<Outcome, ClusterError> {
    let target = &ex.resolved.target;
    let ns = target.namespace.as_str();
    let pod_path = rest::path(ObjectKind::Pod, ns, &target.name);
    let before = t
        .rest
        .get(&pod_path)
        .await
        .map_err(|e| t.rest.fail(&format!("reading {target}"), &e))?;
    let labels_before = labels_of(&before);
    let detach = ex.params.get("detach").is_some_and(|v| v == "true");
    let removed = if detach {
        selected_by(t, ns, &before, &labels_before).await?
    } else {
        Vec::new()
    };
    let inc = ex.incident.to_string();
    let mut patch = Map::new();
    patch.insert(QUARANTINE_LABEL.into(), json!(inc));
    for k in &removed {
        patch.insert(k.clone(), Value::Null);
    }
    let name = policy_name(&target.name);
    let egress = if ex.allow_dns {
        // DNS to the cluster's resolver only: port 53 anywhere would be a tunnel.
        json!([{
            "to": [{
                "namespaceSelector": { "matchLabels": { "kubernetes.io/metadata.name": "kube-system" } },
                "podSelector": { "matchLabels": { "k8s-app": "kube-dns" } }
            }],
            "ports": [{ "protocol": "UDP", "port": 53 }, { "protocol": "TCP", "port": 53 }]
        }])
    } else {
        json!([])
    };
    let policy = json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": { "app.kubernetes.io/managed-by": "warroom", INVESTIGATION_LABEL: inc },
            "annotations": { "warroom.io/request": ex.request, "warroom.io/reason": ex.reason.clone().unwrap_or_default() },
        },
        "spec": {
            "podSelector": { "matchLabels": { QUARANTINE_LABEL: inc } },
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": egress,
        }
    });
    let policies_path = format!("/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies");
    // The policy first: it selects nothing until the label lands, so a failure here leaves
    // the pod as it was rather than labelled and open.
    let created = match t.rest.create(&policies_path, &policy).await {
        Ok(p) => p,
        // A policy of that name exists (an earlier quarantine, perhaps of another incident):
        // make it select this incident's label, or the pod would be relabelled and open.
        Err(kube::Error::Api(s)) if s.code == 409 => t
            .rest
            .merge_patch(
                &format!("{policies_path}/{name}"),
                &json!({ "metadata": policy["metadata"], "spec": policy["spec"] }),
            )
            .await
            .map_err(|e| t.rest.fail("updating the existing quarantine policy", &e))?,
        Err(e) => return Err(t.rest.fail(&format!("creating NetworkPolicy {name}"), &e)),
    };
    let after = t
        .rest
        .merge_patch_of(
            &pod_path,
            ex.resolved.uid.as_deref(),
            &json!({ "metadata": { "labels": patch } }),
        )
        .await
        .map_err(|e| t.rest.fail(&format!("labelling {target} (NetworkPolicy {name} exists but selects nothing until this label is set)"), &e))?;
    let labels_after = labels_of(&after);
    let others = other_policies(t, ns, &labels_after, &name).await?;
    let reopen: Vec<&str> = others
        .iter()
        .filter(|p| p["allows_ingress"] == true || p["allows_egress"] == true)
        .filter_map(|p| p.get("name").and_then(Value::as_str))
        .collect();
    let mut summary = format!(
        "isolated {target} with NetworkPolicy {name} (deny all ingress and egress; {})",
        enforcement_note(t)
    );
    if detach {
        summary.push_str(&format!(
            "; detached: removed labels {} so its Service and ReplicaSet let go of it",
            removed.join(", ")
        ));
    }
    if !reopen.is_empty() {
        summary.push_str(&format!(
            "; WARNING: other policies still select it and allow traffic: {}",
            reopen.join(", ")
        ));
    }
    Ok(Outcome {
        dry_run: false,
        summary,
        result: json!({
            "cluster": ex.resolved.cluster,
            "pod": target.describe(),
            "uid": ex.resolved.uid,
            "labels_before": labels_before,
            "labels_after": labels_after,
            "removed_labels": removed,
            "network_policy": { "name": name, "uid": str_at(&created, "/metadata/uid"), "spec": created.get("spec") },
            "other_policies": others,
            "enforcement": enforcement_note(t),
        }),
        evidence: Vec::new(),
    })
}

pub async fn release(t: &KubeTarget, ex: &Execution) -> Result<Outcome, ClusterError> {
    let target = &ex.resolved.target;
    let ns = target.namespace.as_str();
    let name = policy_name(&target.name);
    let deleted = match t
        .rest
        .delete(
            &format!("/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies/{name}"),
            &json!({}),
        )
        .await
    {
        Ok(_) => true,
        Err(e) if errors::is_not_found(&e) => false,
        Err(e) => return Err(t.rest.fail(&format!("deleting NetworkPolicy {name}"), &e)),
    };
    let pod_path = rest::path(ObjectKind::Pod, ns, &target.name);
    let after = t
        .rest
        .merge_patch_of(
            &pod_path,
            ex.resolved.uid.as_deref(),
            &json!({ "metadata": { "labels": { QUARANTINE_LABEL: null } } }),
        )
        .await
        .map_err(|e| t.rest.fail(&format!("unlabelling {target}"), &e))?;
    Ok(Outcome {
        dry_run: false,
        summary: format!(
            "released {target}: {}; quarantine label removed (labels removed by --detach are not restored: its controller already replaced it)",
            if deleted {
                format!("NetworkPolicy {name} deleted")
            } else {
                format!("no NetworkPolicy {name} was there")
            }
        ),
        result: json!({ "pod": target.describe(), "policy_deleted": deleted, "labels_before": ex.resolved.labels, "labels_after": labels_of(&after) }),
        evidence: Vec::new(),
    })
}

pub async fn label(t: &KubeTarget, ex: &Execution) -> Result<Outcome, ClusterError> {
    let target = &ex.resolved.target;
    let mut labels = Map::new();
    for (k, v) in &ex.investigation_labels {
        labels.insert(k.clone(), json!(v));
    }
    labels.insert(INVESTIGATION_LABEL.into(), json!(ex.incident.to_string()));
    if let (Some(k), Some(v)) = (ex.params.get("key"), ex.params.get("value")) {
        // These keys carry isolation; changing them is `release`'s job, under its approval.
        if k == QUARANTINE_LABEL || k == INVESTIGATION_LABEL {
            return Err(ClusterError::Failed(format!(
                "label {k} is reserved for warroom's quarantine and investigation; use `release pod` to lift a quarantine"
            )));
        }
        labels.insert(k.clone(), json!(v));
    }
    let path = rest::path(target.kind, &target.namespace, &target.name);
    let after = t
        .rest
        .merge_patch_of(
            &path,
            ex.resolved.uid.as_deref(),
            &json!({ "metadata": { "labels": labels } }),
        )
        .await
        .map_err(|e| t.rest.fail(&format!("labelling {target}"), &e))?;
    Ok(Outcome {
        dry_run: false,
        summary: format!(
            "labelled {target}: {}",
            labels.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
        result: json!({ "target": target.describe(), "labels_before": ex.resolved.labels, "labels_after": labels_of(&after) }),
        evidence: Vec::new(),
    })
}
