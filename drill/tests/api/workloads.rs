//! The controllers: scaling, eviction against the disruption budget, replacement pods,
//! StatefulSet identity and detaching a pod from its ReplicaSet.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{DeleteParams, EvictParams, ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::json;

use crate::common::{TestResult, api_error, names, start};

fn ready(pod: &Pod) -> bool {
    let status = pod.status.clone().unwrap_or_default();
    status.phase.as_deref() == Some("Running")
        && status
            .conditions
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
}

fn node(pod: &Pod) -> String {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn scaling_a_deployment_removes_and_restores_pods() -> TestResult {
    let (_handle, client) = start().await?;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "payments");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "payments");
    let api_pods = ListParams::default().labels("app=api");

    let scale = deployments.get_scale("api").await?;
    assert_eq!(scale.spec.and_then(|s| s.replicas), Some(3));
    assert_eq!(
        scale.status.and_then(|s| s.selector).as_deref(),
        Some("app=api")
    );

    let pp = PatchParams::default();
    let scaled = deployments
        .patch_scale(
            "api",
            &pp,
            &Patch::Merge(json!({ "spec": { "replicas": 0 } })),
        )
        .await?;
    assert_eq!(scaled.spec.and_then(|s| s.replicas), Some(0));
    assert!(pods.list(&api_pods).await?.items.is_empty());
    let deploy = deployments.get("api").await?;
    assert_eq!(deploy.spec.replicas, Some(0));
    assert_eq!(deploy.status.and_then(|s| s.replicas), Some(0));
    let rs = Api::<ReplicaSet>::namespaced(client.clone(), "payments")
        .get("api-7f9c5d")
        .await?;
    assert_eq!(rs.spec.replicas, Some(0));

    deployments
        .patch_scale(
            "api",
            &pp,
            &Patch::Merge(json!({ "spec": { "replicas": 3 } })),
        )
        .await?;
    let back = pods.list(&api_pods).await?.items;
    assert_eq!(back.len(), 3);
    assert!(back.iter().all(ready));
    assert!(back.iter().all(|p| p.name_any().starts_with("api-7f9c5d-")));
    assert!(
        back.iter()
            .all(|p| p.owner_references()[0].name == "api-7f9c5d")
    );
    let deploy = deployments.get("api").await?;
    let status = deploy.status.unwrap_or_default();
    assert_eq!(
        (
            status.replicas,
            status.ready_replicas,
            status.available_replicas
        ),
        (Some(3), Some(3), Some(3))
    );
    let scale = deployments.get_scale("api").await?;
    assert_eq!(scale.status.map(|s| s.replicas), Some(3));

    // spec.replicas through a plain patch scales too, and scaling down removes the newest pods.
    let newest = back
        .iter()
        .max_by_key(|p| p.resource_version().and_then(|v| v.parse::<u64>().ok()))
        .map(|p| p.name_any());
    deployments
        .patch(
            "api",
            &pp,
            &Patch::Merge(json!({ "spec": { "replicas": 2 } })),
        )
        .await?;
    let left = names(&pods.list(&api_pods).await?.items);
    assert_eq!(left.len(), 2);
    assert!(newest.is_some_and(|n| !left.contains(&n)));
    Ok(())
}

#[tokio::test]
async fn eviction_respects_the_disruption_budget() -> TestResult {
    let (_handle, client) = start().await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "payments");
    let budgets: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), "payments");
    let pdb = budgets.get("api-pdb").await?.status.unwrap_or_default();
    assert_eq!(
        (
            pdb.current_healthy,
            pdb.desired_healthy,
            pdb.disruptions_allowed
        ),
        (Some(3), Some(2), Some(1))
    );

    // Three healthy, two required: one eviction is allowed, and the ReplicaSet replaces the pod
    // on the node it ran on.
    let status = pods.evict("api-9x7q", &EvictParams::default()).await?;
    assert_eq!(status.code, 201);
    assert!(pods.get_opt("api-9x7q").await?.is_none());
    let api = pods
        .list(&ListParams::default().labels("app=api"))
        .await?
        .items;
    assert_eq!(api.len(), 3);
    let replacement = api
        .iter()
        .find(|p| p.name_any().starts_with("api-7f9c5d-"))
        .ok_or("no replacement pod")?;
    assert_eq!(replacement.name_any().len(), "api-7f9c5d-".len() + 5);
    assert_eq!(node(replacement), "ip-10-0-2-41.ec2.internal");
    assert!(ready(replacement));

    // Take one pod out of service: two healthy left, so evicting a healthy one is refused.
    pods.patch_status(
        "api-5b2k",
        &PatchParams::default(),
        &Patch::Merge(
            json!({ "status": { "conditions": [{ "type": "Ready", "status": "False" }] } }),
        ),
    )
    .await?;
    let refused = api_error(pods.evict("api-7f9c", &EvictParams::default()).await);
    assert_eq!(
        (refused.code, refused.reason.as_str()),
        (429, "TooManyRequests")
    );
    assert_eq!(
        refused.message,
        "Cannot evict pod as it would violate the pod's disruption budget."
    );
    let causes = refused.details.map(|d| d.causes).unwrap_or_default();
    assert_eq!(causes[0].reason, "DisruptionBudget");
    assert_eq!(
        causes[0].message,
        "The disruption budget api-pdb needs 2 healthy pods and has 2 currently"
    );
    assert!(pods.get_opt("api-7f9c").await?.is_some());
    let pdb = budgets.get("api-pdb").await?.status.unwrap_or_default();
    assert_eq!(pdb.disruptions_allowed, Some(0));

    // The unhealthy pod itself may go: evicting it costs the budget nothing.
    pods.evict("api-5b2k", &EvictParams::default()).await?;
    assert_eq!(
        api_error(pods.evict("ghost", &EvictParams::default()).await).code,
        404
    );
    Ok(())
}

#[tokio::test]
async fn statefulset_pods_come_back_with_a_new_uid() -> TestResult {
    let (_handle, client) = start().await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "payments");
    let old = pods.get("ledger-db-0").await?;
    pods.delete("ledger-db-0", &DeleteParams::default()).await?;
    let new = pods.get("ledger-db-0").await?;
    assert_ne!(new.uid(), old.uid());
    assert_eq!(node(&new), "ip-10-0-1-23.ec2.internal");
    assert!(ready(&new));
    assert_eq!(new.owner_references()[0].kind, "StatefulSet");
    let claims: Vec<String> = new
        .spec
        .and_then(|s| s.volumes)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|v| v.persistent_volume_claim.map(|c| c.claim_name))
        .collect();
    assert_eq!(claims, ["data-ledger-db-0"]);
    Ok(())
}

#[tokio::test]
async fn detached_pods_keep_running_and_are_replaced() -> TestResult {
    let (handle, client) = start().await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "payments");
    let patch = json!({ "metadata": { "labels": { "app": null, "pod-template-hash": null, "warroom.io/quarantine": "true" } } });
    pods.patch("api-7f9c", &PatchParams::default(), &Patch::Merge(patch))
        .await?;

    let suspect = pods.get("api-7f9c").await?;
    assert!(
        suspect.owner_references().is_empty(),
        "the ReplicaSet releases the pod"
    );
    assert!(ready(&suspect));
    let api = pods
        .list(&ListParams::default().labels("app=api"))
        .await?
        .items;
    assert_eq!(api.len(), 3);
    assert_eq!(
        api.iter()
            .filter(|p| p.name_any().starts_with("api-7f9c5d-"))
            .count(),
        1
    );
    let rs = handle
        .object("apps/v1", "ReplicaSet", "payments", "api-7f9c5d")
        .unwrap_or_default();
    assert_eq!(rs["status"]["readyReplicas"], 3);
    Ok(())
}
