//! The resource types the simulated API server serves, with what discovery reports for them.

/// One served resource type (one group/version/plural).
#[derive(Debug)]
pub struct ResourceType {
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub subresources: &'static [&'static str],
    /// Field selector labels accepted besides metadata.name and metadata.namespace.
    pub field_labels: &'static [&'static str],
    /// Review-style types are answered, never stored.
    pub stored: bool,
}

impl ResourceType {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// The name error messages use, e.g. `deployments.apps`.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    pub fn has_subresource(&self, name: &str) -> bool {
        self.subresources.contains(&name)
    }

    pub fn verbs(&self) -> &'static [&'static str] {
        if self.stored {
            &[
                "create",
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "update",
                "watch",
            ]
        } else {
            &["create"]
        }
    }
}

const POD_FIELDS: &[&str] = &[
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
];

const EVENT_FIELDS: &[&str] = &[
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
];

const fn core(
    plural: &'static str,
    singular: &'static str,
    kind: &'static str,
    namespaced: bool,
) -> ResourceType {
    ResourceType {
        group: "",
        version: "v1",
        plural,
        singular,
        kind,
        namespaced,
        short_names: &[],
        subresources: &[],
        field_labels: &[],
        stored: true,
    }
}

const fn grouped(
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    singular: &'static str,
    kind: &'static str,
) -> ResourceType {
    ResourceType {
        group,
        version,
        plural,
        singular,
        kind,
        namespaced: true,
        short_names: &[],
        subresources: &["status"],
        field_labels: &[],
        stored: true,
    }
}

pub static RESOURCES: &[ResourceType] = &[
    ResourceType {
        short_names: &["ns"],
        subresources: &["status", "finalize"],
        field_labels: &["status.phase"],
        ..core("namespaces", "namespace", "Namespace", false)
    },
    ResourceType {
        short_names: &["no"],
        subresources: &["status", "proxy"],
        field_labels: &["spec.unschedulable"],
        ..core("nodes", "node", "Node", false)
    },
    ResourceType {
        short_names: &["po"],
        subresources: &["status", "log", "eviction"],
        field_labels: POD_FIELDS,
        ..core("pods", "pod", "Pod", true)
    },
    ResourceType {
        short_names: &["svc"],
        subresources: &["status"],
        ..core("services", "service", "Service", true)
    },
    ResourceType {
        short_names: &["ev"],
        field_labels: EVENT_FIELDS,
        ..core("events", "event", "Event", true)
    },
    ResourceType {
        short_names: &["sa"],
        ..core("serviceaccounts", "serviceaccount", "ServiceAccount", true)
    },
    ResourceType {
        short_names: &["cm"],
        ..core("configmaps", "configmap", "ConfigMap", true)
    },
    ResourceType {
        short_names: &["deploy"],
        subresources: &["status", "scale"],
        ..grouped("apps", "v1", "deployments", "deployment", "Deployment")
    },
    ResourceType {
        short_names: &["sts"],
        subresources: &["status", "scale"],
        ..grouped("apps", "v1", "statefulsets", "statefulset", "StatefulSet")
    },
    ResourceType {
        short_names: &["ds"],
        ..grouped("apps", "v1", "daemonsets", "daemonset", "DaemonSet")
    },
    ResourceType {
        short_names: &["rs"],
        subresources: &["status", "scale"],
        ..grouped("apps", "v1", "replicasets", "replicaset", "ReplicaSet")
    },
    ResourceType {
        short_names: &["netpol"],
        subresources: &[],
        ..grouped(
            "networking.k8s.io",
            "v1",
            "networkpolicies",
            "networkpolicy",
            "NetworkPolicy",
        )
    },
    ResourceType {
        short_names: &["pdb"],
        ..grouped(
            "policy",
            "v1",
            "poddisruptionbudgets",
            "poddisruptionbudget",
            "PodDisruptionBudget",
        )
    },
    ResourceType {
        short_names: &["hpa"],
        ..grouped(
            "autoscaling",
            "v2",
            "horizontalpodautoscalers",
            "horizontalpodautoscaler",
            "HorizontalPodAutoscaler",
        )
    },
    ResourceType {
        namespaced: false,
        subresources: &[],
        stored: false,
        ..grouped(
            "authorization.k8s.io",
            "v1",
            "selfsubjectaccessreviews",
            "selfsubjectaccessreview",
            "SelfSubjectAccessReview",
        )
    },
    // What warroom's own manifests (deploy/kubernetes) use, so they can be applied to a drill.
    ResourceType {
        subresources: &[],
        ..core("secrets", "secret", "Secret", true)
    },
    ResourceType {
        short_names: &["pvc"],
        subresources: &["status"],
        ..core(
            "persistentvolumeclaims",
            "persistentvolumeclaim",
            "PersistentVolumeClaim",
            true,
        )
    },
    ResourceType {
        subresources: &[],
        ..grouped("coordination.k8s.io", "v1", "leases", "lease", "Lease")
    },
    ResourceType {
        subresources: &[],
        ..grouped("rbac.authorization.k8s.io", "v1", "roles", "role", "Role")
    },
    ResourceType {
        subresources: &[],
        ..grouped(
            "rbac.authorization.k8s.io",
            "v1",
            "rolebindings",
            "rolebinding",
            "RoleBinding",
        )
    },
    ResourceType {
        namespaced: false,
        subresources: &[],
        ..grouped(
            "rbac.authorization.k8s.io",
            "v1",
            "clusterroles",
            "clusterrole",
            "ClusterRole",
        )
    },
    ResourceType {
        namespaced: false,
        subresources: &[],
        ..grouped(
            "rbac.authorization.k8s.io",
            "v1",
            "clusterrolebindings",
            "clusterrolebinding",
            "ClusterRoleBinding",
        )
    },
];

/// The resource type served at a group/version/plural.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
    RESOURCES
        .iter()
        .find(|rt| rt.group == group && rt.version == version && rt.plural == plural)
}

/// The resource type for a manifest's apiVersion and kind.
pub fn by_kind(api_version: &str, kind: &str) -> Option<&'static ResourceType> {
    RESOURCES
        .iter()
        .find(|rt| rt.kind == kind && rt.api_version() == api_version)
}

pub fn resource(group: &str, plural: &str) -> Option<&'static ResourceType> {
    RESOURCES
        .iter()
        .find(|rt| rt.group == group && rt.plural == plural)
}

/// The non-core groups in discovery order, each with its one served version.
pub fn groups() -> Vec<(&'static str, &'static str)> {
    let mut groups: Vec<(&str, &str)> = Vec::new();
    for rt in RESOURCES.iter().filter(|rt| !rt.group.is_empty()) {
        if !groups.iter().any(|(g, _)| *g == rt.group) {
            groups.push((rt.group, rt.version));
        }
    }
    groups
}

// Handy constants for the types the controllers work with.
pub fn pods() -> &'static ResourceType {
    &RESOURCES[2]
}
pub fn namespaces() -> &'static ResourceType {
    &RESOURCES[0]
}
pub fn nodes() -> &'static ResourceType {
    &RESOURCES[1]
}
pub fn deployments() -> &'static ResourceType {
    &RESOURCES[7]
}
pub fn statefulsets() -> &'static ResourceType {
    &RESOURCES[8]
}
pub fn daemonsets() -> &'static ResourceType {
    &RESOURCES[9]
}
pub fn replicasets() -> &'static ResourceType {
    &RESOURCES[10]
}
pub fn pdbs() -> &'static ResourceType {
    &RESOURCES[12]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_constants_point_at_their_types() {
        assert_eq!(pods().kind, "Pod");
        assert_eq!(namespaces().kind, "Namespace");
        assert_eq!(nodes().kind, "Node");
        assert_eq!(deployments().kind, "Deployment");
        assert_eq!(statefulsets().kind, "StatefulSet");
        assert_eq!(daemonsets().kind, "DaemonSet");
        assert_eq!(replicasets().kind, "ReplicaSet");
        assert_eq!(pdbs().kind, "PodDisruptionBudget");
    }

    #[test]
    fn kinds_resolve_by_api_version() {
        assert!(by_kind("apps/v1", "Deployment").is_some());
        assert!(by_kind("extensions/v1beta1", "Deployment").is_none());
        assert_eq!(find("", "v1", "pods").map(|rt| rt.kind), Some("Pod"));
    }
}
