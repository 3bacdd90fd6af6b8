//! Executors chosen per action: Kubernetes for pod, node and workload objects; AWS for what
//! lives in the account (a node's instance and volumes). The engine talks to one [`Cluster`]
//! and this routes each action to the executor the plan registered for it.

use std::sync::Arc;

use async_trait::async_trait;
use warroom_commands::command::Target;
use warroom_config::ActionName;

use crate::aws::AwsExecutor;
use crate::cluster::{Cluster, ClusterError, Execution, Outcome, Resolved};

/// Whether an action runs against AWS rather than the cluster's API server.
pub fn on_aws(action: ActionName) -> bool {
    matches!(
        action,
        ActionName::Snapshot
            | ActionName::Protect
            | ActionName::Unprotect
            | ActionName::Revoke
            | ActionName::Unrevoke
    )
}

pub struct Executors {
    kube: Arc<dyn Cluster>,
    /// `None` when no plan cluster names an AWS account.
    aws: Option<Arc<AwsExecutor>>,
}

impl Executors {
    pub fn new(kube: Arc<dyn Cluster>, aws: Option<Arc<AwsExecutor>>) -> Self {
        Executors { kube, aws }
    }

    fn aws(&self, action: ActionName) -> Result<&AwsExecutor, ClusterError> {
        self.aws.as_deref().ok_or_else(|| {
            ClusterError::NotConfigured(format!(
                "{action} acts on AWS, and no cluster of the plan names an [[aws_accounts]] entry (set `aws_account` on the cluster); nothing was changed"
            ))
        })
    }
}

#[async_trait]
impl Cluster for Executors {
    async fn resolve(&self, cluster: &str, target: &Target) -> Result<Resolved, ClusterError> {
        self.kube.resolve(cluster, target).await
    }

    async fn preview(&self, ex: &Execution) -> Result<Outcome, ClusterError> {
        if on_aws(ex.action) {
            self.aws(ex.action)?.preview(ex).await
        } else {
            self.kube.preview(ex).await
        }
    }

    async fn execute(&self, ex: &Execution) -> Result<Outcome, ClusterError> {
        if on_aws(ex.action) {
            self.aws(ex.action)?.execute(ex).await
        } else {
            self.kube.execute(ex).await
        }
    }

    async fn names(&self, cluster: &str, pods: bool) -> Result<Vec<String>, ClusterError> {
        self.kube.names(cluster, pods).await
    }

    async fn identities(&self, cluster: &str) -> Result<crate::cluster::Identities, ClusterError> {
        self.kube.identities(cluster).await
    }

    async fn annotate_node(
        &self,
        cluster: &str,
        node: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<Option<String>, ClusterError> {
        self.kube.annotate_node(cluster, node, key, value).await
    }
}
