//! AWS: the executor for actions on EKS worker nodes' instances (`snapshot`, `protect`,
//! `unprotect`), through aws-sdk-ec2, aws-sdk-autoscaling and aws-sdk-sts. Each privileged
//! operation is its own file with its contract; errors are typed (forbidden, not found,
//! throttled, conflict, upstream). Throttling and transient errors are retried by the SDK's
//! standard retry policy (3 attempts, exponential backoff with jitter) before they surface.

pub mod errors;
pub mod identity;
pub mod instance;
pub mod preflight;
pub mod protect;
pub mod provider_id;
pub mod revoke;
pub mod snapshot;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use serde_json::json;
use warroom_config::ActionName;

use crate::cluster::{CapturedArtifact, Cluster, ClusterError, Execution, Outcome};
use crate::evidence::EvidenceStore;
use identity::{Account, SessionFor};
use instance::Instance;

/// rustls with ring, as the rest of warroom (no second crypto provider linked).
/// How long AWS may take: 3 s to connect, then each attempt of a call at most 30 s (so a hung
/// endpoint is retried by the SDK's standard retries), the whole call at most 100 s. A call
/// that runs out fails the action with "AWS did not answer within …" instead of leaving it
/// executing. `WARROOM_AWS_ATTEMPT_TIMEOUT_MS` shortens the attempt (tests of hung endpoints).
pub fn timeouts() -> aws_config::timeout::TimeoutConfig {
    let attempt = std::env::var("WARROOM_AWS_ATTEMPT_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(ATTEMPT_TIMEOUT, std::time::Duration::from_millis);
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(3))
        .operation_attempt_timeout(attempt)
        .operation_timeout(attempt * 3 + std::time::Duration::from_secs(10))
        .build()
}

/// "30 s a try", for messages.
pub fn describe_attempt() -> String {
    let t = timeouts();
    format!(
        "{} s a try",
        t.operation_attempt_timeout()
            .unwrap_or(ATTEMPT_TIMEOUT)
            .as_secs_f64()
    )
}

/// One attempt of an AWS call.
pub const ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

pub fn http_client() -> SharedHttpClient {
    use aws_smithy_http_client::tls;
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// The AWS account of each plan cluster that names one.
pub struct AwsExecutor {
    accounts: BTreeMap<String, Account>,
    kube: Arc<dyn Cluster>,
    evidence: Arc<dyn EvidenceStore>,
    wait: snapshot::Wait,
}

impl AwsExecutor {
    /// `accounts`: cluster name → its account. `kube` does the node's side of protection.
    pub fn new(
        accounts: BTreeMap<String, Account>,
        kube: Arc<dyn Cluster>,
        evidence: Arc<dyn EvidenceStore>,
        wait: snapshot::Wait,
    ) -> Self {
        AwsExecutor {
            accounts,
            kube,
            evidence,
            wait,
        }
    }

    /// `warroom preflight` for the account of `cluster`; `provider_id`: one of its nodes'.
    pub async fn preflight(
        &self,
        cluster: &str,
        provider_id: Option<&str>,
    ) -> Option<preflight::Report> {
        let account = self.accounts.get(cluster)?;
        let instance = provider_id::parse(provider_id).ok();
        let region = instance
            .as_ref()
            .map(|i| i.region.clone())
            .unwrap_or_else(|| account.region.clone());
        Some(
            preflight::check(
                account,
                &region,
                instance.as_ref().map(|i| i.instance_id.as_str()),
            )
            .await,
        )
    }

    /// A config acting as the plan's role for this request, in `region` (default: the
    /// account's).
    async fn session(
        &self,
        ex: &Execution,
        region: Option<&str>,
    ) -> Result<SdkConfig, ClusterError> {
        let account = self
            .accounts
            .get(&ex.resolved.cluster)
            .ok_or_else(|| no_account(ex))?;
        let approver = ex.approvers.first().map(|p| p.as_str());
        account
            .assume(
                &SessionFor {
                    incident: ex.incident.as_str(),
                    request: &ex.request,
                    requester: ex.requested_by.as_str(),
                    approver,
                },
                region.unwrap_or(&account.region),
            )
            .await
    }

    /// The node's instance, and clients acting as the plan's role for this request.
    async fn reach(
        &self,
        ex: &Execution,
    ) -> Result<(Instance, aws_sdk_ec2::Client, aws_sdk_autoscaling::Client), ClusterError> {
        if !self.accounts.contains_key(&ex.resolved.cluster) {
            return Err(no_account(ex));
        }
        let node = &ex.resolved.target.name;
        let instance = provider_id::parse(ex.resolved.provider_id.as_deref()).map_err(|why| {
            ClusterError::Conflict(format!("node {node}: {why}; nothing was changed"))
        })?;
        let config = self.session(ex, Some(&instance.region)).await?;
        let ec2 = aws_sdk_ec2::Client::new(&config);
        let asg = aws_sdk_autoscaling::Client::new(&config);
        let described = instance::describe(&ec2, &instance.instance_id).await?;
        Ok((described, ec2, asg))
    }

    /// The role a revocation (or its undo) acts on and its blast radius, read through EC2 (a
    /// node's instance profile), IAM and EKS (Pod Identity); and the IAM client to act with.
    async fn blast(
        &self,
        ex: &Execution,
    ) -> Result<(revoke::Blast, aws_sdk_iam::Client), ClusterError> {
        let region = provider_id::parse(ex.resolved.provider_id.as_deref())
            .ok()
            .map(|i| i.region);
        let config = self.session(ex, region.as_deref()).await?;
        let eks_cluster = self
            .accounts
            .get(&ex.resolved.cluster)
            .and_then(|a| a.eks_cluster.clone())
            .unwrap_or_else(|| ex.resolved.cluster.clone());
        let (ec2, iam) = (
            aws_sdk_ec2::Client::new(&config),
            aws_sdk_iam::Client::new(&config),
        );
        let eks = aws_sdk_eks::Client::new(&config);
        let b = revoke::blast(self.kube.as_ref(), &ec2, &iam, (&eks, &eks_cluster), ex).await?;
        // IAM acts on a role by its name, in the account of the role warroom assumed: a role
        // of another account (cross-account IRSA) would be confused with a namesake here.
        let acting = self
            .accounts
            .get(&ex.resolved.cluster)
            .and_then(|a| revoke::account_of(&a.role_arn));
        if let Some(acting) = acting
            && revoke::account_of(&b.role_arn) != Some(acting)
        {
            return Err(ClusterError::Conflict(format!(
                "role {} is not in account {acting}, where warroom acts for cluster {}: revoking here would put the deny on another role of the same name; revoke it in its own account (e.g. with the AWS CLI); nothing was changed",
                b.role_arn, ex.resolved.cluster
            )));
        }
        Ok((b, iam))
    }

    pub async fn preview(&self, ex: &Execution) -> Result<Outcome, ClusterError> {
        if matches!(ex.action, ActionName::Revoke | ActionName::Unrevoke) {
            let (b, iam) = self.blast(ex).await?;
            let summary = if ex.action == ActionName::Revoke {
                revoke::card(&b)
            } else {
                revoke::undo_card(&iam, ex, &b).await?
            };
            // The role is what the approvers approve: the run must find the same one.
            return Ok(Outcome {
                dry_run: false,
                summary,
                result: serde_json::json!({ "role_arn": b.role_arn }),
                evidence: Vec::new(),
            });
        }
        let lock = if ex.action == ActionName::Snapshot {
            self.snapshot_lock(ex)?
        } else {
            None
        };
        let (instance, ec2, asg) = self.reach(ex).await?;
        let summary = match ex.action {
            ActionName::Snapshot => format!(
                "will snapshot {} volume(s) of {} ({}): {}{}",
                instance.volumes.len(),
                instance.id,
                instance.state,
                instance
                    .volumes
                    .iter()
                    .map(|(dev, vol)| format!("{vol} at {dev}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                lock.as_ref()
                    .map(|l| format!(", then lock them in {}", snapshot::describe_lock(l)))
                    .unwrap_or_default()
            ),
            ActionName::Protect => protect::preview(&ec2, &asg, ex, &instance, true).await?,
            ActionName::Unprotect => protect::preview(&ec2, &asg, ex, &instance, false).await?,
            other => return Err(not_here(other)),
        };
        Ok(Outcome {
            dry_run: false,
            summary,
            result: serde_json::Value::Null,
            evidence: Vec::new(),
        })
    }

    pub async fn execute(&self, ex: &Execution) -> Result<Outcome, ClusterError> {
        if matches!(ex.action, ActionName::Revoke | ActionName::Unrevoke) {
            let (b, iam) = self.blast(ex).await?;
            // A service account re-annotated (or a Pod Identity association or instance
            // profile changed) since the card: the approval was for another role. Approvals
            // given to a card that could not name its role bind to none.
            let approved = ex.acts_on.as_ref().and_then(|a| a["role_arn"].as_str());
            if approved.is_none() && !ex.approvers.is_empty() {
                return Err(ClusterError::Conflict(format!(
                    "its card could not name the role to {} (no plan of change), so the approvals are not bound to one; nothing was changed: ask again once the card shows the role",
                    ex.action
                )));
            }
            if let Some(approved) = approved
                && approved != b.role_arn
            {
                return Err(ClusterError::Conflict(format!(
                    "{} was approved for role {approved}, but {} now uses role {}: nothing was changed; ask again to {} the role it uses now",
                    ex.action, ex.resolved.target, b.role_arn, ex.action
                )));
            }
            let (summary, result) = if ex.action == ActionName::Revoke {
                revoke::apply(&iam, ex, &b, chrono::Utc::now()).await?
            } else {
                revoke::undo(&iam, ex, &b).await?
            };
            return Ok(Outcome {
                dry_run: false,
                summary,
                result,
                evidence: Vec::new(),
            });
        }
        if !matches!(
            ex.action,
            ActionName::Snapshot | ActionName::Protect | ActionName::Unprotect
        ) {
            return Err(not_here(ex.action));
        }
        let (instance, ec2, asg) = self.reach(ex).await?;
        match ex.action {
            ActionName::Snapshot => self.snapshot(&ec2, ex, &instance).await,
            on_off => {
                let on = on_off == ActionName::Protect;
                let (summary, result) =
                    protect::apply(&ec2, &asg, self.kube.as_ref(), ex, &instance, on).await?;
                Ok(Outcome {
                    dry_run: false,
                    summary,
                    result,
                    evidence: Vec::new(),
                })
            }
        }
    }

    async fn snapshot(
        &self,
        ec2: &aws_sdk_ec2::Client,
        ex: &Execution,
        instance: &Instance,
    ) -> Result<Outcome, ClusterError> {
        let lock = self.snapshot_lock(ex)?;
        let mut taken = snapshot::start(ec2, ex, instance).await?;
        // A lock refused still leaves snapshots to follow and record: the failure is said
        // after the evidence is stored.
        let locking = match &lock {
            Some(plan) => snapshot::lock(ec2, &mut taken, plan).await.err(),
            None => None,
        };
        if let Some(p) = &ex.progress {
            p.status(format!(
                "snapshot {}: started {} snapshot(s) of {}",
                ex.resolved.target.name,
                taken.len(),
                instance.id
            ));
        }
        let (taken, finished) = snapshot::follow(ec2, ex, taken, self.wait).await?;
        let record = json!({
            "node": ex.resolved.target.name,
            "instance": instance.id,
            "snapshots": taken.iter().map(snapshot::Taken::json).collect::<Vec<_>>(),
        });
        let name = format!("snapshots-{}.json", instance.id);
        let stored = crate::evidence::put_bytes(
            &self.evidence,
            &ex.incident,
            &ex.request,
            &name,
            serde_json::to_vec_pretty(&record).unwrap_or_default(),
        )
        .await
        .map_err(ClusterError::Failed)?;
        let artifact = || {
            vec![CapturedArtifact {
                name: name.clone(),
                stored: stored.clone(),
            }]
        };
        if let Some(e) = locking {
            return Err(ClusterError::WithEvidence {
                error: Box::new(e),
                evidence: artifact(),
            });
        }
        let failed: Vec<&str> = taken
            .iter()
            .filter(|t| t.state == "error")
            .map(|t| t.snapshot.as_str())
            .collect();
        let ids = taken
            .iter()
            .map(|t| format!("{} ({})", t.snapshot, t.volume))
            .collect::<Vec<_>>()
            .join(", ");
        let summary = if !failed.is_empty() {
            return Err(ClusterError::WithEvidence {
                error: Box::new(ClusterError::Upstream(format!(
                    "snapshots of {} ended in error: {} (all: {ids}; recorded as evidence {name})",
                    instance.id,
                    failed.join(", ")
                ))),
                evidence: artifact(),
            });
        } else if finished {
            format!(
                "snapshotted node {} (instance {}): {ids}, all completed{}",
                ex.resolved.target.name,
                instance.id,
                lock.as_ref()
                    .map(|l| format!(", locked in {}", snapshot::describe_lock(l)))
                    .unwrap_or_default()
            )
        } else {
            format!(
                "snapshots of node {} (instance {}) started and still in progress after {}: {ids} — AWS finishes them on its own; check with `aws ec2 describe-snapshots`",
                ex.resolved.target.name,
                instance.id,
                humanize(self.wait.up_to)
            )
        };
        Ok(Outcome {
            dry_run: false,
            summary,
            result: record,
            evidence: artifact(),
        })
    }

    /// The lock `--lock` asks for: the plan account's `snapshot_lock`, or a refusal before
    /// anything is created.
    fn snapshot_lock(
        &self,
        ex: &Execution,
    ) -> Result<Option<warroom_config::model::infra::SnapshotLock>, ClusterError> {
        if !ex.params.contains_key("lock") {
            return Ok(None);
        }
        let account = self
            .accounts
            .get(&ex.resolved.cluster)
            .ok_or_else(|| no_account(ex))?;
        account.snapshot_lock.clone().map(Some).ok_or_else(|| {
            ClusterError::NotConfigured(format!(
                "--lock: AWS account {} sets no snapshot_lock in the plan (e.g. snapshot_lock = {{ mode = \"compliance\", duration = \"30d\" }}); nothing was changed",
                account.name
            ))
        })
    }
}

fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

fn no_account(ex: &Execution) -> ClusterError {
    ClusterError::NotConfigured(format!(
        "{} acts on AWS, and cluster `{}` names no [[aws_accounts]] entry (set `aws_account` on the cluster); nothing was changed",
        ex.action, ex.resolved.cluster
    ))
}

fn not_here(action: ActionName) -> ClusterError {
    ClusterError::NotConfigured(format!(
        "{action} is not an action this build runs on AWS yet; nothing was changed"
    ))
}
