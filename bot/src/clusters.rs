//! Setting up the clusters a plan names: real ones through kubeconfig or in-cluster
//! credentials, or — in drill mode — simulated API servers started in this process.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use warroom_adapters::cluster::kubernetes::{CaptureSettings, KubeCluster};
use warroom_adapters::evidence::{EvidenceStore, LocalEvidenceStore, UnavailableStore};
use warroom_config::{EvidenceStore as StoreConfig, LoadedPlan, NetworkPolicyEngine, PlanSource};
use warroom_drill::{DrillHandle, DrillServer, Scenario};

pub struct Clusters {
    pub kube: KubeCluster,
    /// Drill API servers by cluster name (drill mode only).
    pub drills: Vec<(String, DrillHandle)>,
}

/// Where captured artifacts go, from `[storage.evidence]`.
pub fn evidence_store(plan: &LoadedPlan, data_dir: &Path) -> Arc<dyn EvidenceStore> {
    match (&plan.plan.storage.evidence, &plan.source) {
        (Some(StoreConfig::Local { path }), PlanSource::File(file)) if path.is_relative() => {
            let dir = file.parent().unwrap_or(Path::new(".")).join(path);
            Arc::new(LocalEvidenceStore::new(
                std::path::absolute(&dir).unwrap_or(dir),
            ))
        }
        (Some(StoreConfig::Local { path }), PlanSource::File(_)) => {
            Arc::new(LocalEvidenceStore::new(path.clone()))
        }
        (
            Some(StoreConfig::S3 {
                bucket,
                region,
                prefix,
                kms_key_id,
                endpoint,
                object_lock,
            }),
            _,
        ) => {
            let settings = warroom_adapters::evidence::s3::S3Settings {
                bucket: bucket.clone(),
                region: region.clone(),
                prefix: prefix.clone(),
                kms_key_id: kms_key_id.clone(),
                endpoint: endpoint.clone(),
                retention: object_lock
                    .as_ref()
                    .map(|l| (l.mode == warroom_config::LockMode::Compliance, l.retain_for)),
            };
            match warroom_adapters::evidence::s3::S3EvidenceStore::new(settings) {
                Ok(store) => Arc::new(store),
                Err(e) => Arc::new(UnavailableStore(format!(
                    "the S3 evidence store (bucket {bucket}) could not start: {e}"
                ))),
            }
        }
        // The built-in plan (and a plan without a store) keeps evidence beside the ledger.
        _ => {
            // Absolute, so the locations the ledger records still lead to the files from
            // wherever an auditor reads the export.
            let dir = data_dir.join("evidence");
            Arc::new(LocalEvidenceStore::new(
                std::path::absolute(&dir).unwrap_or(dir),
            ))
        }
    }
}

fn capture_settings(plan: &LoadedPlan) -> CaptureSettings {
    CaptureSettings {
        collect: plan.plan.evidence.collect.clone(),
        max_log_bytes: plan.plan.evidence.max_log_bytes,
    }
}

/// Drill mode: one simulated API server per plan cluster; the first holds `scenario`.
pub async fn drill(
    plan: &LoadedPlan,
    data_dir: &Path,
    scenario: Scenario,
) -> anyhow::Result<Clusters> {
    let mut kube = KubeCluster::new(evidence_store(plan, data_dir), capture_settings(plan));
    let mut names: Vec<(String, NetworkPolicyEngine)> = plan
        .plan
        .clusters
        .iter()
        .map(|c| (c.name.clone(), c.network_policy))
        .collect();
    if names.is_empty() {
        names.push(("drill".to_owned(), NetworkPolicyEngine::Calico));
    }
    let mut drills = Vec::new();
    let mut first = Some(scenario);
    for (name, engine) in names {
        let scenario = first
            .take()
            .unwrap_or_else(|| Scenario::empty_with_cni(engine.as_str()));
        let handle = DrillServer::start(scenario, "127.0.0.1:0".parse()?)
            .await
            .with_context(|| format!("cannot start the drill API server for cluster {name}"))?;
        let client = KubeCluster::client_for_url(&handle.url()).map_err(anyhow::Error::msg)?;
        kube.add(&name, client, handle.url(), engine);
        drills.push((name, handle));
    }
    Ok(Clusters { kube, drills })
}

/// The plan's clusters as a running server simulates them (`urls`: name → drill API URL).
pub fn drill_at(
    plan: &LoadedPlan,
    data_dir: &Path,
    urls: &[(String, String)],
) -> anyhow::Result<Clusters> {
    let mut kube = KubeCluster::new(evidence_store(plan, data_dir), capture_settings(plan));
    for (name, url) in urls {
        let engine = plan
            .plan
            .cluster(name)
            .map(|c| c.network_policy)
            .unwrap_or(NetworkPolicyEngine::Calico);
        let client = KubeCluster::client_for_url(url).map_err(anyhow::Error::msg)?;
        kube.add(name, client, url.clone(), engine);
    }
    Ok(Clusters {
        kube,
        drills: Vec::new(),
    })
}

/// Real clusters from the plan. One that cannot be set up is reported and its actions
/// answer "not configured" with the reason; the others still work.
pub async fn real(plan: &LoadedPlan, data_dir: &Path) -> Clusters {
    let mut kube = KubeCluster::new(evidence_store(plan, data_dir), capture_settings(plan));
    for c in &plan.plan.clusters {
        match KubeCluster::client_for(c).await {
            Ok((client, server)) => kube.add(&c.name, client, server, c.network_policy),
            Err(why) => {
                crate::logging::notice_warn(&format!(
                    "cluster {}: {why}; its actions will answer \"not configured\"",
                    c.name
                ));
                kube.add_unavailable(&c.name, why);
            }
        }
    }
    Clusters {
        kube,
        drills: Vec::new(),
    }
}

/// The AWS executor for the plan's clusters that name an `[[aws_accounts]]` entry. In a drill
/// only accounts with an `endpoint_url` (a stand-in) are used: a drill never touches AWS.
pub async fn aws(
    plan: &LoadedPlan,
    kube: Arc<dyn warroom_adapters::cluster::Cluster>,
    evidence: Arc<dyn EvidenceStore>,
) -> Option<Arc<warroom_adapters::aws::AwsExecutor>> {
    use warroom_adapters::aws::{AwsExecutor, identity::Account, snapshot::Wait};
    let drill = plan.plan.is_drill();
    let mut accounts = std::collections::BTreeMap::new();
    for c in &plan.plan.clusters {
        let Some(name) = &c.aws_account else { continue };
        let Some(a) = plan.plan.aws_account(name) else {
            continue;
        };
        if drill && a.endpoint_url.is_none() {
            crate::logging::notice_warn(&format!(
                "drill: AWS account {name} is not contacted (set its endpoint_url to a stand-in such as moto to practise AWS actions)"
            ));
            continue;
        }
        let external_id = match &a.external_id {
            None => None,
            Some(secret) => match secret.resolve() {
                Ok(v) => Some(v),
                Err(e) => {
                    crate::logging::notice_warn(&format!(
                        "AWS account {name}: external_id: {e}; its actions will answer \"not configured\""
                    ));
                    continue;
                }
            },
        };
        let mut account = Account::load(
            name,
            &a.region,
            &a.role_arn,
            external_id,
            a.endpoint_url.as_deref(),
        )
        .await;
        account.eks_cluster = c.eks_cluster.clone();
        account.snapshot_lock = a.snapshot_lock.clone();
        accounts.insert(c.name.clone(), account);
    }
    if accounts.is_empty() {
        return None;
    }
    let wait = Wait {
        up_to: std::time::Duration::from_secs(30 * 60),
        every: std::time::Duration::from_secs(5),
    };
    Some(Arc::new(AwsExecutor::new(accounts, kube, evidence, wait)))
}
