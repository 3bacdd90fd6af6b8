//! The plan of a change, for the approval card: what the action would do to the object as it
//! is now, computed when the request is made. Patches are sent as server-side dry runs
//! (`?dryRun=All`), so the API server's own validation and admission answer, and nothing is
//! persisted. Reads only otherwise.

use serde_json::json;
use warroom_commands::command::ObjectKind;

use super::nodes::{cordon_target, unschedulable};
use super::{KubeTarget, labels_of, rest};
use crate::cluster::{ClusterError, Execution};

/// `label`: the key's value before and after, as the server's dry run returns it.
pub async fn label(t: &KubeTarget, ex: &Execution) -> Result<String, ClusterError> {
    let target = &ex.resolved.target;
    let (Some(k), Some(v)) = (ex.params.get("key"), ex.params.get("value")) else {
        return Ok(format!("will label {target}"));
    };
    let path = rest::path(target.kind, &target.namespace, &target.name);
    let after = t
        .rest
        .merge_patch(
            &format!("{path}?dryRun=All"),
            &json!({ "metadata": { "labels": { k: v } } }),
        )
        .await
        .map_err(|e| t.rest.fail(&format!("dry run of labelling {target}"), &e))?;
    let before = ex
        .resolved
        .labels
        .get(k)
        .map(|b| format!("`{b}`"))
        .unwrap_or_else(|| "unset".to_owned());
    let now = labels_of(&after)
        .get(k)
        .map(|a| format!("`{a}`"))
        .unwrap_or_else(|| "unset".to_owned());
    Ok(format!(
        "will set label {k} on {target}: {before} → {now} (server-side dry run accepted it)"
    ))
}

/// `cordon` / `uncordon`: the node's schedulability before and after, and its pods.
pub async fn cordon(t: &KubeTarget, ex: &Execution, on: bool) -> Result<String, ClusterError> {
    let target = &ex.resolved.target;
    let path = rest::path(ObjectKind::Node, "", &target.name);
    let node = t
        .rest
        .get(&path)
        .await
        .map_err(|e| t.rest.fail(&format!("reading {target}"), &e))?;
    let was = unschedulable(&node);
    let after = t
        .rest
        .merge_patch(
            &format!("{path}?dryRun=All"),
            &json!({ "spec": { "unschedulable": cordon_target(ex, on) } }),
        )
        .await
        .map_err(|e| t.rest.fail(&format!("dry run of cordoning {target}"), &e))?;
    let now = unschedulable(&after);
    let kept = if !on && now {
        " (it was cordoned before this incident's cordon, so it stays cordoned)"
    } else {
        ""
    };
    let pods = t
        .rest
        .list(
            "/api/v1/pods",
            &format!("fieldSelector=spec.nodeName={}", target.name),
        )
        .await
        .map(|p| p.len())
        .unwrap_or(0);
    Ok(format!(
        "will set {target} unschedulable: {was} → {now}{kept} (server-side dry run accepted it); its {pods} pod(s) keep running"
    ))
}

/// `scale`: replicas before and after, and what the autoscaler would do.
pub async fn scale(t: &KubeTarget, ex: &Execution) -> Result<String, ClusterError> {
    let target = &ex.resolved.target;
    let (_, before) = super::workloads::replicas_now(t, ex).await?;
    let after = ex.params.get("replicas").map(String::as_str).unwrap_or("?");
    Ok(format!(
        "will set replicas of {target}: {before} → {after} (undo: scale {} {}/{} --replicas {before})",
        target.kind.as_str().to_ascii_lowercase(),
        target.namespace,
        target.name
    ))
}

/// `delete`: the object, and what would replace it.
pub fn delete(ex: &Execution) -> String {
    let target = &ex.resolved.target;
    match &ex.resolved.owner {
        Some((kind, name)) => format!(
            "will delete {target}; its owner {kind} {name} will create a replacement (the deleted one's memory and disk are gone)"
        ),
        None => format!("will delete {target}; nothing owns it, so nothing replaces it"),
    }
}
