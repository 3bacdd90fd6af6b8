//! The cluster through `kube`: every Kubernetes action of the command set.
//!
//! Guarantees: each action touches only the object that was approved (re-read by UID before
//! the engine runs it), records before/after, and retries only idempotent calls (gets,
//! lists, merge patches that set values, deletes with a UID precondition) on 409/429/5xx and
//! lost connections. Assumes: the service account has the permissions in deploy/rbac.yaml.
//! Caveats: NetworkPolicy enforcement depends on the cluster's CNI (the plan says which);
//! AWS actions are not handled here.

mod capture;
mod deadline;
mod errors;
mod isolate;
mod nodes;
pub mod permissions;
mod plan;
pub mod preflight;
mod rest;
mod selector;
mod workloads;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use warroom_commands::command::{ObjectKind, Target};
use warroom_config::{ActionName, Artifact, NetworkPolicyEngine};

use super::{Cluster, ClusterError, Execution, Outcome, Resolved};
use crate::evidence::EvidenceStore;
pub use rest::Rest;

/// The label that a quarantine NetworkPolicy selects: unique per incident.
pub const QUARANTINE_LABEL: &str = "warroom.io/quarantine";
/// Marks objects under investigation; a drain never evicts them.
pub const INVESTIGATION_LABEL: &str = "warroom.io/investigation";

/// What the plan says about collecting evidence.
#[derive(Clone)]
pub struct CaptureSettings {
    pub collect: Vec<Artifact>,
    pub max_log_bytes: u64,
}

/// One cluster warroom can reach.
#[derive(Clone)]
pub struct KubeTarget {
    pub rest: Rest,
    pub network_policy: NetworkPolicyEngine,
    /// Where it is, for messages: the API server URL.
    pub server: String,
}

pub struct KubeCluster {
    clusters: BTreeMap<String, KubeTarget>,
    /// Clusters of the plan that could not be set up, with why.
    unavailable: BTreeMap<String, String>,
    evidence: Arc<dyn EvidenceStore>,
    capture: CaptureSettings,
    /// How long a drain waits for evictions a disruption budget refuses.
    pub drain_timeout: Duration,
}

/// How long one Kubernetes API call may go unanswered: 30 s a try. kube's own default
/// (295 s) would hold an action on a hung API server for twenty minutes over warroom's four
/// tries; after these a call that ran out fails the action, saying it may have taken effect.
/// `WARROOM_KUBE_TIMEOUT_MS` shortens it (tests of hung API servers).
pub fn read_timeout() -> Duration {
    std::env::var("WARROOM_KUBE_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(READ_TIMEOUT, Duration::from_millis)
}

const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Connect within 5 s, answer within [`read_timeout`]: every client warroom builds.
fn bound(config: &mut kube::Config) {
    config.connect_timeout = Some(Duration::from_secs(5));
    config.read_timeout = Some(read_timeout());
    config.write_timeout = Some(read_timeout());
}

/// kube's client stack with [`deadline::Deadline`] on every call.
fn client_with_deadline(config: kube::Config) -> Result<kube::Client, kube::Error> {
    Ok(kube::client::ClientBuilder::try_from(config)?
        .with_layer(&deadline::Deadline(deadline::whole_call()))
        .build())
}

impl KubeCluster {
    pub fn new(evidence: Arc<dyn EvidenceStore>, capture: CaptureSettings) -> Self {
        KubeCluster {
            clusters: BTreeMap::new(),
            unavailable: BTreeMap::new(),
            evidence,
            capture,
            drain_timeout: Duration::from_secs(60),
        }
    }

    pub fn add(
        &mut self,
        name: &str,
        client: kube::Client,
        server: String,
        network_policy: NetworkPolicyEngine,
    ) {
        let rest = Rest {
            cluster: name.to_owned(),
            client,
        };
        self.clusters.insert(
            name.to_owned(),
            KubeTarget {
                rest,
                network_policy,
                server,
            },
        );
    }

    /// A client for an API server URL without credentials (the drill server).
    pub fn client_for_url(url: &str) -> Result<kube::Client, String> {
        install_crypto();
        let uri: http::Uri = url
            .parse()
            .map_err(|e| format!("`{url}` is not a URL: {e}"))?;
        let mut config = kube::Config::new(uri);
        bound(&mut config);
        // warroom retries what is safe itself; kube's own retry would hold a refused
        // eviction (429 without Retry-After) for minutes.
        config.default_retry = false;
        client_with_deadline(config).map_err(|e| format!("cannot build a client for {url}: {e}"))
    }

    /// A client from a kubeconfig file (and context), or the in-cluster service account.
    pub async fn client_for(
        cluster: &warroom_config::Cluster,
    ) -> Result<(kube::Client, String), String> {
        install_crypto();
        let config = match cluster.access() {
            Some(warroom_config::ClusterAccess::Kubeconfig { path, context }) => {
                let kc = kube::config::Kubeconfig::read_from(&path)
                    .map_err(|e| format!("cannot read kubeconfig {}: {e}", path.display()))?;
                let options = kube::config::KubeConfigOptions {
                    context: context.clone(),
                    ..Default::default()
                };
                kube::Config::from_custom_kubeconfig(kc, &options)
                    .await
                    .map_err(|e| format!("kubeconfig {}: {e}", path.display()))?
            }
            Some(warroom_config::ClusterAccess::InCluster) => {
                kube::Config::incluster().map_err(|e| {
                    format!("not running in a cluster ({e}); use kubeconfig in the plan")
                })?
            }
            None => {
                return Err("neither kubeconfig nor in_cluster is set".to_owned());
            }
        };
        let mut config = config;
        bound(&mut config);
        config.default_retry = false;
        let server = config.cluster_url.to_string();
        let client = client_with_deadline(config).map_err(|e| e.to_string())?;
        Ok((client, server))
    }

    /// A plan cluster warroom cannot reach: actions there answer "not configured" with `why`.
    pub fn add_unavailable(&mut self, name: &str, why: String) {
        self.unavailable.insert(name.to_owned(), why);
    }

    pub fn names(&self) -> Vec<String> {
        self.clusters.keys().cloned().collect()
    }

    pub fn target(&self, cluster: &str) -> Result<&KubeTarget, ClusterError> {
        if let Some(why) = self.unavailable.get(cluster) {
            return Err(ClusterError::NotConfigured(format!(
                "cluster {cluster}: {why}"
            )));
        }
        self.clusters
            .get(cluster)
            .ok_or_else(|| ClusterError::UnknownCluster {
                name: cluster.to_owned(),
                known: self.clusters.keys().cloned().collect::<Vec<_>>().join(", "),
            })
    }
}

/// rustls needs one process-wide crypto provider; with more than one linked it cannot pick,
/// and kube's client would panic. Installing ring is idempotent.
pub(crate) fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub fn labels_of(object: &Value) -> BTreeMap<String, String> {
    object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

/// The controller reference of an object, as (kind, name).
fn controller_of(object: &Value) -> Option<(String, String)> {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .and_then(|refs| {
            refs.iter()
                .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
                .or_else(|| refs.first())
                .and_then(|r| {
                    Some((
                        r.get("kind")?.as_str()?.to_owned(),
                        r.get("name")?.as_str()?.to_owned(),
                    ))
                })
        })
}

fn kind_of(name: &str) -> Option<ObjectKind> {
    ObjectKind::parse(name)
}

/// The owner chain from the object up to the top controller, each as the object read.
/// A link that cannot be read fails the whole lookup: a guardrail (critical workloads) that
/// depends on the owner must not pass because the owner was unreadable.
pub(crate) async fn owner_chain(
    t: &KubeTarget,
    namespace: &str,
    object: &Value,
) -> Result<Vec<Value>, ClusterError> {
    let mut chain = Vec::new();
    let mut current = object.clone();
    for _ in 0..5 {
        let Some((kind, name)) = controller_of(&current) else {
            break;
        };
        let Some(k) = kind_of(&kind) else {
            chain.push(serde_json::json!({ "kind": kind, "metadata": { "name": name, "namespace": namespace } }));
            break;
        };
        let owner = t
            .rest
            .get(&rest::path(k, namespace, &name))
            .await
            .map_err(|e| {
                t.rest
                    .fail(&format!("reading owner {kind} {namespace}/{name}"), &e)
            })?;
        chain.push(owner.clone());
        current = owner;
    }
    Ok(chain)
}

#[async_trait]
impl Cluster for KubeCluster {
    async fn names(&self, cluster: &str, pods: bool) -> Result<Vec<String>, ClusterError> {
        let t = self.target(cluster)?;
        let path = if pods {
            "/api/v1/pods"
        } else {
            "/api/v1/nodes"
        };
        let items = t
            .rest
            .list(path, "limit=500")
            .await
            .map_err(|e| t.rest.fail("listing names to suggest", &e))?;
        Ok(items
            .iter()
            .filter_map(|o| {
                let name = o.pointer("/metadata/name")?.as_str()?;
                Some(
                    match o.pointer("/metadata/namespace").and_then(|n| n.as_str()) {
                        Some(ns) if pods => format!("{ns}/{name}"),
                        _ => name.to_owned(),
                    },
                )
            })
            .collect())
    }

    async fn resolve(&self, cluster: &str, target: &Target) -> Result<Resolved, ClusterError> {
        let t = self.target(cluster)?;
        let object = match t
            .rest
            .get(&rest::path(target.kind, &target.namespace, &target.name))
            .await
        {
            Ok(o) => o,
            Err(e) if errors::is_not_found(&e) => {
                return Err(ClusterError::NotFound {
                    cluster: cluster.to_owned(),
                    kind: target.kind.as_str().to_ascii_lowercase(),
                    namespace: target.namespace.clone(),
                    name: target.name.clone(),
                });
            }
            Err(e) => return Err(t.rest.fail(&format!("reading {target}"), &e)),
        };
        let chain = if target.kind.is_namespaced() {
            owner_chain(t, &target.namespace, &object).await?
        } else {
            Vec::new()
        };
        let owner = chain.last().and_then(|o| {
            Some((
                o.get("kind")?.as_str()?.to_owned(),
                o.pointer("/metadata/name")?.as_str()?.to_owned(),
            ))
        });
        Ok(Resolved {
            cluster: cluster.to_owned(),
            target: target.clone(),
            uid: str_at(&object, "/metadata/uid").map(str::to_owned),
            node: str_at(&object, "/spec/nodeName").map(str::to_owned),
            owner,
            labels: labels_of(&object),
            provider_id: str_at(&object, "/spec/providerID").map(str::to_owned),
        })
    }

    async fn identities(&self, cluster: &str) -> Result<super::Identities, ClusterError> {
        let t = self.target(cluster)?;
        let list = |path: &'static str| async move {
            t.rest
                .list(path, "")
                .await
                .map_err(|e| t.rest.fail(&format!("listing {path}"), &e))
        };
        let accounts = list("/api/v1/serviceaccounts").await?;
        let role_of = |ns: &str, sa: &str| {
            accounts
                .iter()
                .find(|a| {
                    str_at(a, "/metadata/namespace") == Some(ns)
                        && str_at(a, "/metadata/name") == Some(sa)
                })
                .and_then(|a| a.pointer("/metadata/annotations/eks.amazonaws.com~1role-arn"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let pods = list("/api/v1/pods")
            .await?
            .iter()
            .map(|p| {
                let ns = str_at(p, "/metadata/namespace").unwrap_or_default();
                let sa = str_at(p, "/spec/serviceAccountName").unwrap_or("default");
                super::PodIdentity {
                    pod: format!("{ns}/{}", str_at(p, "/metadata/name").unwrap_or_default()),
                    service_account: sa.to_owned(),
                    role_arn: role_of(ns, sa),
                    isolated: labels_of(p).contains_key(QUARANTINE_LABEL),
                }
            })
            .collect();
        let nodes = list("/api/v1/nodes")
            .await?
            .iter()
            .map(|n| {
                (
                    str_at(n, "/metadata/name").unwrap_or_default().to_owned(),
                    str_at(n, "/spec/providerID").map(str::to_owned),
                )
            })
            .collect();
        Ok(super::Identities { pods, nodes })
    }

    async fn annotate_node(
        &self,
        cluster: &str,
        node: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<Option<String>, ClusterError> {
        let t = self.target(cluster)?;
        let path = rest::path(ObjectKind::Node, "", node);
        let before = t
            .rest
            .get(&path)
            .await
            .map_err(|e| t.rest.fail(&format!("reading node {node}"), &e))?;
        let was = before
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned);
        t.rest
            .merge_patch(
                &path,
                &serde_json::json!({ "metadata": { "annotations": { key: value } } }),
            )
            .await
            .map_err(|e| t.rest.fail(&format!("annotating node {node}"), &e))?;
        Ok(was)
    }

    async fn preview(&self, ex: &Execution) -> Result<Outcome, ClusterError> {
        let t = self.target(&ex.resolved.cluster)?;
        let summary = match ex.action {
            ActionName::Quarantine => isolate::preview_quarantine(t, ex).await?,
            ActionName::Drain => nodes::preview_drain(t, ex).await?,
            ActionName::Label => plan::label(t, ex).await?,
            ActionName::Cordon | ActionName::Uncordon => {
                plan::cordon(t, ex, ex.action == ActionName::Cordon).await?
            }
            ActionName::Scale => plan::scale(t, ex).await?,
            ActionName::Delete => plan::delete(ex),
            a if crate::executors::on_aws(a) => return Err(not_aws(a)),
            _ => format!("will {} {}", ex.action, ex.resolved.target),
        };
        Ok(Outcome {
            dry_run: false,
            summary,
            result: Value::Null,
            evidence: Vec::new(),
        })
    }

    async fn execute(&self, ex: &Execution) -> Result<Outcome, ClusterError> {
        let t = self.target(&ex.resolved.cluster)?;
        match ex.action {
            ActionName::Capture => {
                capture::capture(t, ex, self.evidence.clone(), &self.capture).await
            }
            ActionName::Checkpoint => capture::checkpoint(t, ex, self.evidence.clone()).await,
            ActionName::Quarantine => isolate::quarantine(t, ex).await,
            ActionName::Release => isolate::release(t, ex).await,
            ActionName::Label => isolate::label(t, ex).await,
            ActionName::Cordon | ActionName::Uncordon => {
                nodes::cordon(t, ex, ex.action == ActionName::Cordon).await
            }
            ActionName::Drain => nodes::drain(t, ex, self.drain_timeout).await,
            ActionName::Scale => workloads::scale(t, ex).await,
            ActionName::Restart => workloads::restart(t, ex).await,
            ActionName::Delete => workloads::delete(t, ex).await,
            ActionName::Protect
            | ActionName::Unprotect
            | ActionName::Snapshot
            | ActionName::Revoke
            | ActionName::Unrevoke => Err(not_aws(ex.action)),
        }
    }
}

pub fn not_aws(action: ActionName) -> ClusterError {
    ClusterError::NotConfigured(format!(
        "{action} acts on AWS, not on the cluster's API server: it runs through the AWS executor (the plan's [[aws_accounts]] entry named by the cluster's `aws_account`); nothing was changed"
    ))
}
