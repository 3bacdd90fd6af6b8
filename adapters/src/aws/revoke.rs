//! `revoke creds pod NS/POD` and `revoke creds node NODE`: deny every session of the IAM role
//! the pod (IRSA) or node (instance profile) holds that was issued before now.
//!
//! Guarantees: the role is found from the cluster (the pod's service account annotation
//! `eks.amazonaws.com/role-arn`) or from EC2 and IAM (the node's instance profile); the card
//! shows the blast radius — every pod and node holding the same role — and warns when the pod
//! is not isolated yet; then one `iam:PutRolePolicy` attaches the inline policy
//! `AWSRevokeOlderSessions` denying `*` when `aws:TokenIssueTime` is before the time of the
//! revocation (AWS's own "revoke active sessions"). Assumes the role may call
//! `iam:PutRolePolicy` and `iam:GetInstanceProfile`. Caveats: sessions issued after the
//! revocation still work — a pod that can reach STS gets new credentials at once, which is why
//! the pod should be isolated first; IAM is eventually consistent (seconds); EKS Pod Identity
//! associations are not looked up by this build; undo by deleting the inline policy
//! (`aws iam delete-role-policy --role-name ROLE --policy-name AWSRevokeOlderSessions`).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use warroom_commands::command::ObjectKind;

use super::errors::classify;
use super::provider_id;
use crate::cluster::{Cluster, ClusterError, Execution, Identities};

/// The inline policy's name, as AWS's console names it.
pub const POLICY_NAME: &str = "AWSRevokeOlderSessions";

/// The role to revoke and who else holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blast {
    pub role_arn: String,
    pub pods: Vec<String>,
    pub nodes: Vec<String>,
    /// The target pod is not isolated yet.
    pub not_isolated: bool,
}

/// `arn:aws:iam::123456789012:role/path/name` → `name`.
pub fn role_name(arn: &str) -> Option<&str> {
    arn.split(":role/")
        .nth(1)
        .and_then(|p| p.rsplit('/').next())
        .filter(|n| !n.is_empty())
}

/// The policy document: deny everything to sessions issued before `at`.
pub fn policy(at: DateTime<Utc>) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Deny",
            "Action": ["*"],
            "Resource": ["*"],
            "Condition": { "DateLessThan": { "aws:TokenIssueTime": at.format("%Y-%m-%dT%H:%M:%SZ").to_string() } }
        }]
    })
}

/// The role a node's instance holds through its instance profile.
async fn node_role(
    ec2: &aws_sdk_ec2::Client,
    iam: &aws_sdk_iam::Client,
    instance_id: &str,
) -> Result<Option<String>, ClusterError> {
    let out = ec2
        .describe_instances()
        .instance_ids(instance_id)
        .send()
        .await
        .map_err(|e| classify(&format!("DescribeInstances {instance_id}"), e))?;
    let profile = out
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .find_map(|i| i.iam_instance_profile()?.arn().map(str::to_owned));
    let Some(profile) = profile else {
        return Ok(None);
    };
    let name = profile.rsplit('/').next().unwrap_or(&profile).to_owned();
    let got = iam
        .get_instance_profile()
        .instance_profile_name(&name)
        .send()
        .await
        .map_err(|e| classify(&format!("GetInstanceProfile {name}"), e))?;
    Ok(got
        .instance_profile()
        .and_then(|p| p.roles().first())
        .map(|r| r.arn().to_owned()))
}

/// The target's role and the blast radius, from the cluster and AWS. Reads only.
pub async fn blast(
    kube: &dyn Cluster,
    ec2: &aws_sdk_ec2::Client,
    iam: &aws_sdk_iam::Client,
    ex: &Execution,
) -> Result<Blast, ClusterError> {
    let ids: Identities = kube.identities(&ex.resolved.cluster).await?;
    let target = &ex.resolved.target;
    let (role_arn, not_isolated) = if target.kind == ObjectKind::Pod {
        let name = format!("{}/{}", target.namespace, target.name);
        let pod = ids
            .pods
            .iter()
            .find(|p| p.pod == name)
            .ok_or_else(|| ClusterError::Absent(format!("pod {name} is gone")))?;
        let role = pod.role_arn.clone().ok_or_else(|| {
            ClusterError::Conflict(format!(
                "pod {name}'s service account `{}` has no eks.amazonaws.com/role-arn annotation: it holds no IRSA role to revoke (EKS Pod Identity associations are not looked up by this build); nothing was changed",
                pod.service_account
            ))
        })?;
        (role, !pod.isolated)
    } else {
        let instance = provider_id::parse(ex.resolved.provider_id.as_deref()).map_err(|why| {
            ClusterError::Conflict(format!("node {}: {why}; nothing was changed", target.name))
        })?;
        let role = node_role(ec2, iam, &instance.instance_id)
            .await?
            .ok_or_else(|| {
                ClusterError::Conflict(format!(
                    "node {}'s instance {} has no instance profile with a role: nothing to revoke; nothing was changed",
                    target.name, instance.instance_id
                ))
            })?;
        (role, false)
    };
    let pods = ids
        .pods
        .iter()
        .filter(|p| p.role_arn.as_deref() == Some(role_arn.as_str()))
        .map(|p| p.pod.clone())
        .collect();
    let mut nodes = Vec::new();
    for (name, pid) in &ids.nodes {
        let Ok(i) = provider_id::parse(pid.as_deref()) else {
            continue;
        };
        if let Ok(Some(r)) = node_role(ec2, iam, &i.instance_id).await
            && r == role_arn
        {
            nodes.push(name.clone());
        }
    }
    Ok(Blast {
        role_arn,
        pods,
        nodes,
        not_isolated,
    })
}

/// What the card says.
pub fn card(b: &Blast) -> String {
    let mut s = format!(
        "will deny every session of role {} issued before the revocation (inline policy {POLICY_NAME}); blast radius: {} pod(s) [{}], {} node(s) [{}]",
        b.role_arn,
        b.pods.len(),
        b.pods.join(", "),
        b.nodes.len(),
        b.nodes.join(", ")
    );
    if b.not_isolated {
        s.push_str(" — WARNING: the pod is not isolated yet: it can fetch new credentials right after; quarantine it first");
    }
    s
}

/// Attach the policy.
pub async fn apply(
    iam: &aws_sdk_iam::Client,
    ex: &Execution,
    b: &Blast,
    at: DateTime<Utc>,
) -> Result<(String, Value), ClusterError> {
    let role = role_name(&b.role_arn).ok_or_else(|| {
        ClusterError::Conflict(format!("`{}` is not an IAM role ARN", b.role_arn))
    })?;
    let document = policy(at);
    iam.put_role_policy()
        .role_name(role)
        .policy_name(POLICY_NAME)
        .policy_document(document.to_string())
        .send()
        .await
        .map_err(|e| classify(&format!("PutRolePolicy {POLICY_NAME} on role {role}"), e))?;
    let summary = format!(
        "revoked sessions of role {} issued before {} (for {} {}); blast radius: {} pod(s), {} node(s){}; undo: delete the inline policy {POLICY_NAME}",
        b.role_arn,
        at.format("%Y-%m-%dT%H:%M:%SZ"),
        ex.resolved.target.kind.as_str().to_ascii_lowercase(),
        ex.resolved.target.name,
        b.pods.len(),
        b.nodes.len(),
        if b.not_isolated {
            " — the pod was not isolated: it can fetch new credentials"
        } else {
            ""
        }
    );
    Ok((
        summary,
        json!({
            "role_arn": b.role_arn, "policy_name": POLICY_NAME, "policy": document,
            "revoked_before": at.to_rfc3339(), "pods": b.pods, "nodes": b.nodes,
            "pod_isolated": !b.not_isolated,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_and_the_policy_are_as_aws_documents_them() {
        assert_eq!(
            role_name("arn:aws:iam::123456789012:role/payments-api"),
            Some("payments-api")
        );
        assert_eq!(
            role_name("arn:aws:iam::123456789012:role/eks/nodes/general"),
            Some("general")
        );
        assert_eq!(role_name("arn:aws:iam::123456789012:user/bob"), None);
        let at: DateTime<Utc> = "2026-12-01T02:14:07Z".parse().unwrap();
        let p = policy(at);
        assert_eq!(
            p["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"],
            "2026-12-01T02:14:07Z"
        );
        assert_eq!(p["Statement"][0]["Effect"], "Deny");
    }
}
