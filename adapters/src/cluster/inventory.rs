//! The objects the dry-run cluster knows: a small payments cluster to drill against.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use warroom_commands::command::ObjectKind;

/// One object, with what the actions need to know about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Object {
    #[serde(default = "default_cluster")]
    pub cluster: String,
    pub kind: ObjectKind,
    #[serde(default)]
    pub namespace: String,
    pub name: String,
    /// Assigned when absent.
    #[serde(default)]
    pub uid: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Pods: the node they run on.
    #[serde(default)]
    pub node: Option<String>,
    /// Pods: the controller at the top of the owner chain, as `Kind/name`.
    #[serde(default)]
    pub owner: Option<String>,
    /// Workloads: replicas now.
    #[serde(default)]
    pub replicas: Option<u32>,
    /// Nodes: `aws:///<az>/<instance-id>`.
    #[serde(default)]
    pub provider_id: Option<String>,
}

fn default_cluster() -> String {
    "prod-eu".to_owned()
}

fn pod(ns: &str, name: &str, node: &str, owner: &str, app: &str, hash: Option<&str>) -> Object {
    let mut labels = BTreeMap::from([("app".to_owned(), app.to_owned())]);
    if let Some(h) = hash {
        labels.insert("pod-template-hash".into(), h.into());
    }
    Object {
        cluster: default_cluster(),
        kind: ObjectKind::Pod,
        namespace: ns.into(),
        name: name.into(),
        uid: String::new(),
        labels,
        node: Some(node.into()),
        owner: Some(owner.into()),
        replicas: None,
        provider_id: None,
    }
}

fn workload(kind: ObjectKind, ns: &str, name: &str, replicas: u32) -> Object {
    Object {
        cluster: default_cluster(),
        kind,
        namespace: ns.into(),
        name: name.into(),
        uid: String::new(),
        labels: BTreeMap::from([("app".to_owned(), name.to_owned())]),
        node: None,
        owner: None,
        replicas: Some(replicas),
        provider_id: None,
    }
}

fn node(name: &str, provider_id: &str) -> Object {
    Object {
        cluster: default_cluster(),
        kind: ObjectKind::Node,
        namespace: String::new(),
        name: name.into(),
        uid: String::new(),
        labels: BTreeMap::from([("kubernetes.io/hostname".to_owned(), name.to_owned())]),
        node: None,
        owner: None,
        replicas: None,
        provider_id: Some(provider_id.into()),
    }
}

/// The drill world: the suspect pod `payments/api-7f9c` of deployment `payments/api` on node
/// `ip-10-0-1-23.ec2.internal`, its neighbours, and the payments ledger database.
pub fn payments() -> Vec<Object> {
    use ObjectKind::*;
    let n1 = "ip-10-0-1-23.ec2.internal";
    let n2 = "ip-10-0-2-41.ec2.internal";
    vec![
        node(n1, "aws:///eu-central-1a/i-0a1b2c3d4e5f60718"),
        node(n2, "aws:///eu-central-1b/i-0f9e8d7c6b5a40392"),
        workload(Deployment, "payments", "api", 3),
        workload(StatefulSet, "payments", "ledger-db", 1),
        workload(Deployment, "checkout", "web", 2),
        workload(DaemonSet, "monitoring", "node-exporter", 2),
        pod(
            "payments",
            "api-7f9c",
            n1,
            "Deployment/api",
            "api",
            Some("7f9c5d"),
        ),
        pod(
            "payments",
            "api-5b2k",
            n2,
            "Deployment/api",
            "api",
            Some("7f9c5d"),
        ),
        pod(
            "payments",
            "api-9x7q",
            n2,
            "Deployment/api",
            "api",
            Some("7f9c5d"),
        ),
        pod(
            "payments",
            "ledger-db-0",
            n1,
            "StatefulSet/ledger-db",
            "ledger-db",
            None,
        ),
        pod(
            "checkout",
            "web-6d8f4",
            n1,
            "Deployment/web",
            "web",
            Some("6d8f4c"),
        ),
        pod(
            "checkout",
            "web-2h5j9",
            n2,
            "Deployment/web",
            "web",
            Some("6d8f4c"),
        ),
        pod(
            "monitoring",
            "node-exporter-abc12",
            n1,
            "DaemonSet/node-exporter",
            "node-exporter",
            None,
        ),
        pod(
            "monitoring",
            "node-exporter-def34",
            n2,
            "DaemonSet/node-exporter",
            "node-exporter",
            None,
        ),
        pod(
            "kube-system",
            "coredns-5d78c9869d-4xq2p",
            n2,
            "Deployment/coredns",
            "coredns",
            Some("5d78c9869d"),
        ),
    ]
}
