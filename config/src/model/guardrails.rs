//! `[guardrails]` and `[[critical]]`: what must never be touched lightly.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::action::ActionName;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guardrails {
    /// Namespaces where no containment or destructive action runs.
    #[serde(default)]
    pub protected_namespaces: Vec<String>,
    /// Actions refused until evidence was captured for the target (unless overridden with a reason).
    #[serde(default)]
    pub require_evidence_before: Vec<ActionName>,
    /// Whether a quarantined pod may still reach DNS.
    #[serde(default)]
    pub quarantine_allow_dns: bool,
    /// Extra labels put on quarantined or investigated objects.
    #[serde(default)]
    pub investigation_labels: BTreeMap<String, String>,
}

impl Guardrails {
    pub fn is_protected_namespace(&self, namespace: &str) -> bool {
        self.protected_namespaces.iter().any(|n| n == namespace)
    }
}

/// A workload whose changes need more approvals than usual.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CriticalWorkload {
    /// A `[[clusters]]` name.
    pub cluster: String,
    pub namespace: String,
    /// Kubernetes kind, e.g. Deployment or StatefulSet.
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub reason: String,
    /// Added to the action's approvals for containment and destructive actions.
    #[serde(default = "one")]
    pub extra_approvals: u32,
}

fn one() -> u32 {
    1
}

impl CriticalWorkload {
    pub fn matches(&self, cluster: &str, namespace: &str, kind: &str, name: &str) -> bool {
        self.cluster == cluster
            && self.namespace == namespace
            && self.kind.eq_ignore_ascii_case(kind)
            && self.name == name
    }
}
