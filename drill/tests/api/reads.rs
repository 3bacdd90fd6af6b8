//! get and list, with label and field selectors, and watches.

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{ListParams, WatchEvent, WatchParams};
use kube::{Api, ResourceExt};

use crate::common::{TestResult, api_error, names, send, start};

#[tokio::test]
async fn get_returns_the_scenario_objects() -> TestResult {
    let (_handle, client) = start().await?;
    let pod = Api::<Pod>::namespaced(client.clone(), "payments")
        .get("api-7f9c")
        .await?;
    let status = pod.status.clone().unwrap_or_default();
    assert_eq!(status.phase.as_deref(), Some("Running"));
    assert_eq!(status.pod_ip.as_deref(), Some("10.42.1.17"));
    let container = status
        .container_statuses
        .unwrap_or_default()
        .into_iter()
        .next()
        .unwrap_or_default();
    assert!(
        container
            .image_id
            .starts_with("registry.northwind.example/payments/api@sha256:")
    );
    assert_eq!(container.restart_count, 1);
    assert_eq!(pod.owner_references()[0].name, "api-7f9c5d");
    assert!(!pod.uid().unwrap_or_default().is_empty());

    let node = Api::<Node>::all(client.clone())
        .get("ip-10-0-1-23.ec2.internal")
        .await?;
    let spec = node.spec.unwrap_or_default();
    assert_eq!(
        spec.provider_id.as_deref(),
        Some("aws:///eu-central-1a/i-0a1b2c3d4e5f60718")
    );
    let info = node.status.and_then(|s| s.node_info).unwrap_or_default();
    assert_eq!(info.kubelet_version, "v1.34.1");
    assert_eq!(info.container_runtime_version, "containerd://2.1.4");

    let deploy = Api::<Deployment>::namespaced(client.clone(), "payments")
        .get("api")
        .await?;
    assert_eq!(deploy.status.and_then(|s| s.ready_replicas), Some(3));

    let missing = api_error(Api::<Pod>::namespaced(client, "payments").get("nope").await);
    assert_eq!((missing.code, missing.reason.as_str()), (404, "NotFound"));
    assert_eq!(missing.message, "pods \"nope\" not found");
    Ok(())
}

#[tokio::test]
async fn lists_filter_by_label_and_field_selectors() -> TestResult {
    let (_handle, client) = start().await?;
    let payments: Api<Pod> = Api::namespaced(client.clone(), "payments");
    let all: Api<Pod> = Api::all(client.clone());

    let api = payments
        .list(&ListParams::default().labels("app=api"))
        .await?;
    assert_eq!(names(&api.items), ["api-5b2k", "api-7f9c", "api-9x7q"]);
    // Every item carries its type, as the real apiserver's lists do.
    let raw = send(
        &client,
        "GET",
        "/api/v1/namespaces/payments/pods?labelSelector=app%3Dapi",
        "application/json",
        "",
    )
    .await?;
    assert_eq!(raw["kind"], "PodList");
    assert!(raw["items"].as_array().is_some_and(|items| {
        items
            .iter()
            .all(|i| i["kind"] == "Pod" && i["apiVersion"] == "v1")
    }));

    let web_or_api = all
        .list(&ListParams::default().labels("app in (api, web)"))
        .await?;
    assert_eq!(web_or_api.items.len(), 5);
    let not_api = payments
        .list(&ListParams::default().labels("app!=api"))
        .await?;
    assert_eq!(names(&not_api.items), ["ledger-db-0"]);
    let without_app = all.list(&ListParams::default().labels("!app")).await?;
    assert!(
        without_app
            .items
            .iter()
            .all(|p| !p.labels().contains_key("app"))
    );
    assert_eq!(without_app.items.len(), 3);
    let exists = payments
        .list(&ListParams::default().labels("statefulset.kubernetes.io/pod-name"))
        .await?;
    assert_eq!(names(&exists.items), ["ledger-db-0"]);
    let notin = payments
        .list(&ListParams::default().labels("app notin (api)"))
        .await?;
    assert_eq!(names(&notin.items), ["ledger-db-0"]);

    let on_node_2 = all
        .list(&ListParams::default().fields("spec.nodeName=ip-10-0-2-41.ec2.internal"))
        .await?;
    assert_eq!(
        names(&on_node_2.items),
        [
            "api-5b2k",
            "api-9x7q",
            "calico-node-r5t9k",
            "coredns-5d78c9869d-xk2vp",
            "node-exporter-def34",
            "web-6d8f4c-q9z4m"
        ]
    );
    let one = all
        .list(
            &ListParams::default()
                .fields("metadata.name==api-7f9c,metadata.namespace=payments,status.phase=Running"),
        )
        .await?;
    assert_eq!(names(&one.items), ["api-7f9c"]);
    let combined = payments
        .list(
            &ListParams::default()
                .labels("app=api")
                .fields("spec.nodeName!=ip-10-0-2-41.ec2.internal"),
        )
        .await?;
    assert_eq!(names(&combined.items), ["api-7f9c"]);

    let suspect = payments.get("api-7f9c").await?;
    let events: Api<Event> = Api::namespaced(client.clone(), "payments");
    let uid = suspect.uid().unwrap_or_default();
    let about = events
        .list(&ListParams::default().fields(&format!("involvedObject.uid={uid}")))
        .await?;
    assert_eq!(about.items.len(), 3);
    let by_name = events
        .list(&ListParams::default().fields("involvedObject.kind=Pod,involvedObject.name=api-7f9c"))
        .await?;
    assert_eq!(by_name.items.len(), 3);
    assert!(
        about
            .metadata
            .resource_version
            .is_some_and(|rv| !rv.is_empty())
    );
    Ok(())
}

#[tokio::test]
async fn watches_see_later_writes() -> TestResult {
    let (_handle, client) = start().await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "payments");
    let list = pods.list(&ListParams::default().labels("app=api")).await?;
    let rv = list.metadata.resource_version.unwrap_or_default();
    let stream = pods
        .watch(&WatchParams::default().labels("app=api").timeout(5), &rv)
        .await?;
    let mut stream = stream.boxed();
    pods.delete("api-9x7q", &Default::default()).await?;
    let mut seen = Vec::new();
    while let Some(event) = stream.try_next().await? {
        match event {
            WatchEvent::Added(p) => seen.push(format!("ADDED {}", p.name_any())),
            WatchEvent::Deleted(p) => seen.push(format!("DELETED {}", p.name_any())),
            WatchEvent::Modified(_) | WatchEvent::Bookmark(_) => continue,
            WatchEvent::Error(e) => return Err(format!("watch error {e:?}").into()),
        }
        if seen.len() == 2 {
            break;
        }
    }
    assert_eq!(seen[0], "DELETED api-9x7q");
    assert!(seen[1].starts_with("ADDED api-7f9c5d-"), "{seen:?}");
    Ok(())
}

#[tokio::test]
async fn discovery_finds_the_served_groups() -> TestResult {
    let (handle, client) = start().await?;
    let discovery = kube::Discovery::new(client).run().await?;
    let apps = discovery.get("apps").ok_or("apps group missing")?;
    assert!(
        apps.recommended_resources()
            .iter()
            .any(|(ar, _)| ar.plural == "deployments")
    );
    assert!(discovery.has_group("policy"));
    assert!(discovery.has_group(""));
    // Discovery is not part of the recorded Kubernetes traffic.
    assert!(handle.requests().is_empty());
    Ok(())
}
