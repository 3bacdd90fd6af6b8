//! The cluster, behind one trait, implemented through `kube` for real clusters and for the
//! drill API server alike.

pub mod kubernetes;

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;
use warroom_commands::command::Target;
use warroom_commands::{IncidentId, PersonId};
use warroom_config::ActionName;

/// A target as the cluster knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolved {
    pub cluster: String,
    pub target: Target,
    pub uid: Option<String>,
    /// The node a pod runs on.
    pub node: Option<String>,
    /// The controller at the top of the owner chain, e.g. `("Deployment", "api")`.
    pub owner: Option<(String, String)>,
    pub labels: BTreeMap<String, String>,
    /// A node's `spec.providerID` (`aws:///<az>/<instance-id>` on EC2).
    pub provider_id: Option<String>,
}

/// Everything an executor needs to run one approved action.
#[derive(Debug, Clone)]
pub struct Execution {
    pub incident: IncidentId,
    pub request: String,
    pub action: ActionName,
    pub resolved: Resolved,
    pub params: BTreeMap<String, String>,
    pub reason: Option<String>,
    pub requested_by: PersonId,
    pub approvers: Vec<PersonId>,
    /// `[guardrails] quarantine_allow_dns`
    pub allow_dns: bool,
    /// `[guardrails] investigation_labels`
    pub investigation_labels: BTreeMap<String, String>,
    /// Progress of long work (drains, captures, snapshots), posted to the incident's channel.
    pub progress: Option<Progress>,
    /// For an undo (`unprotect`, `uncordon`): the result the request it undoes recorded
    /// (`protect` / `cordon` of the same node in this incident), whose values before it are
    /// what is set back.
    pub undoes: Option<Value>,
    /// What the approved card found the action acts on beyond its target
    /// (`RequestSpec::acts_on`): an executor that finds otherwise changes nothing.
    pub acts_on: Option<Value>,
}

/// One piece of progress: a line of its own, or the action's status message, which chat
/// platforms edit in place (one message per action that keeps changing, not a scroll of lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgressUpdate {
    Line(String),
    Status(String),
}

/// Where an executor reports progress; sending never blocks and never fails the action.
#[derive(Debug, Clone)]
pub struct Progress(pub tokio::sync::mpsc::UnboundedSender<ProgressUpdate>);

impl Progress {
    /// A message of its own ("capturing logs.txt").
    pub fn line(&self, text: impl Into<String>) {
        let _ = self.0.send(ProgressUpdate::Line(text.into()));
    }

    /// The action's status, replacing the previous status in place ("snapshot node-1: 40%").
    pub fn status(&self, text: impl Into<String>) {
        let _ = self.0.send(ProgressUpdate::Status(text.into()));
    }
}

/// Who holds which cloud identity in a cluster, for credential revocation's blast radius.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identities {
    pub pods: Vec<PodIdentity>,
    /// Every node: (name, `spec.providerID`).
    pub nodes: Vec<(String, Option<String>)>,
}

/// A pod and the IAM role its service account carries (IRSA), if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodIdentity {
    /// `namespace/name`
    pub pod: String,
    pub service_account: String,
    /// The service account's `eks.amazonaws.com/role-arn`.
    pub role_arn: Option<String>,
    /// Whether warroom's quarantine label is on it.
    pub isolated: bool,
}

/// What an action did (or, in a dry run, would do).
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub dry_run: bool,
    pub summary: String,
    /// The objects, patches and API calls, with before/after where known.
    pub result: Value,
    /// Artifacts already in the evidence store, for the ledger to record.
    pub evidence: Vec<CapturedArtifact>,
}

/// One stored artifact of a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedArtifact {
    pub name: String,
    pub stored: crate::evidence::StoredArtifact,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "{kind} {name} not found in cluster {cluster}{}",
        in_namespace(namespace)
    )]
    NotFound {
        cluster: String,
        kind: String,
        namespace: String,
        name: String,
    },
    #[error("no cluster `{name}` in the plan; known clusters: {known}")]
    UnknownCluster { name: String, known: String },
    /// The action has no executor here: says what the plan or this build lacks.
    #[error("not configured: {0}")]
    NotConfigured(String),
    /// An object outside the cluster (an instance, a role) does not exist.
    #[error("not found: {0}")]
    Absent(String),
    /// The credentials warroom acts with may not do this.
    #[error("access denied: {0}")]
    Forbidden(String),
    /// The provider asked warroom to slow down, and retrying did not get through.
    #[error("throttled: {0}")]
    Throttled(String),
    /// The object is not in a state that allows it (or changed meanwhile).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The provider failed or could not be reached.
    #[error("upstream error: {0}")]
    Upstream(String),
    #[error("{0}")]
    Failed(String),
    /// The action failed after it stored evidence, which the ledger must still record.
    #[error("{error}")]
    WithEvidence {
        error: Box<ClusterError>,
        evidence: Vec<CapturedArtifact>,
    },
    /// The action failed after it changed some things: `result` records them in the shape a
    /// success records (`parts`, `unschedulable_before`…), so the timeline says what is in
    /// place and the undo sets back what was there before.
    #[error("{error}")]
    Partial {
        error: Box<ClusterError>,
        result: Value,
    },
}

impl ClusterError {
    /// A short name for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            ClusterError::WithEvidence { error, .. } | ClusterError::Partial { error, .. } => {
                error.kind()
            }
            ClusterError::NotFound { .. } | ClusterError::Absent(_) => "not_found",
            ClusterError::UnknownCluster { .. } => "unknown_cluster",
            ClusterError::NotConfigured(_) => "not_configured",
            ClusterError::Forbidden(_) => "forbidden",
            ClusterError::Throttled(_) => "throttled",
            ClusterError::Conflict(_) => "conflict",
            ClusterError::Upstream(_) => "upstream",
            ClusterError::Failed(_) => "failed",
        }
    }

    /// What a failed action had already changed, when it says.
    pub fn partial_result(&self) -> Option<&Value> {
        match self {
            ClusterError::Partial { result, .. } => Some(result),
            ClusterError::WithEvidence { error, .. } => error.partial_result(),
            _ => None,
        }
    }
}

fn in_namespace(ns: &str) -> String {
    if ns.is_empty() {
        String::new()
    } else {
        format!(" (namespace {ns} searched)")
    }
}

/// A Kubernetes cluster (or several, by name).
#[async_trait]
pub trait Cluster: Send + Sync {
    /// Look the target up: its UID, node and owner, or which cluster and namespace were searched.
    async fn resolve(&self, cluster: &str, target: &Target) -> Result<Resolved, ClusterError>;

    /// What [`Cluster::execute`] would apply, for the approval card. Changes nothing.
    async fn preview(&self, execution: &Execution) -> Result<Outcome, ClusterError>;

    /// Run one approved action. Called at most once per request (the ledger guarantees it).
    async fn execute(&self, execution: &Execution) -> Result<Outcome, ClusterError>;

    /// Names to suggest while a person types a target: pods as `NS/NAME`, or nodes. Reads
    /// only; a cluster that cannot be listed offers nothing.
    async fn names(&self, cluster: &str, pods: bool) -> Result<Vec<String>, ClusterError> {
        let _ = (cluster, pods);
        Ok(Vec::new())
    }

    /// Every pod's IRSA role and every node's providerID. Reads only.
    async fn identities(&self, cluster: &str) -> Result<Identities, ClusterError> {
        let _ = cluster;
        Err(ClusterError::NotConfigured(
            "this cluster cannot list workload identities".into(),
        ))
    }

    /// Set (`Some`) or remove (`None`) one annotation on a node, returning what it was before.
    /// Used by other executors for the cluster's side of their work (Karpenter's
    /// `karpenter.sh/do-not-disrupt`).
    async fn annotate_node(
        &self,
        cluster: &str,
        node: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<Option<String>, ClusterError> {
        let _ = (cluster, node, key, value);
        Err(ClusterError::NotConfigured(
            "this cluster cannot annotate nodes".into(),
        ))
    }
}
