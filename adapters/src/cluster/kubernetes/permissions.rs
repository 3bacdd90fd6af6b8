//! The Kubernetes permissions each action needs: what `warroom preflight` asks the cluster
//! about, and what deploy/rbac.yaml grants (a test keeps the two and the code in step).

use warroom_config::ActionName;

/// One permission: verb on group/resource(/subresource), as RBAC and SelfSubjectAccessReview
/// spell them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Permission {
    pub verb: &'static str,
    pub group: &'static str,
    pub resource: &'static str,
    pub subresource: &'static str,
}

const fn p(
    verb: &'static str,
    group: &'static str,
    resource: &'static str,
    subresource: &'static str,
) -> Permission {
    Permission {
        verb,
        group,
        resource,
        subresource,
    }
}

/// Reading a target to resolve it and its owner chain (every action does this first).
const RESOLVE: &[Permission] = &[
    p("get", "", "pods", ""),
    p("get", "", "nodes", ""),
    p("get", "apps", "replicasets", ""),
    p("get", "apps", "deployments", ""),
    p("get", "apps", "statefulsets", ""),
    p("get", "apps", "daemonsets", ""),
];

/// What one action needs beyond resolving its target.
pub fn for_action(action: ActionName) -> Vec<Permission> {
    match action {
        ActionName::Capture => vec![p("list", "", "events", ""), p("get", "", "pods", "log")],
        ActionName::Checkpoint => vec![p("create", "", "nodes", "proxy")],
        ActionName::Quarantine => vec![
            p("patch", "", "pods", ""),
            p("create", "networking.k8s.io", "networkpolicies", ""),
            p("patch", "networking.k8s.io", "networkpolicies", ""),
            p("list", "networking.k8s.io", "networkpolicies", ""),
            p("list", "", "services", ""),
        ],
        ActionName::Release => vec![
            p("patch", "", "pods", ""),
            p("delete", "networking.k8s.io", "networkpolicies", ""),
        ],
        ActionName::Label => vec![p("patch", "", "pods", ""), p("patch", "", "nodes", "")],
        ActionName::Cordon | ActionName::Uncordon => vec![p("patch", "", "nodes", "")],
        ActionName::Drain => vec![
            p("patch", "", "nodes", ""),
            p("list", "", "pods", ""),
            p("create", "", "pods", "eviction"),
        ],
        ActionName::Scale => vec![
            p("patch", "apps", "deployments", "scale"),
            p("patch", "apps", "statefulsets", "scale"),
            p("patch", "apps", "replicasets", "scale"),
            p("list", "autoscaling", "horizontalpodautoscalers", ""),
        ],
        ActionName::Restart => vec![
            p("patch", "apps", "deployments", ""),
            p("patch", "apps", "statefulsets", ""),
            p("patch", "apps", "daemonsets", ""),
        ],
        ActionName::Delete => vec![
            p("delete", "", "pods", ""),
            p("delete", "apps", "deployments", ""),
            p("delete", "apps", "statefulsets", ""),
            p("delete", "apps", "daemonsets", ""),
            p("delete", "apps", "replicasets", ""),
        ],
        // Protection also annotates the node (karpenter.sh/do-not-disrupt).
        ActionName::Protect | ActionName::Unprotect => vec![p("patch", "", "nodes", "")],
        // Revocation's blast radius: every pod's service account role, every node's instance.
        ActionName::Revoke | ActionName::Unrevoke => vec![
            p("list", "", "serviceaccounts", ""),
            p("list", "", "pods", ""),
            p("list", "", "nodes", ""),
        ],
        // Snapshot reads the node (for its instance id) and nothing else here.
        ActionName::Snapshot => Vec::new(),
    }
}

/// Everything `action` needs, resolving included, without duplicates.
pub fn needed(action: ActionName) -> Vec<Permission> {
    let mut all: Vec<Permission> = RESOLVE.iter().copied().chain(for_action(action)).collect();
    all.sort();
    all.dedup();
    all
}

/// What `warroom preflight` itself uses.
pub const PREFLIGHT: &[Permission] = &[
    p(
        "create",
        "authorization.k8s.io",
        "selfsubjectaccessreviews",
        "",
    ),
    p("list", "apps", "daemonsets", ""),
];
