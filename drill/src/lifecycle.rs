//! What the scheduler and kubelet would do to a new pod: pick a node, start its containers.

use serde_json::{Value, json};

use crate::store::Store;
use crate::{catalog, clock, ids, meta};

fn schedulable(node: &Value) -> bool {
    node.pointer("/spec/unschedulable").and_then(Value::as_bool) != Some(true)
}

/// The node a pod owned by `owner_uid` goes to: the hinted node while it takes pods, else the
/// schedulable node running the fewest of the owner's pods.
pub fn choose_node(store: &mut Store, owner_uid: &str) -> Option<String> {
    let nodes: Vec<(String, bool)> = store
        .list(catalog::nodes(), None)
        .into_iter()
        .map(|n| (meta::name(n).to_string(), schedulable(n)))
        .collect();
    if let Some(hints) = store.node_hints.get_mut(owner_uid) {
        while let Some(hint) = hints.pop() {
            if nodes.iter().any(|(n, ok)| *n == hint && *ok) {
                return Some(hint);
            }
        }
    }
    let pods = store.list(catalog::pods(), None);
    let load = |node: &str, owned_only: bool| {
        pods.iter()
            .filter(|p| meta::str_at(p, "/spec/nodeName") == node)
            .filter(|p| !owned_only || meta::controller_uid(p) == owner_uid)
            .count()
    };
    nodes
        .iter()
        .filter(|(_, ok)| *ok)
        .min_by_key(|(n, _)| (load(n, true), load(n, false), n.clone()))
        .map(|(n, _)| n.clone())
}

/// A free pod IP from the node's podCIDR (a /24 is assumed).
fn pod_ip(store: &Store, node: &Value) -> String {
    let cidr = meta::str_at(node, "/spec/podCIDR");
    let prefix = cidr
        .split('/')
        .next()
        .and_then(|ip| ip.rsplit_once('.'))
        .map(|(p, _)| p.to_string())
        .unwrap_or_else(|| "10.244.0".to_string());
    let used: Vec<String> = store
        .list(catalog::pods(), None)
        .into_iter()
        .map(|p| meta::str_at(p, "/status/podIP").to_string())
        .collect();
    (2..255)
        .map(|n| format!("{prefix}.{n}"))
        .find(|ip| !used.contains(ip))
        .unwrap_or_else(|| format!("{prefix}.254"))
}

fn node_ip(node: &Value) -> String {
    node.pointer("/status/addresses")
        .and_then(Value::as_array)
        .and_then(|a| {
            a.iter()
                .find(|x| x.get("type").and_then(Value::as_str) == Some("InternalIP"))
        })
        .and_then(|x| x.get("address"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// `registry/app@sha256:…` for an image reference, as containerd reports imageID.
pub fn image_id(image: &str) -> String {
    if image.contains("@sha256:") {
        return image.to_string();
    }
    let repo = match image.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => image,
    };
    format!("{repo}@sha256:{}", ids::hex_digest(image, 64))
}

fn condition(kind: &str, status: &str, now: &str) -> Value {
    json!({ "type": kind, "status": status, "lastProbeTime": null, "lastTransitionTime": now })
}

/// Schedules and starts a new pod unless it already carries a status.
pub fn start(store: &mut Store, pod: &mut Value) {
    if pod.pointer("/status/phase").is_some() {
        return;
    }
    let now = clock::now();
    let mut node_name = meta::str_at(pod, "/spec/nodeName").to_string();
    if node_name.is_empty() {
        let owner = meta::controller_uid(pod).to_string();
        if let Some(chosen) = choose_node(store, &owner) {
            node_name = chosen;
            if let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) {
                spec.insert("nodeName".into(), json!(node_name));
            }
        }
    }
    let node = store.get(catalog::nodes(), "", &node_name).cloned();
    let Some(node) = node else {
        let message = match store.list(catalog::nodes(), None).len() {
            0 => "no nodes available to schedule pods".to_string(),
            n => format!("0/{n} nodes are available: {n} node(s) were unschedulable."),
        };
        let mut scheduled = condition("PodScheduled", "False", &now);
        scheduled["reason"] = json!("Unschedulable");
        scheduled["message"] = json!(message);
        meta::set(
            pod,
            "status",
            json!({ "phase": "Pending", "conditions": [scheduled], "qosClass": "BestEffort" }),
        );
        return;
    };
    let containers: Vec<Value> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let statuses: Vec<Value> = containers
        .iter()
        .map(|c| {
            let image = c.get("image").and_then(Value::as_str).unwrap_or("");
            json!({
                "name": c.get("name").cloned().unwrap_or(json!("")),
                "image": image,
                "imageID": image_id(image),
                "containerID": format!("containerd://{}", store.ids.hex(64)),
                "ready": true,
                "started": true,
                "restartCount": 0,
                "state": { "running": { "startedAt": now } },
                "lastState": {},
            })
        })
        .collect();
    let qos = if containers.iter().any(|c| {
        c.get("resources")
            .is_some_and(|r| r.as_object().is_some_and(|m| !m.is_empty()))
    }) {
        "Burstable"
    } else {
        "BestEffort"
    };
    let host_ip = node_ip(&node);
    let ip = pod_ip(store, &node);
    meta::set(
        pod,
        "status",
        json!({
            "phase": "Running",
            "conditions": [
                condition("PodReadyToStartContainers", "True", &now),
                condition("Initialized", "True", &now),
                condition("Ready", "True", &now),
                condition("ContainersReady", "True", &now),
                condition("PodScheduled", "True", &now),
            ],
            "hostIP": host_ip,
            "hostIPs": [{ "ip": host_ip }],
            "podIP": ip,
            "podIPs": [{ "ip": ip }],
            "startTime": now,
            "containerStatuses": statuses,
            "qosClass": qos,
        }),
    );
}

/// A new pod from a workload's pod template, owned by that workload.
pub fn from_template(
    store: &mut Store,
    template: &Value,
    name: &str,
    namespace: &str,
    owner: Value,
    node: Option<String>,
) -> Value {
    let mut spec = template.get("spec").cloned().unwrap_or(json!({}));
    if let Some(node) = node
        && let Some(map) = meta::object_mut(&mut spec)
    {
        map.insert("nodeName".into(), json!(node));
    }
    let mut metadata = template
        .get("metadata")
        .cloned()
        .filter(Value::is_object)
        .unwrap_or(json!({}));
    if let Some(m) = meta::object_mut(&mut metadata) {
        m.remove("creationTimestamp");
        m.insert("name".into(), json!(name));
        m.insert("namespace".into(), json!(namespace));
        m.insert("uid".into(), json!(store.ids.uid()));
        m.insert("creationTimestamp".into(), json!(clock::now()));
        m.insert("generation".into(), json!(1));
        m.insert("ownerReferences".into(), json!([owner]));
    }
    let mut pod = json!({ "apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec });
    start(store, &mut pod);
    pod
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_ids_keep_the_repository() {
        let id = image_id("registry.northwind.example/payments/api:2.14.3");
        assert!(id.starts_with("registry.northwind.example/payments/api@sha256:"));
        assert_eq!(
            id.len(),
            "registry.northwind.example/payments/api@sha256:".len() + 64
        );
        assert_eq!(
            image_id("localhost:5000/app"),
            format!(
                "localhost:5000/app@sha256:{}",
                ids::hex_digest("localhost:5000/app", 64)
            )
        );
    }

    #[test]
    fn pods_without_nodes_stay_pending() {
        let mut store = Store::new();
        let mut pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}});
        start(&mut store, &mut pod);
        assert_eq!(pod["status"]["phase"], "Pending");
    }
}
