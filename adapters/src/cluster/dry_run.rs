//! A cluster that applies nothing and answers with exactly what it would apply.
//!
//! Guarantees: no action changes anything anywhere; every outcome says `dry_run: true` and
//! carries the objects, patches and API calls a real executor would send, so the timeline
//! shows what was approved. Assumes: the inventory stands in for the cluster's state (the
//! payments drill world by default). Caveats: actions on AWS (protect, snapshot, revoke) have
//! no executor here and answer "not configured"; they never pretend to have succeeded.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use warroom_commands::command::{ObjectKind, Target};
use warroom_config::ActionName;

use super::inventory::{self, Object};
use super::{Cluster, ClusterError, Execution, Outcome, Resolved};

pub const QUARANTINE_LABEL: &str = "warroom.io/quarantine";
pub const INVESTIGATION_LABEL: &str = "warroom.io/investigation";

pub struct DryRunCluster {
    clusters: Vec<String>,
    objects: Mutex<Vec<Object>>,
    /// Simulated time each action takes, for drills of slow clusters.
    latency: Duration,
}

impl DryRunCluster {
    /// The plan's clusters by name; the drill inventory is placed in the first one.
    pub fn new(clusters: Vec<String>, latency: Duration) -> Self {
        let clusters = if clusters.is_empty() {
            vec!["default".to_owned()]
        } else {
            clusters
        };
        let home = clusters[0].clone();
        let objects = inventory::payments()
            .into_iter()
            .map(|mut o| {
                o.cluster = home.clone();
                o.uid = uid_for(&o, 0);
                o
            })
            .collect();
        DryRunCluster {
            clusters,
            objects: Mutex::new(objects),
            latency,
        }
    }

    pub fn default_cluster(&self) -> &str {
        &self.clusters[0]
    }

    pub fn objects(&self) -> Vec<Object> {
        self.objects
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Add or replace an object, as when a pod is recreated: drills use it to change the
    /// world under a pending request. An object given without a UID gets a new one.
    pub fn upsert(&self, mut object: Object) -> Result<Object, ClusterError> {
        self.check_cluster(&object.cluster)?;
        let mut objects = self.objects.lock().unwrap_or_else(|p| p.into_inner());
        let existing = objects.iter().position(|o| same(o, &object));
        if object.uid.is_empty() {
            let generation = existing.map_or(0, |i| generation_of(&objects[i]) + 1);
            object.uid = uid_for(&object, generation);
        }
        match existing {
            Some(i) => objects[i] = object.clone(),
            None => objects.push(object.clone()),
        }
        Ok(object)
    }

    fn check_cluster(&self, name: &str) -> Result<(), ClusterError> {
        if self.clusters.iter().any(|c| c == name) {
            Ok(())
        } else {
            Err(ClusterError::UnknownCluster {
                name: name.to_owned(),
                known: self.clusters.join(", "),
            })
        }
    }

    fn find(&self, cluster: &str, kind: ObjectKind, namespace: &str, name: &str) -> Option<Object> {
        let objects = self.objects.lock().unwrap_or_else(|p| p.into_inner());
        objects
            .iter()
            .find(|o| {
                o.cluster == cluster && o.kind == kind && o.namespace == namespace && o.name == name
            })
            .cloned()
    }

    fn pods_on(&self, cluster: &str, node: &str) -> Vec<Object> {
        let objects = self.objects.lock().unwrap_or_else(|p| p.into_inner());
        objects
            .iter()
            .filter(|o| {
                o.cluster == cluster && o.kind == ObjectKind::Pod && o.node.as_deref() == Some(node)
            })
            .cloned()
            .collect()
    }
}

fn same(a: &Object, b: &Object) -> bool {
    a.cluster == b.cluster && a.kind == b.kind && a.namespace == b.namespace && a.name == b.name
}

/// UIDs are derived, so a drill replays the same way; a recreated object gets the next one.
fn uid_for(o: &Object, generation: u32) -> String {
    let h = hex::encode(Sha256::digest(format!(
        "{}/{}/{}/{}/{generation}",
        o.cluster, o.kind, o.namespace, o.name
    )));
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn generation_of(o: &Object) -> u32 {
    (0..10_000).find(|g| uid_for(o, *g) == o.uid).unwrap_or(0)
}

fn owner_of(o: &Object) -> Option<(String, String)> {
    o.owner
        .as_deref()
        .and_then(|s| s.split_once('/'))
        .map(|(k, n)| (k.to_owned(), n.to_owned()))
}

fn api_path(kind: ObjectKind, namespace: &str, name: &str) -> String {
    match kind {
        ObjectKind::Pod => format!("/api/v1/namespaces/{namespace}/pods/{name}"),
        ObjectKind::Node => format!("/api/v1/nodes/{name}"),
        ObjectKind::Deployment => {
            format!("/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
        }
        ObjectKind::StatefulSet => {
            format!("/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}")
        }
        ObjectKind::DaemonSet => format!("/apis/apps/v1/namespaces/{namespace}/daemonsets/{name}"),
        ObjectKind::ReplicaSet => {
            format!("/apis/apps/v1/namespaces/{namespace}/replicasets/{name}")
        }
    }
}

fn call(verb: &str, path: String, body: Value) -> Value {
    json!({ "verb": verb, "path": path, "body": body })
}

#[async_trait]
impl Cluster for DryRunCluster {
    async fn resolve(&self, cluster: &str, target: &Target) -> Result<Resolved, ClusterError> {
        self.check_cluster(cluster)?;
        let o = self
            .find(cluster, target.kind, &target.namespace, &target.name)
            .ok_or_else(|| ClusterError::NotFound {
                cluster: cluster.to_owned(),
                kind: target.kind.as_str().to_ascii_lowercase(),
                namespace: target.namespace.clone(),
                name: target.name.clone(),
            })?;
        Ok(Resolved {
            cluster: cluster.to_owned(),
            target: target.clone(),
            uid: Some(o.uid.clone()),
            node: o.node.clone(),
            owner: owner_of(&o),
            labels: o.labels.clone(),
        })
    }

    async fn preview(&self, ex: &Execution) -> Result<Outcome, ClusterError> {
        self.plan_action(ex)
    }

    async fn execute(&self, ex: &Execution) -> Result<Outcome, ClusterError> {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        self.plan_action(ex)
    }
}

impl DryRunCluster {
    /// The objects, patches and calls an action amounts to.
    fn plan_action(&self, ex: &Execution) -> Result<Outcome, ClusterError> {
        let r = &ex.resolved;
        let t = &r.target;
        let path = api_path(t.kind, &t.namespace, &t.name);
        let inc = ex.incident.to_string();
        let (summary, calls): (String, Vec<Value>) = match ex.action {
            ActionName::Capture => {
                let artifacts = [
                    "pod_spec",
                    "owner_chain",
                    "image_digests",
                    "events",
                    "logs",
                    "previous_logs",
                    "node_info",
                ];
                (
                    format!(
                        "would capture {} artifacts of {t} (nothing stored in a dry run)",
                        artifacts.len()
                    ),
                    vec![
                        call("get", path.clone(), Value::Null),
                        call(
                            "list",
                            format!(
                                "/api/v1/namespaces/{}/events?fieldSelector=involvedObject.uid={}",
                                t.namespace,
                                r.uid.clone().unwrap_or_default()
                            ),
                            Value::Null,
                        ),
                        call("get", format!("{path}/log?timestamps=true"), Value::Null),
                        call(
                            "get",
                            format!("{path}/log?previous=true&timestamps=true"),
                            Value::Null,
                        ),
                        json!({ "artifacts": artifacts }),
                    ],
                )
            }
            ActionName::Checkpoint => {
                let container = ex
                    .params
                    .get("container")
                    .cloned()
                    .unwrap_or_else(|| t.name.split('-').next().unwrap_or("app").to_owned());
                let node = r.node.clone().unwrap_or_default();
                (
                    format!("would checkpoint container {container} of {t} through node {node}"),
                    vec![call(
                        "post",
                        format!(
                            "/api/v1/nodes/{node}/proxy/checkpoint/{}/{}/{container}",
                            t.namespace, t.name
                        ),
                        Value::Null,
                    )],
                )
            }
            ActionName::Quarantine => {
                let detach = ex.params.get("detach").is_some_and(|v| v == "true");
                let mut after = r.labels.clone();
                after.insert(QUARANTINE_LABEL.into(), inc.clone());
                let removed: Vec<String> = if detach {
                    r.labels
                        .keys()
                        .filter(|k| *k == "app" || *k == "pod-template-hash")
                        .cloned()
                        .collect()
                } else {
                    Vec::new()
                };
                for k in &removed {
                    after.remove(k);
                }
                let mut label_patch = serde_json::Map::new();
                label_patch.insert(QUARANTINE_LABEL.into(), json!(inc));
                for k in &removed {
                    label_patch.insert(k.clone(), Value::Null);
                }
                let egress = if ex.allow_dns {
                    json!([{ "ports": [{ "protocol": "UDP", "port": 53 }, { "protocol": "TCP", "port": 53 }] }])
                } else {
                    json!([])
                };
                let policy = json!({
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "NetworkPolicy",
                    "metadata": {
                        "name": format!("warroom-quarantine-{}", t.name),
                        "namespace": t.namespace,
                        "labels": { "app.kubernetes.io/managed-by": "warroom", INVESTIGATION_LABEL: inc },
                    },
                    "spec": {
                        "podSelector": { "matchLabels": { QUARANTINE_LABEL: inc } },
                        "policyTypes": ["Ingress", "Egress"],
                        "ingress": [],
                        "egress": egress,
                    }
                });
                let detach_note = if detach {
                    format!(
                        "; labels {} removed so the controller replaces it",
                        removed.join(", ")
                    )
                } else {
                    String::new()
                };
                (
                    format!(
                        "would isolate {t} with NetworkPolicy warroom-quarantine-{} (deny all ingress and egress){detach_note}",
                        t.name
                    ),
                    vec![
                        call(
                            "patch",
                            path.clone(),
                            json!({ "metadata": { "labels": label_patch } }),
                        ),
                        call(
                            "create",
                            format!(
                                "/apis/networking.k8s.io/v1/namespaces/{}/networkpolicies",
                                t.namespace
                            ),
                            policy,
                        ),
                        json!({ "labels_before": r.labels, "labels_after": after }),
                    ],
                )
            }
            ActionName::Release => (
                format!(
                    "would remove NetworkPolicy warroom-quarantine-{} and the quarantine label from {t}",
                    t.name
                ),
                vec![
                    call(
                        "delete",
                        format!(
                            "/apis/networking.k8s.io/v1/namespaces/{}/networkpolicies/warroom-quarantine-{}",
                            t.namespace, t.name
                        ),
                        Value::Null,
                    ),
                    call(
                        "patch",
                        path.clone(),
                        json!({ "metadata": { "labels": { QUARANTINE_LABEL: null } } }),
                    ),
                ],
            ),
            ActionName::Label => {
                let mut labels = serde_json::Map::new();
                for (k, v) in &ex.investigation_labels {
                    labels.insert(k.clone(), json!(v));
                }
                labels.insert(INVESTIGATION_LABEL.into(), json!(inc));
                if let (Some(k), Some(v)) = (ex.params.get("key"), ex.params.get("value")) {
                    labels.insert(k.clone(), json!(v));
                }
                (
                    format!(
                        "would label {t} with {}",
                        labels.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                    vec![
                        call(
                            "patch",
                            path.clone(),
                            json!({ "metadata": { "labels": labels } }),
                        ),
                        json!({ "labels_before": r.labels }),
                    ],
                )
            }
            ActionName::Cordon | ActionName::Uncordon => {
                let on = ex.action == ActionName::Cordon;
                (
                    format!("would {} {t}", if on { "cordon" } else { "uncordon" }),
                    vec![call(
                        "patch",
                        path.clone(),
                        json!({ "spec": { "unschedulable": on } }),
                    )],
                )
            }
            ActionName::Drain => {
                let pods = self.pods_on(&r.cluster, &t.name);
                let mut evict = Vec::new();
                let mut skipped = Vec::new();
                for p in &pods {
                    let daemon = p
                        .owner
                        .as_deref()
                        .is_some_and(|o| o.starts_with("DaemonSet/"));
                    let investigated = p.labels.contains_key(QUARANTINE_LABEL)
                        || p.labels.contains_key(INVESTIGATION_LABEL);
                    let name = format!("{}/{}", p.namespace, p.name);
                    if daemon {
                        skipped.push(json!({ "pod": name, "why": "DaemonSet pod" }));
                    } else if investigated {
                        skipped.push(json!({ "pod": name, "why": "under investigation" }));
                    } else {
                        evict.push(call("create", format!("/api/v1/namespaces/{}/pods/{}/eviction", p.namespace, p.name), json!({ "apiVersion": "policy/v1", "kind": "Eviction", "metadata": { "name": p.name, "namespace": p.namespace } })));
                    }
                }
                let mut calls = vec![call(
                    "patch",
                    path.clone(),
                    json!({ "spec": { "unschedulable": true } }),
                )];
                let n = evict.len();
                calls.extend(evict);
                calls.push(json!({ "skipped": skipped }));
                (
                    format!(
                        "would cordon {t} and evict {n} pod(s), skipping {} (PodDisruptionBudgets honoured)",
                        skipped.len()
                    ),
                    calls,
                )
            }
            ActionName::Scale => {
                let replicas: u32 = ex
                    .params
                    .get("replicas")
                    .and_then(|r| r.parse().ok())
                    .unwrap_or(0);
                let before = self
                    .find(&r.cluster, t.kind, &t.namespace, &t.name)
                    .and_then(|o| o.replicas);
                (
                    format!(
                        "would scale {t} from {} to {replicas} replicas",
                        before.map_or("?".to_owned(), |b| b.to_string())
                    ),
                    vec![
                        call(
                            "patch",
                            format!("{path}/scale"),
                            json!({ "spec": { "replicas": replicas } }),
                        ),
                        json!({ "replicas_before": before }),
                    ],
                )
            }
            ActionName::Restart => (
                format!("would restart {t} (rollout restart)"),
                vec![call(
                    "patch",
                    path.clone(),
                    json!({ "spec": { "template": { "metadata": { "annotations": { "kubectl.kubernetes.io/restartedAt": "<time of execution>" } } } } }),
                )],
            ),
            ActionName::Delete => (
                format!("would delete {t}"),
                vec![call(
                    "delete",
                    path.clone(),
                    json!({ "preconditions": { "uid": r.uid } }),
                )],
            ),
            ActionName::Protect | ActionName::Snapshot | ActionName::Revoke => {
                return Err(ClusterError::NotConfigured(format!(
                    "{} acts on AWS, and this warroom has no AWS executor: the plan needs an [[aws_accounts]] entry named by the cluster's `aws_account` and credentials to assume its role, and this build has no AWS adapter yet; nothing was changed",
                    ex.action
                )));
            }
        };
        Ok(Outcome {
            dry_run: true,
            summary,
            result: json!({ "cluster": r.cluster, "target": t.describe(), "uid": r.uid, "calls": calls }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster() -> DryRunCluster {
        DryRunCluster::new(vec!["prod-eu".into()], Duration::ZERO)
    }

    #[tokio::test]
    async fn unknown_targets_say_which_cluster_and_namespace_were_searched() {
        let e = cluster()
            .resolve("prod-eu", &Target::pod("payments", "nope"))
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "pod nope not found in cluster prod-eu (namespace payments searched)"
        );
        let e = cluster()
            .resolve("moon", &Target::pod("payments", "api-7f9c"))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("known clusters: prod-eu"), "{e}");
    }

    #[tokio::test]
    async fn a_recreated_object_gets_a_new_uid() {
        let c = cluster();
        let before = c
            .resolve("prod-eu", &Target::pod("payments", "api-7f9c"))
            .await
            .unwrap();
        let mut o = c
            .objects()
            .into_iter()
            .find(|o| o.name == "api-7f9c")
            .unwrap();
        o.uid.clear();
        c.upsert(o).unwrap();
        let after = c
            .resolve("prod-eu", &Target::pod("payments", "api-7f9c"))
            .await
            .unwrap();
        assert_ne!(before.uid, after.uid);
        assert_eq!(before.owner, Some(("Deployment".into(), "api".into())));
    }
}
