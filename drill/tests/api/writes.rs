//! create, replace, patch (all four content types) and delete, and the conflicts they raise.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::{Api, ResourceExt};
use serde_json::json;

use crate::common::{TestResult, api_error, send, start};

fn quarantine_policy() -> Result<NetworkPolicy, serde_json::Error> {
    serde_json::from_value(json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": { "name": "quarantine-api-7f9c", "namespace": "payments" },
        "spec": {
            "podSelector": { "matchLabels": { "warroom.io/quarantine": "true" } },
            "policyTypes": ["Ingress", "Egress"],
        },
    }))
}

#[tokio::test]
async fn created_network_policies_can_be_read_back() -> TestResult {
    let (handle, client) = start().await?;
    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), "payments");
    let created = policies
        .create(&PostParams::default(), &quarantine_policy()?)
        .await?;
    assert_eq!(created.metadata.generation, Some(1));
    let uid = created.uid().unwrap_or_default();
    assert_eq!(uid.len(), 36);
    assert!(created.creation_timestamp().is_some());
    let fetched = policies.get("quarantine-api-7f9c").await?;
    assert_eq!(fetched.uid(), Some(uid));
    assert_eq!(fetched.resource_version(), created.resource_version());
    assert_eq!(
        names_of(&policies).await?,
        ["allow-api-ingress", "quarantine-api-7f9c"]
    );
    assert!(
        handle
            .object(
                "networking.k8s.io/v1",
                "NetworkPolicy",
                "payments",
                "quarantine-api-7f9c"
            )
            .is_some()
    );

    let again = api_error(
        policies
            .create(&PostParams::default(), &quarantine_policy()?)
            .await,
    );
    assert_eq!((again.code, again.reason.as_str()), (409, "AlreadyExists"));
    let nowhere: Api<NetworkPolicy> = Api::namespaced(client.clone(), "ghost");
    let mut elsewhere = quarantine_policy()?;
    elsewhere.metadata.namespace = None;
    let missing = api_error(nowhere.create(&PostParams::default(), &elsewhere).await);
    assert_eq!(
        (missing.code, missing.message.as_str()),
        (404, "namespaces \"ghost\" not found")
    );
    // A body naming another namespace than the URL is refused.
    let mismatch = api_error(
        nowhere
            .create(&PostParams::default(), &quarantine_policy()?)
            .await,
    );
    assert_eq!(mismatch.code, 422);

    // A dry run answers like a create and stores nothing.
    let mut other = quarantine_policy()?;
    other.metadata.name = Some("dry".into());
    policies
        .create(
            &PostParams {
                dry_run: true,
                ..Default::default()
            },
            &other,
        )
        .await?;
    assert!(policies.get_opt("dry").await?.is_none());
    Ok(())
}

async fn names_of(api: &Api<NetworkPolicy>) -> Result<Vec<String>, kube::Error> {
    Ok(crate::common::names(
        &api.list(&Default::default()).await?.items,
    ))
}

#[tokio::test]
async fn generate_name_and_mismatched_bodies() -> TestResult {
    let (_handle, client) = start().await?;
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "warroom");
    let mut cm: ConfigMap = serde_json::from_value(
        json!({ "metadata": { "generateName": "evidence-" }, "data": { "a": "b" } }),
    )?;
    let created = maps.create(&PostParams::default(), &cm).await?;
    let name = created.name_any();
    assert!(
        name.starts_with("evidence-") && name.len() == "evidence-".len() + 5,
        "{name}"
    );

    let wrong_kind = send(
        &client,
        "POST",
        "/api/v1/namespaces/warroom/configmaps",
        "application/json",
        r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"}}"#,
    )
    .await;
    let status = api_error(wrong_kind);
    assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));

    cm.metadata.generate_name = None;
    cm.metadata.name = Some("other".into());
    let status = api_error(
        maps.replace("evidence-x", &PostParams::default(), &cm)
            .await,
    );
    assert_eq!(status.code, 422);
    Ok(())
}

#[tokio::test]
async fn merge_json_strategic_and_apply_patches_change_state() -> TestResult {
    let (_handle, client) = start().await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "payments");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "payments");
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "payments");
    let pp = PatchParams::default();

    // Merge: add a label, remove an annotation-free field with null.
    let before = pods.get("api-7f9c").await?;
    let patched = pods
        .patch(
            "api-7f9c",
            &pp,
            &Patch::Merge(json!({ "metadata": { "labels": { "warroom.io/quarantine": "true" } } })),
        )
        .await?;
    assert!(patched.resource_version() != before.resource_version());
    let after = pods.get("api-7f9c").await?;
    assert_eq!(
        after
            .labels()
            .get("warroom.io/quarantine")
            .map(String::as_str),
        Some("true")
    );
    assert_eq!(after.labels().get("app").map(String::as_str), Some("api"));

    // JSON patch, including a test that guards it.
    let ops = json!([
        { "op": "test", "path": "/data/LOG_FORMAT", "value": "text" },
        { "op": "replace", "path": "/data/LOG_FORMAT", "value": "json" },
    ])
    .to_string();
    let path = "/api/v1/namespaces/payments/configmaps/api-config";
    send(&client, "PATCH", path, "application/json-patch+json", &ops).await?;
    let cm = maps.get("api-config").await?;
    assert_eq!(
        cm.data
            .unwrap_or_default()
            .get("LOG_FORMAT")
            .map(String::as_str),
        Some("json")
    );
    let failed = api_error(send(&client, "PATCH", path, "application/json-patch+json", &ops).await);
    assert_eq!(failed.code, 422);

    // Strategic merge: containers merge by name, so the ports survive an image change.
    let generation = deployments.get("api").await?.metadata.generation;
    deployments
        .patch(
            "api",
            &pp,
            &Patch::Strategic(json!({ "spec": { "template": { "spec": { "containers": [
                { "name": "api", "image": "registry.northwind.example/payments/api:2.14.4" }
            ] } } } })),
        )
        .await?;
    let deploy = deployments.get("api").await?;
    let containers = deploy
        .spec
        .template
        .spec
        .clone()
        .map(|s| s.containers)
        .unwrap_or_default();
    assert_eq!(containers.len(), 1);
    assert_eq!(
        containers[0].image.as_deref(),
        Some("registry.northwind.example/payments/api:2.14.4")
    );
    assert!(
        containers[0]
            .ports
            .as_ref()
            .is_some_and(|p| p[0].container_port == 8443)
    );
    assert_eq!(deploy.metadata.generation, generation.map(|g| g + 1));

    // Server-side apply creates, then updates; it needs a field manager.
    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), "payments");
    let apply = PatchParams::apply("warroom").force();
    let policy = serde_json::to_value(quarantine_policy()?)?;
    policies
        .patch("quarantine-api-7f9c", &apply, &Patch::Apply(&policy))
        .await?;
    let mut changed = policy.clone();
    changed["spec"]["policyTypes"] = json!(["Ingress"]);
    policies
        .patch("quarantine-api-7f9c", &apply, &Patch::Apply(&changed))
        .await?;
    let stored = policies.get("quarantine-api-7f9c").await?;
    assert_eq!(
        stored.spec.and_then(|s| s.policy_types),
        Some(vec!["Ingress".to_string()])
    );
    let no_manager = send(
        &client,
        "PATCH",
        "/apis/networking.k8s.io/v1/namespaces/payments/networkpolicies/quarantine-api-7f9c",
        "application/apply-patch+yaml",
        "spec:\n  policyTypes: [Egress]\n",
    )
    .await;
    assert_eq!(api_error(no_manager).code, 400);
    let yaml = send(
        &client,
        "PATCH",
        "/apis/networking.k8s.io/v1/namespaces/payments/networkpolicies/quarantine-api-7f9c?fieldManager=warroom",
        "application/apply-patch+yaml",
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: quarantine-api-7f9c\nspec:\n  policyTypes: [Egress]\n",
    )
    .await?;
    assert_eq!(yaml["spec"]["policyTypes"], json!(["Egress"]));
    // Applying to a missing object creates it under the URL's name.
    let fresh = send(
        &client,
        "PATCH",
        "/api/v1/namespaces/payments/configmaps/fresh?fieldManager=warroom",
        "application/apply-patch+yaml",
        "apiVersion: v1\nkind: ConfigMap\ndata: {a: b}\n",
    )
    .await?;
    assert_eq!(
        (
            fresh["metadata"]["name"].as_str(),
            fresh["data"]["a"].as_str()
        ),
        (Some("fresh"), Some("b"))
    );
    Ok(())
}

#[tokio::test]
async fn stale_resource_versions_conflict() -> TestResult {
    let (_handle, client) = start().await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "payments");
    let stale = pods.get("api-7f9c").await?;
    pods.patch(
        "api-7f9c",
        &PatchParams::default(),
        &Patch::Merge(json!({ "metadata": { "labels": { "x": "1" } } })),
    )
    .await?;

    let conflict = api_error(
        pods.replace("api-7f9c", &PostParams::default(), &stale)
            .await,
    );
    assert_eq!((conflict.code, conflict.reason.as_str()), (409, "Conflict"));
    assert!(
        conflict.message.contains("the object has been modified"),
        "{}",
        conflict.message
    );

    let rv = stale.resource_version().unwrap_or_default();
    let patch = json!({ "metadata": { "resourceVersion": rv, "labels": { "y": "1" } } });
    let conflict = api_error(
        pods.patch("api-7f9c", &PatchParams::default(), &Patch::Merge(patch))
            .await,
    );
    assert_eq!(conflict.code, 409);

    // With the current resourceVersion the replace goes through.
    let mut current = pods.get("api-7f9c").await?;
    current.labels_mut().insert("z".into(), "1".into());
    let replaced = pods
        .replace("api-7f9c", &PostParams::default(), &current)
        .await?;
    assert_eq!(replaced.labels().get("z").map(String::as_str), Some("1"));
    Ok(())
}

#[tokio::test]
async fn deletes_check_preconditions_and_cascade() -> TestResult {
    let (handle, client) = start().await?;
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "payments");
    let wrong = DeleteParams {
        preconditions: Some(Preconditions {
            uid: Some("not-the-uid".into()),
            resource_version: None,
        }),
        ..Default::default()
    };
    let status = api_error(maps.delete("api-config", &wrong).await);
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
    let deleted = maps.delete("api-config", &DeleteParams::default()).await?;
    assert!(deleted.is_right(), "config maps answer a Status");
    assert_eq!(
        api_error(maps.delete("api-config", &DeleteParams::default()).await).code,
        404
    );

    let pods: Api<Pod> = Api::namespaced(client.clone(), "payments");
    let deleted = pods.delete("api-5b2k", &DeleteParams::default()).await?;
    assert!(
        deleted
            .left()
            .is_some_and(|p| p.metadata.deletion_timestamp.is_some())
    );

    // Deleting a Deployment removes its ReplicaSet and their pods.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "checkout");
    deployments.delete("web", &DeleteParams::default()).await?;
    assert!(
        handle
            .object("apps/v1", "ReplicaSet", "checkout", "web-6d8f4c")
            .is_none()
    );
    assert!(
        handle
            .object("v1", "Pod", "checkout", "web-6d8f4c-x7k2p")
            .is_none()
    );

    // Deleting a namespace deletes what is in it.
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .delete("payments", &DeleteParams::default())
        .await?;
    assert!(handle.object("v1", "Pod", "payments", "api-7f9c").is_none());
    assert!(
        api_error(
            namespaces
                .delete("kube-system", &DeleteParams::default())
                .await
        )
        .code
            == 403
    );
    Ok(())
}
