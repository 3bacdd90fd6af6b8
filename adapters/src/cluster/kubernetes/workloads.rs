//! Remediation on workloads: scale (remembering the replicas for undo), restart, delete.

use serde_json::{Value, json};
use warroom_commands::command::ObjectKind;

use super::rest;
use super::{KubeTarget, str_at};
use crate::cluster::{ClusterError, Execution, Outcome};

/// HorizontalPodAutoscalers that target the workload: they will undo a manual scale.
async fn autoscalers(t: &KubeTarget, ns: &str, kind: ObjectKind, name: &str) -> Vec<String> {
    let Ok(list) = t
        .rest
        .list(
            &format!("/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers"),
            "",
        )
        .await
    else {
        return Vec::new();
    };
    list.iter()
        .filter(|h| {
            str_at(h, "/spec/scaleTargetRef/kind") == Some(kind.as_str())
                && str_at(h, "/spec/scaleTargetRef/name") == Some(name)
        })
        .filter_map(|h| str_at(h, "/metadata/name").map(str::to_owned))
        .collect()
}

/// GitOps controllers mark what they own; they will put it back.
fn gitops_owner(object: &Value) -> Option<String> {
    let labels = object.pointer("/metadata/labels");
    let annotations = object.pointer("/metadata/annotations");
    if annotations
        .and_then(|a| a.get("argocd.argoproj.io/tracking-id"))
        .is_some()
        || labels
            .and_then(|l| l.get("app.kubernetes.io/instance"))
            .is_some()
            && annotations
                .and_then(|a| a.get("argocd.argoproj.io/sync-options"))
                .is_some()
    {
        return Some("Argo CD".into());
    }
    if labels
        .and_then(|l| l.get("kustomize.toolkit.fluxcd.io/name"))
        .is_some()
        || labels
            .and_then(|l| l.get("helm.toolkit.fluxcd.io/name"))
            .is_some()
    {
        return Some("Flux".into());
    }
    None
}

/// The workload as it is now and its replicas (1 when unset, as Kubernetes defaults).
pub async fn replicas_now(t: &KubeTarget, ex: &Execution) -> Result<(Value, i64), ClusterError> {
    let target = &ex.resolved.target;
    let path = rest::path(target.kind, &target.namespace, &target.name);
    let object = t
        .rest
        .get(&path)
        .await
        .map_err(|e| t.rest.fail(&format!("reading {target}"), &e))?;
    let replicas = object
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    Ok((object, replicas))
}

pub async fn scale(t: &KubeTarget, ex: &Execution) -> Result<Outcome, ClusterError> {
    let target = &ex.resolved.target;
    let replicas: i64 = ex
        .params
        .get("replicas")
        .and_then(|r| r.parse().ok())
        .unwrap_or(0);
    let path = rest::path(target.kind, &target.namespace, &target.name);
    let (object, before) = replicas_now(t, ex).await?;
    t.rest
        .merge_patch_of(
            &format!("{path}/scale"),
            ex.resolved.uid.as_deref(),
            &json!({ "spec": { "replicas": replicas } }),
        )
        .await
        .map_err(|e| t.rest.fail(&format!("scaling {target}"), &e))?;
    let hpas = autoscalers(t, &target.namespace, target.kind, &target.name).await;
    let mut warnings = Vec::new();
    if !hpas.is_empty() {
        warnings.push(format!(
            "HorizontalPodAutoscaler {} targets it and will change the replicas back",
            hpas.join(", ")
        ));
    }
    if let Some(g) = gitops_owner(&object) {
        warnings.push(format!(
            "{g} manages it and may restore the replicas; pause its sync"
        ));
    }
    Ok(Outcome {
        dry_run: false,
        summary: format!(
            "scaled {target} from {before} to {replicas} replicas (undo: scale {} {} --replicas {before}){}",
            target.kind.as_str().to_ascii_lowercase(),
            target.path(),
            if warnings.is_empty() {
                String::new()
            } else {
                format!("; WARNING: {}", warnings.join("; "))
            }
        ),
        result: json!({ "target": target.describe(), "replicas_before": before, "replicas_after": replicas, "warnings": warnings }),
        evidence: Vec::new(),
    })
}

pub async fn restart(t: &KubeTarget, ex: &Execution) -> Result<Outcome, ClusterError> {
    let target = &ex.resolved.target;
    let path = rest::path(target.kind, &target.namespace, &target.name);
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    t.rest
        .merge_patch_of(&path, ex.resolved.uid.as_deref(), &json!({ "spec": { "template": { "metadata": { "annotations": { "kubectl.kubernetes.io/restartedAt": at } } } } }))
        .await
        .map_err(|e| t.rest.fail(&format!("restarting {target}"), &e))?;
    Ok(Outcome {
        dry_run: false,
        summary: format!("restarted {target} (rollout restart at {at})"),
        result: json!({ "target": target.describe(), "restartedAt": at }),
        evidence: Vec::new(),
    })
}

pub async fn delete(t: &KubeTarget, ex: &Execution) -> Result<Outcome, ClusterError> {
    let target = &ex.resolved.target;
    let path = rest::path(target.kind, &target.namespace, &target.name);
    // The UID precondition makes the API server refuse if it is no longer the approved object.
    let options = json!({ "apiVersion": "v1", "kind": "DeleteOptions", "preconditions": { "uid": ex.resolved.uid }, "propagationPolicy": "Background" });
    t.rest
        .delete(&path, &options)
        .await
        .map_err(|e| t.rest.fail(&format!("deleting {target}"), &e))?;
    Ok(Outcome {
        dry_run: false,
        summary: format!(
            "deleted {target} (uid {})",
            ex.resolved.uid.as_deref().unwrap_or("?")
        ),
        result: json!({ "target": target.describe(), "uid": ex.resolved.uid }),
        evidence: Vec::new(),
    })
}
