//! Simple synchronous controllers run after every write: Deployments, ReplicaSets,
//! StatefulSets, DaemonSets, disruption budgets and garbage collection.

use serde_json::{Value, json};

use crate::catalog::{self, ResourceType};
use crate::store::Store;
use crate::{eviction, ids, lifecycle, meta, selector};

/// More pods than a drill needs; a huge replica count must not exhaust memory.
const MAX_REPLICAS: i64 = 500;

/// Brings every workload in `namespace` (all namespaces for "") in line with its spec.
pub fn reconcile(store: &mut Store, namespace: &str) {
    if namespace.is_empty() {
        let all: Vec<String> = store
            .list(catalog::namespaces(), None)
            .into_iter()
            .map(|n| meta::name(n).to_string())
            .collect();
        for ns in all {
            reconcile_namespace(store, &ns);
        }
    } else {
        reconcile_namespace(store, namespace);
    }
}

fn reconcile_namespace(store: &mut Store, ns: &str) {
    deployments(store, ns);
    replicasets(store, ns);
    statefulsets(store, ns);
    daemonsets(store, ns);
    deployment_status(store, ns);
    budgets(store, ns);
}

fn named(store: &Store, rt: &'static ResourceType, ns: &str) -> Vec<Value> {
    store.list(rt, Some(ns)).into_iter().cloned().collect()
}

/// Writes `status` when it differs from what is stored.
fn set_status(store: &mut Store, rt: &'static ResourceType, mut obj: Value, status: Value) {
    let mut merged = obj
        .get("status")
        .cloned()
        .filter(Value::is_object)
        .unwrap_or(json!({}));
    if let (Some(m), Value::Object(new)) = (merged.as_object_mut(), status) {
        m.extend(new);
    }
    if obj.get("status") != Some(&merged) {
        meta::set(&mut obj, "status", merged);
        store.update(rt, obj);
    }
}

fn generation(obj: &Value) -> i64 {
    obj.pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

/// Pods controlled by `owner`, split into those its selector still selects and those it no
/// longer does (which it releases, as the real controllers do).
fn owned_pods(store: &mut Store, owner: &Value) -> Vec<(u64, Value)> {
    let uid = meta::uid(owner).to_string();
    let selector = owner.pointer("/spec/selector").cloned();
    let ns = meta::namespace(owner).to_string();
    let mut kept = Vec::new();
    let mut released = Vec::new();
    for (seq, pod) in store.list_with_seq(catalog::pods(), Some(&ns)) {
        if meta::controller_uid(pod) != uid {
            continue;
        }
        if selector::selects(selector.as_ref(), meta::labels(pod)) {
            kept.push((seq, pod.clone()));
        } else {
            released.push(pod.clone());
        }
    }
    for mut pod in released {
        if let Some(refs) = pod
            .pointer_mut("/metadata/ownerReferences")
            .and_then(Value::as_array_mut)
        {
            refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(uid.as_str()));
            if refs.is_empty()
                && let Some(m) = meta::metadata_mut(&mut pod)
            {
                m.remove("ownerReferences");
            }
        }
        store.update(catalog::pods(), pod);
    }
    kept
}

fn deployments(store: &mut Store, ns: &str) {
    for deploy in named(store, catalog::deployments(), ns) {
        let uid = meta::uid(&deploy).to_string();
        let mut owned: Vec<(u64, Value)> = store
            .list_with_seq(catalog::replicasets(), Some(ns))
            .into_iter()
            .filter(|(_, rs)| meta::controller_uid(rs) == uid)
            .map(|(seq, rs)| (seq, rs.clone()))
            .collect();
        owned.sort_by_key(|(seq, _)| *seq);
        let desired = meta::replicas(&deploy);
        let Some((_, newest)) = owned.pop() else {
            create_replicaset(store, &deploy, desired);
            continue;
        };
        for (_, mut old) in owned {
            if meta::replicas(&old) != 0 {
                meta::set_path(&mut old, &["spec", "replicas"], json!(0));
                store.update(catalog::replicasets(), old);
            }
        }
        if meta::replicas(&newest) != desired {
            let mut rs = newest;
            meta::set_path(&mut rs, &["spec", "replicas"], json!(desired));
            bump_generation(&mut rs);
            store.update(catalog::replicasets(), rs);
        }
    }
}

fn bump_generation(obj: &mut Value) {
    let next = generation(obj) + 1;
    meta::set_meta(obj, "generation", json!(next));
}

/// The first ReplicaSet of a Deployment created through the API.
fn create_replicaset(store: &mut Store, deploy: &Value, replicas: i64) {
    let ns = meta::namespace(deploy);
    let template = deploy
        .pointer("/spec/template")
        .cloned()
        .unwrap_or(json!({}));
    let hash = ids::hex_digest(&template.to_string(), 10);
    let name = format!("{}-{hash}", meta::name(deploy));
    if store.contains(catalog::replicasets(), ns, &name) {
        return;
    }
    let mut template = template;
    let mut labels = template
        .pointer("/metadata/labels")
        .cloned()
        .filter(Value::is_object)
        .unwrap_or(json!({}));
    labels["pod-template-hash"] = json!(hash);
    meta::set_meta(&mut template, "labels", labels.clone());
    let mut selector = deploy
        .pointer("/spec/selector")
        .cloned()
        .filter(Value::is_object)
        .unwrap_or(json!({}));
    let mut match_labels = selector
        .get("matchLabels")
        .cloned()
        .filter(Value::is_object)
        .unwrap_or(json!({}));
    match_labels["pod-template-hash"] = json!(hash);
    selector["matchLabels"] = match_labels;
    let rs = json!({
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": store.ids.uid(),
            "creationTimestamp": crate::clock::now(),
            "generation": 1,
            "labels": labels,
            "annotations": { "deployment.kubernetes.io/revision": "1" },
            "ownerReferences": [meta::owner_ref("apps/v1", "Deployment", meta::name(deploy), meta::uid(deploy))],
        },
        "spec": { "replicas": replicas, "selector": selector, "template": template },
    });
    store.insert(catalog::replicasets(), rs);
}

fn replicasets(store: &mut Store, ns: &str) {
    for rs in named(store, catalog::replicasets(), ns) {
        let mut pods: Vec<(u64, Value)> = owned_pods(store, &rs)
            .into_iter()
            .filter(|(_, p)| meta::pod_active(p))
            .collect();
        let desired = usize::try_from(meta::replicas(&rs).clamp(0, MAX_REPLICAS)).unwrap_or(0);
        let owner = meta::owner_ref("apps/v1", "ReplicaSet", meta::name(&rs), meta::uid(&rs));
        let template = rs.pointer("/spec/template").cloned().unwrap_or(json!({}));
        while pods.len() < desired {
            let name = loop {
                let candidate = format!("{}-{}", meta::name(&rs), store.ids.suffix(5));
                if !store.contains(catalog::pods(), ns, &candidate) {
                    break candidate;
                }
            };
            let pod = lifecycle::from_template(store, &template, &name, ns, owner.clone(), None);
            let pod = store.insert(catalog::pods(), pod);
            pods.push((u64::MAX, pod));
        }
        if pods.len() > desired {
            // The newest go first, as the ReplicaSet controller prefers younger pods.
            pods.sort_by_key(|(seq, _)| std::cmp::Reverse(*seq));
            let surplus = pods.len() - desired;
            for (_, pod) in pods.drain(..surplus) {
                store.remove(catalog::pods(), ns, meta::name(&pod));
            }
        }
        let ready = pods.iter().filter(|(_, p)| meta::pod_ready(p)).count();
        let Some(current) = store
            .get(catalog::replicasets(), ns, meta::name(&rs))
            .cloned()
        else {
            continue;
        };
        let status = json!({
            "replicas": pods.len(),
            "fullyLabeledReplicas": pods.len(),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": generation(&current),
        });
        set_status(store, catalog::replicasets(), current, status);
    }
}

fn deployment_status(store: &mut Store, ns: &str) {
    for deploy in named(store, catalog::deployments(), ns) {
        let uid = meta::uid(&deploy);
        let mut owned: Vec<(u64, &Value)> = store
            .list_with_seq(catalog::replicasets(), Some(ns))
            .into_iter()
            .filter(|(_, rs)| meta::controller_uid(rs) == uid)
            .collect();
        owned.sort_by_key(|(seq, _)| *seq);
        let count = |key: &str| -> i64 {
            owned
                .iter()
                .map(|(_, rs)| {
                    rs.pointer(&format!("/status/{key}"))
                        .and_then(Value::as_i64)
                        .unwrap_or(0)
                })
                .sum()
        };
        let replicas = count("replicas");
        let ready = count("readyReplicas");
        let available = count("availableReplicas");
        let updated = owned
            .last()
            .and_then(|(_, rs)| rs.pointer("/status/replicas").and_then(Value::as_i64))
            .unwrap_or(0);
        let desired = meta::replicas(&deploy);
        let status = json!({
            "replicas": replicas,
            "readyReplicas": ready,
            "availableReplicas": available,
            "updatedReplicas": updated,
            "unavailableReplicas": (desired - available).max(0),
            "observedGeneration": generation(&deploy),
        });
        set_status(store, catalog::deployments(), deploy, status);
    }
}

fn statefulsets(store: &mut Store, ns: &str) {
    for sts in named(store, catalog::statefulsets(), ns) {
        let name = meta::name(&sts).to_string();
        let desired = meta::replicas(&sts).clamp(0, MAX_REPLICAS);
        let pods = owned_pods(store, &sts);
        let owner = meta::owner_ref("apps/v1", "StatefulSet", &name, meta::uid(&sts));
        let ordinal = |pod: &Value| {
            meta::name(pod)
                .strip_prefix(&format!("{name}-"))
                .and_then(|o| o.parse::<i64>().ok())
        };
        for (_, pod) in &pods {
            if ordinal(pod).is_none_or(|o| o >= desired) {
                store.remove(catalog::pods(), ns, meta::name(pod));
            }
        }
        for i in 0..desired {
            let pod_name = format!("{name}-{i}");
            // A detached pod keeps the name; the real controller waits too.
            if store.contains(catalog::pods(), ns, &pod_name) {
                continue;
            }
            let mut template = sts.pointer("/spec/template").cloned().unwrap_or(json!({}));
            let mut labels = template
                .pointer("/metadata/labels")
                .cloned()
                .filter(Value::is_object)
                .unwrap_or(json!({}));
            labels["statefulset.kubernetes.io/pod-name"] = json!(pod_name);
            labels["apps.kubernetes.io/pod-index"] = json!(i.to_string());
            meta::set_meta(&mut template, "labels", labels);
            if let Some(spec) = template.get_mut("spec").and_then(Value::as_object_mut) {
                spec.insert("hostname".into(), json!(pod_name));
                if let Some(service) = sts.pointer("/spec/serviceName") {
                    spec.insert("subdomain".into(), service.clone());
                }
                // Each replica mounts its own claim from every volumeClaimTemplate.
                let claims: Vec<Value> = sts
                    .pointer("/spec/volumeClaimTemplates")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|t| {
                        let claim = meta::name(t);
                        json!({ "name": claim, "persistentVolumeClaim": { "claimName": format!("{claim}-{pod_name}") } })
                    })
                    .collect();
                if !claims.is_empty() {
                    let volumes = spec.entry("volumes").or_insert(json!([]));
                    if let Some(list) = volumes.as_array_mut() {
                        list.extend(claims);
                    }
                }
            }
            let pod =
                lifecycle::from_template(store, &template, &pod_name, ns, owner.clone(), None);
            store.insert(catalog::pods(), pod);
        }
        let pods: Vec<Value> = owned_pods(store, &sts)
            .into_iter()
            .map(|(_, p)| p)
            .collect();
        let ready = pods.iter().filter(|p| meta::pod_ready(p)).count();
        let Some(current) = store.get(catalog::statefulsets(), ns, &name).cloned() else {
            continue;
        };
        let status = json!({
            "replicas": pods.len(),
            "readyReplicas": ready,
            "currentReplicas": pods.len(),
            "updatedReplicas": pods.len(),
            "availableReplicas": ready,
            "observedGeneration": generation(&current),
        });
        set_status(store, catalog::statefulsets(), current, status);
    }
}

fn fits(node: &Value, template: &Value) -> bool {
    let Some(wanted) = template
        .pointer("/spec/nodeSelector")
        .and_then(Value::as_object)
    else {
        return true;
    };
    let labels = meta::labels(node);
    wanted
        .iter()
        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

fn daemonsets(store: &mut Store, ns: &str) {
    let nodes: Vec<Value> = store
        .list(catalog::nodes(), None)
        .into_iter()
        .cloned()
        .collect();
    for ds in named(store, catalog::daemonsets(), ns) {
        let template = ds.pointer("/spec/template").cloned().unwrap_or(json!({}));
        let owner = meta::owner_ref("apps/v1", "DaemonSet", meta::name(&ds), meta::uid(&ds));
        let mut pods: Vec<(u64, Value)> = owned_pods(store, &ds)
            .into_iter()
            .filter(|(_, p)| meta::pod_active(p))
            .collect();
        pods.sort_by_key(|(seq, _)| *seq);
        let targets: Vec<&Value> = nodes.iter().filter(|n| fits(n, &template)).collect();
        let mut seen: Vec<String> = Vec::new();
        for (_, pod) in &pods {
            let node = meta::str_at(pod, "/spec/nodeName").to_string();
            let wanted = targets.iter().any(|n| meta::name(n) == node);
            if !wanted || seen.contains(&node) {
                store.remove(catalog::pods(), ns, meta::name(pod));
            } else {
                seen.push(node);
            }
        }
        for node in &targets {
            let node_name = meta::name(node).to_string();
            if seen.contains(&node_name) {
                continue;
            }
            let name = format!("{}-{}", meta::name(&ds), store.ids.suffix(5));
            let pod = lifecycle::from_template(
                store,
                &template,
                &name,
                ns,
                owner.clone(),
                Some(node_name),
            );
            store.insert(catalog::pods(), pod);
        }
        let pods: Vec<Value> = owned_pods(store, &ds).into_iter().map(|(_, p)| p).collect();
        let ready = pods.iter().filter(|p| meta::pod_ready(p)).count();
        let Some(current) = store
            .get(catalog::daemonsets(), ns, meta::name(&ds))
            .cloned()
        else {
            continue;
        };
        let status = json!({
            "desiredNumberScheduled": targets.len(),
            "currentNumberScheduled": pods.len(),
            "updatedNumberScheduled": pods.len(),
            "numberReady": ready,
            "numberAvailable": ready,
            "numberMisscheduled": 0,
            "observedGeneration": generation(&current),
        });
        set_status(store, catalog::daemonsets(), current, status);
    }
}

fn budgets(store: &mut Store, ns: &str) {
    for pdb in named(store, catalog::pdbs(), ns) {
        let budget = eviction::Budget::of(store, &pdb);
        let status = json!({
            "currentHealthy": budget.healthy,
            "desiredHealthy": budget.desired,
            "expectedPods": budget.expected,
            "disruptionsAllowed": (budget.healthy - budget.desired).max(0),
            "observedGeneration": generation(&pdb),
        });
        set_status(store, catalog::pdbs(), pdb, status);
    }
}

/// Deletes the dependents of a deleted object (background propagation), or strips their
/// ownerReference to it when orphaning.
pub fn collect_garbage(store: &mut Store, uid: &str, orphan: bool) {
    if uid.is_empty() {
        return;
    }
    for (group, plural, ns, name) in store.dependents(uid) {
        let Some(rt) = catalog::resource(group, plural) else {
            continue;
        };
        if orphan {
            let Some(mut obj) = store.get(rt, &ns, &name).cloned() else {
                continue;
            };
            if let Some(refs) = obj
                .pointer_mut("/metadata/ownerReferences")
                .and_then(Value::as_array_mut)
            {
                refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(uid));
            }
            store.update(rt, obj);
        } else if let Some(obj) = store.remove(rt, &ns, &name) {
            collect_garbage(store, meta::uid(&obj), false);
        }
    }
}
