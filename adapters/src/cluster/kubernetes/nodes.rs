//! Cordon by default; drain only when asked, through the Eviction API.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warroom_commands::command::ObjectKind;

use super::rest::{self, query};
use super::{INVESTIGATION_LABEL, QUARANTINE_LABEL};
use super::{KubeTarget, errors, labels_of, str_at};
use crate::cluster::{ClusterError, Execution, Outcome};

/// Whether a node object is cordoned.
pub(super) fn unschedulable(node: &Value) -> bool {
    node.pointer("/spec/unschedulable")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// What `cordon` (`on`) or `uncordon` leaves `spec.unschedulable` at: uncordon sets back what
/// the node had before the incident's cordon or drain (see `warroom_commands::undo`), so a
/// node that was cordoned before (for maintenance, by its operators) stays cordoned; without
/// that record it is uncordoned.
pub fn cordon_target(ex: &Execution, on: bool) -> bool {
    on || ex
        .undoes
        .as_ref()
        .and_then(|r| r["unschedulable_before"].as_bool())
        .unwrap_or(false)
}

pub async fn cordon(t: &KubeTarget, ex: &Execution, on: bool) -> Result<Outcome, ClusterError> {
    let target = &ex.resolved.target;
    let path = rest::path(ObjectKind::Node, "", &target.name);
    let before = t
        .rest
        .get(&path)
        .await
        .map_err(|e| t.rest.fail(&format!("reading {target}"), &e))?;
    let was = unschedulable(&before);
    let after = cordon_target(ex, on);
    t.rest
        .merge_patch_of(
            &path,
            ex.resolved.uid.as_deref(),
            &json!({ "spec": { "unschedulable": after } }),
        )
        .await
        .map_err(|e| {
            t.rest.fail(
                &format!("{} {target}", if on { "cordoning" } else { "uncordoning" }),
                &e,
            )
        })?;
    let summary = if on || !after {
        format!(
            "{} {target} (unschedulable: {was} → {after}); running pods stay",
            if on { "cordoned" } else { "uncordoned" }
        )
    } else {
        format!(
            "left {target} cordoned (unschedulable: {was} → {after}): it was cordoned before this incident's cordon"
        )
    };
    Ok(Outcome {
        dry_run: false,
        summary,
        result: json!({ "node": target.name, "unschedulable_before": was, "unschedulable_after": after }),
        evidence: Vec::new(),
    })
}

/// Why a pod is left in place by a drain, if it is.
fn skip_reason(pod: &Value) -> Option<&'static str> {
    let owned_by_daemonset = pod
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| {
            refs.iter()
                .any(|r| r.get("kind").and_then(Value::as_str) == Some("DaemonSet"))
        });
    let labels = labels_of(pod);
    if owned_by_daemonset {
        Some("DaemonSet pod")
    } else if labels.contains_key(QUARANTINE_LABEL) || labels.contains_key(INVESTIGATION_LABEL) {
        Some("under investigation: evicting it would destroy evidence")
    } else if pod
        .pointer("/metadata/annotations/kubernetes.io~1config.mirror")
        .is_some()
    {
        Some("static (mirror) pod")
    } else {
        None
    }
}

async fn pods_on(t: &KubeTarget, node: &str) -> Result<Vec<Value>, ClusterError> {
    t.rest
        .list(
            "/api/v1/pods",
            &format!("fieldSelector={}", query(&format!("spec.nodeName={node}"))),
        )
        .await
        .map_err(|e| t.rest.fail(&format!("listing pods on node {node}"), &e))
}

fn pod_name(p: &Value) -> String {
    format!(
        "{}/{}",
        str_at(p, "/metadata/namespace").unwrap_or_default(),
        str_at(p, "/metadata/name").unwrap_or_default()
    )
}

pub async fn preview_drain(t: &KubeTarget, ex: &Execution) -> Result<String, ClusterError> {
    let pods = pods_on(t, &ex.resolved.target.name).await?;
    let evict = pods.iter().filter(|p| skip_reason(p).is_none()).count();
    Ok(format!(
        "will cordon {} and evict {evict} pod(s) through the Eviction API (PodDisruptionBudgets honoured), leaving {} (DaemonSet, investigated or static)",
        ex.resolved.target,
        pods.len() - evict
    ))
}

pub async fn drain(
    t: &KubeTarget,
    ex: &Execution,
    timeout: Duration,
) -> Result<Outcome, ClusterError> {
    let node = ex.resolved.target.name.clone();
    let cordoned = cordon(t, ex, true).await?;
    // Past the cordon, a failure still records it: `uncordon` sets back what it found.
    let so_far = |evicted: &[String], e: ClusterError| ClusterError::Partial {
        error: Box::new(e),
        result: json!({
            "node": node, "evicted": evicted, "incomplete": true,
            "unschedulable_before": cordoned.result["unschedulable_before"], "unschedulable_after": true,
        }),
    };
    let pods = pods_on(t, &node).await.map_err(|e| so_far(&[], e))?;
    let mut skipped = Vec::new();
    let mut pending: Vec<Value> = Vec::new();
    for p in pods {
        match skip_reason(&p) {
            Some(why) => skipped.push(json!({ "pod": pod_name(&p), "why": why })),
            None => pending.push(p),
        }
    }
    let total = pending.len();
    let mut evicted = Vec::new();
    let mut blocked: Vec<Value> = Vec::new();
    let deadline = Instant::now() + timeout;
    let mut delay = Duration::from_millis(250);
    while !pending.is_empty() {
        let mut still = Vec::new();
        for p in pending {
            let (ns, name) = (
                str_at(&p, "/metadata/namespace")
                    .unwrap_or_default()
                    .to_owned(),
                str_at(&p, "/metadata/name").unwrap_or_default().to_owned(),
            );
            // The uid as a precondition: the pod listed on this node, not one made since
            // under its name (a StatefulSet's, perhaps on another node).
            let eviction = json!({
                "apiVersion": "policy/v1", "kind": "Eviction",
                "metadata": { "name": name, "namespace": ns },
                "deleteOptions": { "preconditions": { "uid": str_at(&p, "/metadata/uid") } },
            });
            match t
                .rest
                .create(
                    &format!("/api/v1/namespaces/{ns}/pods/{name}/eviction"),
                    &eviction,
                )
                .await
            {
                Ok(_) => {
                    evicted.push(pod_name(&p));
                    if let Some(tx) = &ex.progress {
                        tx.status(format!(
                            "drain {node}: evicted {} ({}/{total})",
                            pod_name(&p),
                            evicted.len()
                        ));
                    }
                }
                // Gone, or its name now another pod's: the pod that was here is not.
                Err(e) if errors::is_not_found(&e) || errors::is_uid_mismatch(&e) => {
                    evicted.push(pod_name(&p))
                }
                // A disruption budget says not now: try again until the deadline.
                Err(kube::Error::Api(s)) if s.code == 429 => still.push((p, s.message.clone())),
                Err(e) => {
                    let e = t.rest.fail(&format!("evicting {}", pod_name(&p)), &e);
                    return Err(so_far(&evicted, e));
                }
            }
        }
        if still.is_empty() {
            break;
        }
        if Instant::now() + delay > deadline {
            blocked = still
                .into_iter()
                .map(|(p, why)| json!({ "pod": pod_name(&p), "why": why }))
                .collect();
            break;
        }
        if let Some(tx) = &ex.progress {
            tx.status(format!(
                "drain {node}: {} pod(s) held by a disruption budget; retrying",
                still.len()
            ));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
        pending = still.into_iter().map(|(p, _)| p).collect();
    }
    // What the cordon found, so `uncordon` leaves a node that was cordoned before cordoned.
    let result = json!({
        "node": node, "evicted": evicted, "skipped": skipped, "blocked_by_disruption_budget": blocked,
        "unschedulable_before": cordoned.result["unschedulable_before"], "unschedulable_after": true,
    });
    if !blocked.is_empty() {
        let error = ClusterError::Failed(format!(
            "drain of {node} incomplete after {}s: evicted {}, {} refused by a PodDisruptionBudget ({}); the node stays cordoned. Result: {result}",
            timeout.as_secs(),
            evicted.len(),
            blocked.len(),
            blocked
                .iter()
                .filter_map(|b| b.get("pod").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let mut result = result;
        result["incomplete"] = json!(true);
        return Err(ClusterError::Partial {
            error: Box::new(error),
            result,
        });
    }
    Ok(Outcome {
        dry_run: false,
        summary: format!(
            "drained {}: cordoned, evicted {} pod(s), left {} in place",
            ex.resolved.target,
            evicted.len(),
            skipped.len()
        ),
        result,
        evidence: Vec::new(),
    })
}
