//! `[[clusters]]` and `[[aws_accounts]]`: what warroom can reach.

use std::path::PathBuf;

use serde::Deserialize;

use crate::secret::SecretRef;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    pub name: String,
    /// Either `kubeconfig` (+ optional `context`) or `in_cluster = true`.
    #[serde(default)]
    pub kubeconfig: Option<PathBuf>,
    #[serde(default)]
    pub context: Option<String>,
    #[serde(default)]
    pub in_cluster: bool,
    /// Decides whether quarantine can rely on NetworkPolicy and which deny policies exist.
    pub network_policy: NetworkPolicyEngine,
    /// An `[[aws_accounts]]` name, for EKS worker nodes.
    #[serde(default)]
    pub aws_account: Option<String>,
    /// The cluster's name in EKS, for its Pod Identity associations (default: `name`).
    #[serde(default)]
    pub eks_cluster: Option<String>,
}

/// How to reach a cluster, once validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterAccess {
    Kubeconfig {
        path: PathBuf,
        context: Option<String>,
    },
    InCluster,
}

impl Cluster {
    /// `None` only for a cluster the validator rejects (neither or both ways set).
    pub fn access(&self) -> Option<ClusterAccess> {
        match (&self.kubeconfig, self.in_cluster) {
            (Some(path), false) => Some(ClusterAccess::Kubeconfig {
                path: path.clone(),
                context: self.context.clone(),
            }),
            (None, true) => Some(ClusterAccess::InCluster),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkPolicyEngine {
    Calico,
    Cilium,
    AwsVpcCni,
    /// NetworkPolicies are accepted but not enforced: quarantine must say so.
    None,
}

impl NetworkPolicyEngine {
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkPolicyEngine::Calico => "calico",
            NetworkPolicyEngine::Cilium => "cilium",
            NetworkPolicyEngine::AwsVpcCni => "aws-vpc-cni",
            NetworkPolicyEngine::None => "none",
        }
    }

    pub fn enforces_network_policy(self) -> bool {
        self != NetworkPolicyEngine::None
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsAccount {
    pub name: String,
    /// 12 digits, as a string so leading zeros survive.
    pub account_id: String,
    pub region: String,
    /// Role warroom assumes, e.g. arn:aws:iam::123456789012:role/warroom-responder.
    pub role_arn: String,
    #[serde(default)]
    pub external_id: Option<SecretRef>,
    /// Send every AWS call here instead of AWS's endpoints (a VPC endpoint, or a stand-in
    /// such as moto for drills and tests). In a drill, AWS is only contacted through it.
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// EBS snapshot lock applied by `snapshot node NODE --lock`; without it `--lock` is
    /// refused.
    #[serde(default)]
    pub snapshot_lock: Option<SnapshotLock>,
}

/// `snapshot_lock = { mode = "compliance", duration = "30d", cool_off = "24h" }`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotLock {
    /// governance: lifted by someone with `ec2:UnlockSnapshot`; compliance: by nobody once
    /// the cool-off period has passed, until the lock ends.
    pub mode: crate::model::storage::LockMode,
    /// Whole days, 1 to 36500 (EBS's limits).
    #[serde(deserialize_with = "crate::duration::deserialize")]
    pub duration: std::time::Duration,
    /// Compliance mode only: whole hours, 1 to 72, during which the lock can still be lifted.
    #[serde(default, deserialize_with = "crate::duration::deserialize_opt")]
    pub cool_off: Option<std::time::Duration>,
}
