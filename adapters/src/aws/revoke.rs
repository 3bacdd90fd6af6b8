//! `revoke creds pod NS/POD` and `revoke creds node NODE`: deny every session of the IAM role
//! the pod (IRSA) or node (instance profile) holds that was issued before now.
//!
//! Guarantees: the role is found from the cluster and AWS — a pod's service account annotation
//! `eks.amazonaws.com/role-arn` (IRSA) or its EKS Pod Identity association (a pod holding two
//! different roles that way is refused, naming both), a node's instance profile; the card
//! shows the blast radius — every pod and node holding the same role — and warns when the pod
//! is not isolated yet; then one `iam:PutRolePolicy` attaches the inline policy
//! `AWSRevokeOlderSessions` denying `*` when `aws:TokenIssueTime` is before the time of the
//! revocation (AWS's own "revoke active sessions"); a revocation already in place is read
//! first and recorded as `replaced`. Assumes the role may call `iam:GetRolePolicy`,
//! `iam:PutRolePolicy` and `iam:GetInstanceProfile`. Caveats: sessions issued after the
//! revocation still work — a pod that can reach STS gets new credentials at once, which is why
//! the pod should be isolated first; IAM is eventually consistent (seconds); when Pod Identity
//! associations cannot be read the card says the blast radius may miss pods. `unrevoke`
//! deletes the inline policy, or puts back the one it replaced (see [`undo`]).

use std::collections::BTreeMap;

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
    /// Why the blast radius may be incomplete (Pod Identity associations unreadable).
    pub caveat: Option<String>,
}

impl Blast {
    /// "blast radius: 3 pod(s) [a/b, …], 1 node(s) [n1]"
    pub fn radius(&self) -> String {
        format!(
            "blast radius: {} pod(s) [{}], {} node(s) [{}]",
            self.pods.len(),
            self.pods.join(", "),
            self.nodes.len(),
            self.nodes.join(", ")
        )
    }
}

/// Roles pods hold through EKS Pod Identity: (namespace, service account) → role ARN.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodIdentityRoles {
    pub roles: BTreeMap<(String, String), String>,
    /// Set when the associations could not be read, saying why.
    pub unread: Option<String>,
}

/// Every Pod Identity association of the EKS cluster `cluster` and its role. Reads only.
/// A cluster EKS does not know (not an EKS cluster) has none; other failures are kept in
/// `unread` so the card can say the blast radius may miss pods.
pub async fn pod_identity_roles(eks: &aws_sdk_eks::Client, cluster: &str) -> PodIdentityRoles {
    use aws_smithy_types::error::metadata::ProvideErrorMetadata as _;
    let mut found = PodIdentityRoles::default();
    let mut next: Option<String> = None;
    loop {
        let page = match eks
            .list_pod_identity_associations()
            .cluster_name(cluster)
            .set_next_token(next.take())
            .send()
            .await
        {
            Ok(page) => page,
            Err(e) if e.code() == Some("ResourceNotFoundException") => return found,
            Err(e) => {
                found.unread = Some(format!(
                    "EKS Pod Identity associations of cluster {cluster} could not be read ({})",
                    super::errors::describe(&e)
                ));
                return found;
            }
        };
        for a in page.associations() {
            let Some(id) = a.association_id() else {
                continue;
            };
            match eks
                .describe_pod_identity_association()
                .cluster_name(cluster)
                .association_id(id)
                .send()
                .await
            {
                Ok(d) => {
                    if let Some(x) = d.association()
                        && let (Some(ns), Some(sa), Some(role)) =
                            (x.namespace(), x.service_account(), x.role_arn())
                    {
                        found
                            .roles
                            .insert((ns.to_owned(), sa.to_owned()), role.to_owned());
                    }
                }
                Err(e) => {
                    found.unread = Some(format!(
                        "EKS Pod Identity association {id} could not be read ({})",
                        super::errors::describe(&e)
                    ));
                }
            }
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => next = Some(t.to_owned()),
            _ => return found,
        }
    }
}

/// The role a pod holds: its IRSA annotation or its Pod Identity association; two different
/// roles are refused (warroom will not guess which one the pod's SDK uses).
fn pod_role(
    pod: &crate::cluster::PodIdentity,
    associations: &PodIdentityRoles,
) -> Result<Option<String>, String> {
    let (ns, _) = pod.pod.split_once('/').unwrap_or(("", ""));
    let associated = associations
        .roles
        .get(&(ns.to_owned(), pod.service_account.clone()));
    match (&pod.role_arn, associated) {
        (Some(irsa), Some(pi)) if irsa != pi => Err(format!(
            "pod {} holds two roles: {irsa} through its service account's eks.amazonaws.com/role-arn (IRSA) and {pi} through an EKS Pod Identity association; remove one, or revoke the role with the AWS CLI; nothing was changed",
            pod.pod
        )),
        (Some(r), _) | (None, Some(r)) => Ok(Some(r.clone())),
        (None, None) => Ok(None),
    }
}

/// `arn:aws:iam::123456789012:role/path/name` → `123456789012`.
pub fn account_of(arn: &str) -> Option<&str> {
    arn.split(':')
        .nth(4)
        .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
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
/// `eks`: the EKS client and the cluster's name in EKS, for Pod Identity associations.
pub async fn blast(
    kube: &dyn Cluster,
    ec2: &aws_sdk_ec2::Client,
    iam: &aws_sdk_iam::Client,
    eks: (&aws_sdk_eks::Client, &str),
    ex: &Execution,
) -> Result<Blast, ClusterError> {
    let ids: Identities = kube.identities(&ex.resolved.cluster).await?;
    let associations = pod_identity_roles(eks.0, eks.1).await;
    let target = &ex.resolved.target;
    let (role_arn, not_isolated) = if target.kind == ObjectKind::Pod {
        let name = format!("{}/{}", target.namespace, target.name);
        let pod = ids
            .pods
            .iter()
            .find(|p| p.pod == name)
            .ok_or_else(|| ClusterError::Absent(format!("pod {name} is gone")))?;
        let role = pod_role(pod, &associations)
            .map_err(ClusterError::Conflict)?
            .ok_or_else(|| {
                let unread = associations
                    .unread
                    .as_deref()
                    .map(|why| format!(" ({why})"))
                    .unwrap_or_default();
                ClusterError::Conflict(format!(
                    "pod {name}'s service account `{}` has no eks.amazonaws.com/role-arn annotation and no EKS Pod Identity association in cluster {}{unread}: it holds no role to revoke; nothing was changed",
                    pod.service_account, eks.1
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
    // A pod holding two roles is in the blast radius when either is this one.
    let pods = ids
        .pods
        .iter()
        .filter(|p| {
            let (ns, _) = p.pod.split_once('/').unwrap_or(("", ""));
            p.role_arn.as_deref() == Some(role_arn.as_str())
                || associations
                    .roles
                    .get(&(ns.to_owned(), p.service_account.clone()))
                    == Some(&role_arn)
        })
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
        caveat: associations
            .unread
            .map(|why| format!("{why}: pods holding the role through Pod Identity may be missing")),
    })
}

/// What the card says.
pub fn card(b: &Blast) -> String {
    let mut s = format!(
        "will deny every session of role {} issued before the revocation (inline policy {POLICY_NAME}); {}",
        b.role_arn,
        b.radius()
    );
    if b.not_isolated {
        s.push_str(" — WARNING: the pod is not isolated yet: it can fetch new credentials right after; quarantine it first");
    }
    if let Some(c) = &b.caveat {
        s.push_str(&format!(" — {c}"));
    }
    s
}

/// What `unrevoke` would change, for the card: the revocation in place (its time), or that
/// there is none. Reads only.
pub async fn undo_card(
    iam: &aws_sdk_iam::Client,
    ex: &Execution,
    b: &Blast,
) -> Result<String, ClusterError> {
    let role = role_of(b)?;
    Ok(match revoked_before(iam, role).await? {
        Some(at) if let Some(earlier) = replaced(ex) => format!(
            "will put back on role {} the {POLICY_NAME} that was in place before this incident's revoke (sessions issued before {} stay denied); its sessions issued between then and {at} work again (those not yet expired); {}",
            b.role_arn,
            revokes_before(&earlier),
            b.radius()
        ),
        Some(at) => format!(
            "will delete the inline policy {POLICY_NAME} from role {}: its sessions issued before {at} work again (those not yet expired); {}",
            b.role_arn,
            b.radius()
        ),
        None => format!(
            "role {} has no inline policy {POLICY_NAME}: there is no revocation to undo",
            b.role_arn
        ),
    })
}

fn role_of(b: &Blast) -> Result<&str, ClusterError> {
    role_name(&b.role_arn)
        .ok_or_else(|| ClusterError::Conflict(format!("`{}` is not an IAM role ARN", b.role_arn)))
}

/// The inline policy `AWSRevokeOlderSessions` on `role`, if any (`iam:GetRolePolicy`): its
/// document as IAM holds it.
async fn revocation(iam: &aws_sdk_iam::Client, role: &str) -> Result<Option<String>, ClusterError> {
    match iam
        .get_role_policy()
        .role_name(role)
        .policy_name(POLICY_NAME)
        .send()
        .await
    {
        // IAM returns the document URL-encoded.
        Ok(out) => Ok(Some(
            percent_encoding::percent_decode_str(out.policy_document())
                .decode_utf8_lossy()
                .into_owned(),
        )),
        Err(e) => match classify(&format!("GetRolePolicy {POLICY_NAME} on role {role}"), e) {
            ClusterError::Absent(_) => Ok(None),
            other => Err(other),
        },
    }
}

/// The time a revocation document denies sessions issued before.
fn revokes_before(document: &str) -> String {
    serde_json::from_str::<Value>(document)
        .ok()
        .and_then(|d| {
            d.pointer("/Statement/0/Condition/DateLessThan/aws:TokenIssueTime")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "an unknown time".into())
}

/// The time of the revocation in place on `role`, if any.
async fn revoked_before(
    iam: &aws_sdk_iam::Client,
    role: &str,
) -> Result<Option<String>, ClusterError> {
    Ok(revocation(iam, role).await?.as_deref().map(revokes_before))
}

/// The revocation that was in place before the incident's `revoke` replaced it, as that
/// revoke recorded it (`replaced`): what `unrevoke` puts back.
fn replaced(ex: &Execution) -> Option<String> {
    ex.undoes.as_ref()?["replaced"].as_str().map(str::to_owned)
}

/// `unrevoke`: delete the inline policy `AWSRevokeOlderSessions` from the role, or, when the
/// incident's `revoke` replaced one that was there before (an earlier revocation, from the
/// console or another incident), put that one back.
///
/// Guarantees: one `iam:DeleteRolePolicy` (or `iam:PutRolePolicy` of the recorded earlier
/// document) of that policy only (the role's other policies are untouched); the time it
/// revoked before is read first and recorded. Assumes the role may call `iam:GetRolePolicy`,
/// `iam:DeleteRolePolicy` and `iam:PutRolePolicy`. Caveats: sessions issued before the
/// revocation (after the earlier one, when it is put back) work again if they have not
/// expired (STS sessions last up to 12 hours); IAM is eventually consistent; a role without
/// the policy is refused as absent (nothing changed); the earlier revocation is known only
/// from a `revoke` of the same target in this incident.
pub async fn undo(
    iam: &aws_sdk_iam::Client,
    ex: &Execution,
    b: &Blast,
) -> Result<(String, Value), ClusterError> {
    let role = role_of(b)?;
    let Some(at) = revoked_before(iam, role).await? else {
        return Err(ClusterError::Absent(format!(
            "role {} has no inline policy {POLICY_NAME}: there is no revocation to undo; nothing was changed",
            b.role_arn
        )));
    };
    let target = format!(
        "{} {}",
        ex.resolved.target.kind.as_str().to_ascii_lowercase(),
        ex.resolved.target.name
    );
    if let Some(earlier) = replaced(ex) {
        iam.put_role_policy()
            .role_name(role)
            .policy_name(POLICY_NAME)
            .policy_document(&earlier)
            .send()
            .await
            .map_err(|e| {
                classify(
                    &format!("PutRolePolicy {POLICY_NAME} (the earlier revocation) on role {role}"),
                    e,
                )
            })?;
        let kept = revokes_before(&earlier);
        let summary = format!(
            "unrevoked role {} (for {target}): put back the {POLICY_NAME} that was in place before this incident's revoke; sessions issued before {kept} stay denied, those issued between then and {at} work again if not expired",
            b.role_arn,
        );
        return Ok((
            summary,
            json!({
                "role_arn": b.role_arn, "policy_name": POLICY_NAME, "deleted": false,
                "restored": earlier, "restored_revokes_before": kept,
                "had_revoked_before": at, "pods": b.pods, "nodes": b.nodes,
            }),
        ));
    }
    iam.delete_role_policy()
        .role_name(role)
        .policy_name(POLICY_NAME)
        .send()
        .await
        .map_err(|e| classify(&format!("DeleteRolePolicy {POLICY_NAME} on role {role}"), e))?;
    let summary = format!(
        "unrevoked role {} (for {target}): deleted the inline policy {POLICY_NAME}; its sessions issued before {at} work again if not expired",
        b.role_arn,
    );
    Ok((
        summary,
        json!({
            "role_arn": b.role_arn, "policy_name": POLICY_NAME, "deleted": true,
            "had_revoked_before": at, "pods": b.pods, "nodes": b.nodes,
        }),
    ))
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
    // A revocation already in place (the console's "revoke active sessions", another
    // incident) is replaced: recorded, so `unrevoke` puts it back rather than deleting it.
    let earlier = revocation(iam, role).await?;
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
            "pod_isolated": !b.not_isolated, "replaced": earlier,
        }),
    ))
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_account_is_read_from_a_role_arn() {
        assert_eq!(
            account_of("arn:aws:iam::999888777666:role/team/payments"),
            Some("999888777666")
        );
        assert_eq!(account_of("arn:aws:iam::12345:role/x"), None);
        assert_eq!(account_of("payments"), None);
    }
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
