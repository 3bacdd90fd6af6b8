//! Before an incident: would each planned action be permitted, and does a CNI enforce
//! NetworkPolicy? Asked of the cluster itself (SelfSubjectAccessReview), not guessed.

use serde_json::{Value, json};
use warroom_config::ActionName;

use super::permissions::{Permission, needed};
use super::{KubeTarget, str_at};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// The rules that are missing, written as RBAC would need them.
    Denied(Vec<String>),
    /// The cluster could not say (unreachable, SSAR refused).
    Unknown(String),
}

#[derive(Debug, Clone)]
pub struct ActionCheck {
    pub action: ActionName,
    pub verdict: Verdict,
}

#[derive(Debug, Clone)]
pub struct CniReport {
    /// What was found, e.g. "calico-node (kube-system)".
    pub found: Vec<String>,
    /// Whether something found enforces NetworkPolicy.
    pub enforcing: bool,
    /// Set when the DaemonSets could not be listed.
    pub error: Option<String>,
}

pub fn rule_text(p: &Permission) -> String {
    let group = if p.group.is_empty() { "\"\"" } else { p.group };
    let resource = if p.subresource.is_empty() {
        p.resource.to_owned()
    } else {
        format!("{}/{}", p.resource, p.subresource)
    };
    format!(
        "apiGroups: [{group}], resources: [{resource}], verbs: [{}]",
        p.verb
    )
}

/// Ask whether this identity may do `p` anywhere in the cluster.
async fn review(t: &KubeTarget, p: &Permission) -> Result<(bool, String), String> {
    let body = json!({
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": { "resourceAttributes": { "verb": p.verb, "group": p.group, "resource": p.resource, "subresource": p.subresource } }
    });
    let answer = t
        .rest
        .create(
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            &body,
        )
        .await
        .map_err(|e| format!("SelfSubjectAccessReview failed: {e}"))?;
    let allowed = answer
        .pointer("/status/allowed")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let reason = str_at(&answer, "/status/reason")
        .unwrap_or_default()
        .to_owned();
    Ok((allowed, reason))
}

pub async fn check_actions(t: &KubeTarget, actions: &[ActionName]) -> Vec<ActionCheck> {
    let mut out = Vec::new();
    for &action in actions {
        let mut missing = Vec::new();
        let mut unknown = None;
        for p in needed(action) {
            match review(t, &p).await {
                Ok((true, _)) => {}
                Ok((false, _)) => missing.push(rule_text(&p)),
                Err(e) => {
                    unknown = Some(e);
                    break;
                }
            }
        }
        let verdict = match (unknown, missing.is_empty()) {
            (Some(e), _) => Verdict::Unknown(e),
            (None, true) => Verdict::Allowed,
            (None, false) => Verdict::Denied(missing),
        };
        out.push(ActionCheck { action, verdict });
    }
    out
}

/// Known NetworkPolicy implementations, by the DaemonSet that runs them.
pub async fn detect_cni(t: &KubeTarget) -> CniReport {
    let list = match t.rest.list("/apis/apps/v1/daemonsets", "").await {
        Ok(l) => l,
        Err(e) => {
            return CniReport {
                found: Vec::new(),
                enforcing: false,
                error: Some(format!("cannot list DaemonSets: {e}")),
            };
        }
    };
    let mut found = Vec::new();
    let mut enforcing = false;
    for ds in &list {
        let name = str_at(ds, "/metadata/name").unwrap_or_default();
        let ns = str_at(ds, "/metadata/namespace").unwrap_or_default();
        let containers: Vec<&Value> = ds
            .pointer("/spec/template/spec/containers")
            .and_then(Value::as_array)
            .map(|cs| cs.iter().collect())
            .unwrap_or_default();
        // EKS ships the policy agent (container aws-eks-nodeagent) with enforcement off;
        // it enforces only with --enable-network-policy=true.
        let vpc_policy_agent_on = containers.iter().any(|c| {
            let image = c.get("image").and_then(Value::as_str).unwrap_or_default();
            let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
            let args = c.get("args").map(Value::to_string).unwrap_or_default();
            (name == "aws-eks-nodeagent" || image.contains("aws-network-policy-agent"))
                && args.contains("--enable-network-policy=true")
        });
        let verdict = match name {
            "calico-node" | "cilium" | "kube-router" | "antrea-agent" | "weave-net" => Some(true),
            // The VPC CNI enforces NetworkPolicy only with its policy agent enabled.
            "aws-node" => Some(vpc_policy_agent_on),
            _ => None,
        };
        if let Some(enforces) = verdict {
            enforcing |= enforces;
            found.push(format!(
                "{name} ({ns}){}",
                if enforces {
                    ""
                } else {
                    ": network policy agent not enabled"
                }
            ));
        }
    }
    CniReport {
        found,
        enforcing,
        error: None,
    }
}
