//! The /drill/ control endpoints: denials, faults, the request log; and shutting down.

use k8s_openapi::api::authorization::v1::SelfSubjectAccessReview;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::Api;
use kube::api::{EvictParams, ListParams, LogParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use warroom_drill::RecordedRequest;

use crate::common::{TestResult, api_error, client_for, send, send_text, start};

fn review(
    verb: &str,
    group: &str,
    resource: &str,
) -> Result<SelfSubjectAccessReview, serde_json::Error> {
    serde_json::from_value(json!({
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": { "resourceAttributes": { "namespace": "payments", "verb": verb, "group": group, "resource": resource } },
    }))
}

fn policy() -> Result<NetworkPolicy, serde_json::Error> {
    serde_json::from_value(json!({
        "metadata": { "name": "deny-all", "namespace": "payments" },
        "spec": { "podSelector": {}, "policyTypes": ["Ingress", "Egress"] },
    }))
}

#[tokio::test]
async fn denials_show_in_access_reviews_and_requests() -> TestResult {
    let (_handle, client) = start().await?;
    let reviews: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let ask = review("create", "networking.k8s.io", "networkpolicies")?;
    let allowed = reviews.create(&PostParams::default(), &ask).await?;
    assert_eq!(allowed.status.map(|s| s.allowed), Some(true));

    let deny = json!({ "verb": "create", "group": "networking.k8s.io", "resource": "networkpolicies", "subresource": "" });
    send(
        &client,
        "POST",
        "/drill/deny",
        "application/json",
        &deny.to_string(),
    )
    .await?;

    let denied = reviews
        .create(&PostParams::default(), &ask)
        .await?
        .status
        .unwrap_or_default();
    assert!(!denied.allowed);
    assert!(denied.reason.is_some_and(|r| !r.is_empty()));
    let other = reviews
        .create(&PostParams::default(), &review("patch", "", "pods")?)
        .await?;
    assert_eq!(other.status.map(|s| s.allowed), Some(true));

    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), "payments");
    let forbidden = api_error(policies.create(&PostParams::default(), &policy()?).await);
    assert_eq!(
        (forbidden.code, forbidden.reason.as_str()),
        (403, "Forbidden")
    );
    assert!(
        forbidden
            .message
            .contains("cannot create resource \"networkpolicies\""),
        "{}",
        forbidden.message
    );
    // Reading is still allowed.
    policies.list(&ListParams::default()).await?;

    send(&client, "DELETE", "/drill/deny", "application/json", "").await?;
    policies.create(&PostParams::default(), &policy()?).await?;
    Ok(())
}

#[tokio::test]
async fn injected_faults_fail_the_next_matching_requests() -> TestResult {
    let (_handle, client) = start().await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "payments");
    let fault = json!({ "verb": "patch", "resource": "pods", "subresource": "", "status": 409, "times": 1 });
    send(
        &client,
        "POST",
        "/drill/faults",
        "application/json",
        &fault.to_string(),
    )
    .await?;

    // Other verbs pass untouched.
    pods.get("api-7f9c").await?;
    let label = Patch::Merge(json!({ "metadata": { "labels": { "q": "1" } } }));
    let conflict = api_error(
        pods.patch("api-7f9c", &PatchParams::default(), &label)
            .await,
    );
    assert_eq!((conflict.code, conflict.reason.as_str()), (409, "Conflict"));
    pods.patch("api-7f9c", &PatchParams::default(), &label)
        .await?;

    for (code, reason) in [
        (429, "TooManyRequests"),
        (500, "InternalError"),
        (503, "ServiceUnavailable"),
        (403, "Forbidden"),
    ] {
        let fault = json!({ "verb": "list", "resource": "pods", "status": code });
        send(
            &client,
            "POST",
            "/drill/faults",
            "application/json",
            &fault.to_string(),
        )
        .await?;
        let failed = api_error(pods.list(&ListParams::default()).await);
        assert_eq!((failed.code, failed.reason.as_str()), (code, reason));
    }
    pods.list(&ListParams::default()).await?;

    let bad = api_error(
        send(
            &client,
            "POST",
            "/drill/faults",
            "application/json",
            "{\"status\": 200}",
        )
        .await,
    );
    assert_eq!(bad.code, 400);
    let bad = api_error(send(&client, "POST", "/drill/faults", "application/json", "nope").await);
    assert_eq!(bad.code, 400);
    Ok(())
}

fn tuple(r: &RecordedRequest) -> (&str, &str, &str, &str, &str) {
    (&r.verb, &r.group, &r.resource, &r.subresource, &r.namespace)
}

#[tokio::test]
async fn requests_are_recorded_as_the_apiserver_names_them() -> TestResult {
    let (handle, client) = start().await?;
    client.apiserver_version().await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "payments");
    pods.get("api-7f9c").await?;
    Api::<Pod>::all(client.clone())
        .list(&ListParams::default().labels("app=api"))
        .await?;
    pods.logs("api-7f9c", &LogParams::default()).await?;
    pods.patch(
        "api-7f9c",
        &PatchParams::default(),
        &Patch::Merge(json!({ "metadata": { "labels": { "q": "1" } } })),
    )
    .await?;
    pods.evict("api-9x7q", &EvictParams::default()).await?;
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(client.clone(), "payments");
    deployments
        .patch_scale(
            "api",
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "replicas": 2 } })),
        )
        .await?;
    Api::<SelfSubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review("delete", "", "pods")?)
        .await?;
    send_text(
        &client,
        "POST",
        "/api/v1/nodes/ip-10-0-1-23.ec2.internal/proxy/checkpoint/payments/api-7f9c/api",
        "",
    )
    .await?;
    pods.delete("api-5b2k", &Default::default()).await?;

    let recorded = handle.requests();
    let tuples: Vec<_> = recorded.iter().map(tuple).collect();
    assert_eq!(
        tuples,
        [
            ("get", "", "pods", "", "payments"),
            ("list", "", "pods", "", ""),
            ("get", "", "pods", "log", "payments"),
            ("patch", "", "pods", "", "payments"),
            ("create", "", "pods", "eviction", "payments"),
            ("patch", "apps", "deployments", "scale", "payments"),
            (
                "create",
                "authorization.k8s.io",
                "selfsubjectaccessreviews",
                "",
                ""
            ),
            ("create", "", "nodes", "proxy", ""),
            ("delete", "", "pods", "", "payments"),
        ]
    );

    // The same log over HTTP, and cleared over HTTP.
    let listed: Vec<RecordedRequest> = serde_json::from_value(
        send(&client, "GET", "/drill/requests", "application/json", "").await?,
    )?;
    assert_eq!(listed, recorded);
    send(&client, "DELETE", "/drill/requests", "application/json", "").await?;
    assert!(handle.requests().is_empty());
    let body: Value = send(&client, "GET", "/drill/requests", "application/json", "").await?;
    assert_eq!(body, json!([]));
    Ok(())
}

#[tokio::test]
async fn shutdown_makes_the_client_fail_to_connect() -> TestResult {
    let (handle, client) = start().await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "payments");
    pods.get("api-7f9c").await?;
    handle.shutdown();

    let error = pods
        .get("api-7f9c")
        .await
        .err()
        .ok_or("a request after shutdown succeeded")?;
    assert!(
        !matches!(error, kube::Error::Api(_)),
        "expected a connection error, got {error:?}"
    );

    // A fresh client cannot connect at all.
    let fresh: Api<Pod> = Api::namespaced(client_for(&handle)?, "payments");
    let error = fresh
        .get("api-7f9c")
        .await
        .err()
        .ok_or("a fresh client reached a stopped server")?;
    assert!(
        !matches!(error, kube::Error::Api(_)),
        "expected a connection error, got {error:?}"
    );
    let addr = handle.url().trim_start_matches("http://").to_string();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the port still accepts connections"
    );
    Ok(())
}
