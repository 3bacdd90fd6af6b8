//! Capture without logging in: spec, owners, images, events, logs and node, each a hashed
//! artifact in the evidence store; and container checkpoints through the kubelet.

use std::sync::Arc;

use serde_json::{Value, json};
use warroom_config::Artifact;

use super::rest::{self, query};
use super::{CaptureSettings, KubeTarget, errors, owner_chain, str_at};
use crate::cluster::{CapturedArtifact, ClusterError, Execution, Outcome};
use crate::evidence::EvidenceStore;
use warroom_commands::command::ObjectKind;

/// Store one artifact under `<request>/<name>`; the store hashes it as it writes.
async fn store(
    store: &Arc<dyn EvidenceStore>,
    ex: &Execution,
    name: &str,
    bytes: Vec<u8>,
) -> Result<CapturedArtifact, ClusterError> {
    crate::evidence::put_bytes(store, &ex.incident, &ex.request, name, bytes)
        .await
        .map(|stored| CapturedArtifact {
            name: name.to_owned(),
            stored,
        })
        .map_err(ClusterError::Failed)
}

fn pretty(v: &Value) -> Vec<u8> {
    serde_json::to_vec_pretty(v).unwrap_or_default()
}

/// The pod as applied, without the server's bookkeeping of who wrote which field.
fn as_applied(mut pod: Value) -> Value {
    if let Some(meta) = pod.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    pod
}

pub async fn capture(
    t: &KubeTarget,
    ex: &Execution,
    evidence: Arc<dyn EvidenceStore>,
    settings: &CaptureSettings,
) -> Result<Outcome, ClusterError> {
    let target = &ex.resolved.target;
    let (ns, name) = (target.namespace.as_str(), target.name.as_str());
    let pod_path = rest::path(ObjectKind::Pod, ns, name);
    let pod = t
        .rest
        .get(&pod_path)
        .await
        .map_err(|e| t.rest.fail(&format!("reading {target}"), &e))?;
    let wants = |a: Artifact| settings.collect.is_empty() || settings.collect.contains(&a);
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    if wants(Artifact::PodSpec) {
        files.push(("pod_spec.json".into(), pretty(&as_applied(pod.clone()))));
    }
    if wants(Artifact::OwnerChain) {
        let chain: Vec<Value> = owner_chain(t, ns, &pod)
            .await?
            .into_iter()
            .map(as_applied)
            .collect();
        files.push(("owner_chain.json".into(), pretty(&json!(chain))));
    }
    let statuses = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if wants(Artifact::ImageDigests) {
        let digests: Vec<Value> = statuses
            .iter()
            .map(|s| json!({ "container": s.get("name"), "image": s.get("image"), "imageID": s.get("imageID") }))
            .collect();
        files.push(("image_digests.json".into(), pretty(&json!(digests))));
    }
    if wants(Artifact::Events) {
        let uid = str_at(&pod, "/metadata/uid").unwrap_or_default();
        let events = t
            .rest
            .list(
                &format!("/api/v1/namespaces/{ns}/events"),
                &format!(
                    "fieldSelector={}",
                    query(&format!("involvedObject.uid={uid}"))
                ),
            )
            .await;
        match events {
            Ok(events) => files.push(("events.json".into(), pretty(&json!(events)))),
            // One missing artifact must not cost the others.
            Err(e) => notes.push(format!(
                "events not captured: {}",
                t.rest.fail("listing events", &e)
            )),
        }
    }
    let containers: Vec<String> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c.get("name")?.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    for c in &containers {
        for (artifact, previous, file) in [
            (Artifact::Logs, false, "logs"),
            (Artifact::PreviousLogs, true, "previous_logs"),
        ] {
            if !wants(artifact) {
                continue;
            }
            let path = format!(
                // The tail: the incident is at the end of a long-running container's log.
                "{pod_path}/log?container={}&timestamps=true&tailLines=100000&limitBytes={}{}",
                query(c),
                settings.max_log_bytes.max(1),
                if previous { "&previous=true" } else { "" }
            );
            match t.rest.get_text(&path).await {
                Ok(text) => files.push((format!("{file}.{c}.txt"), text.into_bytes())),
                // No earlier container (it never restarted) is a fact worth recording.
                Err(kube::Error::Api(s)) if previous && s.code == 400 => {
                    notes.push(format!("no previous logs for container {c}: {}", s.message))
                }
                Err(e) => return Err(t.rest.fail(&format!("reading logs of container {c}"), &e)),
            }
        }
    }
    if wants(Artifact::NodeInfo)
        && let Some(node) = str_at(&pod, "/spec/nodeName")
    {
        let node_obj = t
            .rest
            .get(&rest::path(ObjectKind::Node, "", node))
            .await
            .map_err(|e| t.rest.fail(&format!("reading node {node}"), &e))?;
        files.push(("node_info.json".into(), pretty(&as_applied(node_obj))));
    }
    let mut stored = Vec::new();
    for (name, bytes) in files {
        if let Some(p) = &ex.progress {
            p.line(format!("capturing {name} ({} bytes)", bytes.len()));
        }
        stored.push(store(&evidence, ex, &name, bytes).await?);
    }
    let listing: Vec<Value> = stored
        .iter()
        .map(|a| json!({ "name": a.name, "sha256": a.stored.sha256, "size": a.stored.size, "location": a.stored.location }))
        .collect();
    Ok(Outcome {
        dry_run: false,
        summary: format!(
            "captured {} artifacts of {target} into the evidence store{}",
            stored.len(),
            if notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", notes.join("; "))
            }
        ),
        result: json!({ "cluster": ex.resolved.cluster, "target": target.describe(), "uid": ex.resolved.uid, "artifacts": listing, "notes": notes }),
        evidence: stored,
    })
}

pub async fn checkpoint(
    t: &KubeTarget,
    ex: &Execution,
    evidence: Arc<dyn EvidenceStore>,
) -> Result<Outcome, ClusterError> {
    let target = &ex.resolved.target;
    let node = ex.resolved.node.clone().ok_or_else(|| {
        ClusterError::Failed(format!(
            "{target} is not scheduled on a node: nothing to checkpoint"
        ))
    })?;
    let container = match ex.params.get("container") {
        Some(c) => c.clone(),
        None => {
            let pod = t
                .rest
                .get(&rest::path(
                    ObjectKind::Pod,
                    &target.namespace,
                    &target.name,
                ))
                .await
                .map_err(|e| t.rest.fail(&format!("reading {target}"), &e))?;
            str_at(&pod, "/spec/containers/0/name")
                .unwrap_or_default()
                .to_owned()
        }
    };
    let path = format!(
        "/api/v1/nodes/{node}/proxy/checkpoint/{}/{}/{container}",
        target.namespace, target.name
    );
    let body = match t.rest.post_text(&path).await {
        Ok(text) => text,
        Err(e) => return Err(explain_checkpoint(&t.rest.cluster, &node, &e)),
    };
    let artifact = store(
        &evidence,
        ex,
        &format!("checkpoint.{container}.kubelet-response.json"),
        body.clone().into_bytes(),
    )
    .await?;
    let on_node: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    Ok(Outcome {
        dry_run: false,
        summary: format!(
            "checkpointed container {container} of {target} on node {node}; the archive stays on the node: {on_node}"
        ),
        result: json!({ "node": node, "container": container, "kubelet": on_node }),
        evidence: vec![artifact],
    })
}

/// 404 and 500 from the kubelet mean "not available here": say why, and what would fix it.
fn explain_checkpoint(cluster: &str, node: &str, e: &kube::Error) -> ClusterError {
    let status = match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    };
    match status {
        Some(404) => ClusterError::Failed(format!(
            "checkpoint is not available on node {node} (kubelet answered 404): the ContainerCheckpoint feature gate is off or the kubelet is older than 1.25 (beta and on by default since 1.30); capture logs and spec instead"
        )),
        Some(500) => ClusterError::Failed(format!(
            "the container runtime on node {node} could not checkpoint (kubelet answered 500: {e}): it needs CRIU installed and checkpoint support enabled (containerd 2.x or CRI-O with enable_criu_support)"
        )),
        _ => errors::describe(cluster, &format!("checkpoint through node {node}"), e),
    }
}
