//! Bad input gets a Kubernetes Status, never a panic, and the server keeps answering.

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;

use crate::common::{TestResult, api_error, send, send_text, start};

#[tokio::test]
async fn malformed_requests_get_statuses() -> TestResult {
    let (_handle, client) = start().await?;
    let json = "application/json";
    let pods = "/api/v1/namespaces/payments/pods";
    let cases: Vec<(&str, String, &str, &str, u16)> = vec![
        ("POST", pods.to_string(), json, "{not json", 400),
        ("POST", pods.to_string(), json, "[1, 2]", 400),
        ("POST", pods.to_string(), json, "", 400),
        (
            "POST",
            pods.to_string(),
            json,
            r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"}}"#,
            422,
        ),
        (
            "POST",
            pods.to_string(),
            json,
            r#"{"metadata":{"name":"x"},"spec":{"containers":"many"}}"#,
            400,
        ),
        (
            "POST",
            pods.to_string(),
            json,
            r#"{"metadata":{"name":"Not_A_Name"},"spec":{"containers":[]}}"#,
            422,
        ),
        (
            "POST",
            pods.to_string(),
            json,
            r#"{"metadata":{},"spec":{"containers":[]}}"#,
            422,
        ),
        (
            "POST",
            "/api/v1/pods".to_string(),
            json,
            r#"{"metadata":{"name":"x"}}"#,
            405,
        ),
        ("PUT", format!("{pods}/api-7f9c"), json, "null", 400),
        ("PATCH", format!("{pods}/api-7f9c"), "text/plain", "{}", 415),
        (
            "PATCH",
            format!("{pods}/api-7f9c"),
            "application/merge-patch+json",
            "[]",
            400,
        ),
        (
            "PATCH",
            format!("{pods}/api-7f9c"),
            "application/merge-patch+json",
            "{",
            400,
        ),
        (
            "PATCH",
            format!("{pods}/api-7f9c"),
            "application/merge-patch+json",
            r#"{"spec":{"containers":7}}"#,
            422,
        ),
        (
            "PATCH",
            format!("{pods}/api-7f9c"),
            "application/merge-patch+json",
            r#"{"metadata":{"name":"other"}}"#,
            422,
        ),
        (
            "PATCH",
            format!("{pods}/api-7f9c"),
            "application/json-patch+json",
            r#"{"op":"add"}"#,
            400,
        ),
        (
            "PATCH",
            format!("{pods}/api-7f9c"),
            "application/json-patch+json",
            r#"[{"op":"remove","path":"/nope/deeper"}]"#,
            422,
        ),
        (
            "PATCH",
            format!("{pods}/api-7f9c"),
            "application/strategic-merge-patch+json",
            "3",
            400,
        ),
        (
            "PATCH",
            format!("{pods}/api-7f9c?fieldManager=t"),
            "application/apply-patch+yaml",
            "a: [",
            400,
        ),
        ("DELETE", format!("{pods}/api-7f9c"), json, "garbage", 400),
        (
            "DELETE",
            format!("{pods}/api-7f9c?gracePeriodSeconds=soon"),
            json,
            "",
            400,
        ),
        ("POST", format!("{pods}/api-7f9c/eviction"), json, "{", 400),
        (
            "POST",
            format!("{pods}/api-7f9c/eviction"),
            json,
            r#"{"metadata":{"name":"api-5b2k"}}"#,
            400,
        ),
        (
            "PATCH",
            "/apis/apps/v1/namespaces/payments/deployments/api/scale".to_string(),
            "application/merge-patch+json",
            r#"{"spec":{"replicas":-1}}"#,
            422,
        ),
        (
            "PATCH",
            "/apis/apps/v1/namespaces/payments/deployments/api/scale".to_string(),
            "application/merge-patch+json",
            r#"{"spec":{"replicas":"x"}}"#,
            400,
        ),
        (
            "PUT",
            "/apis/apps/v1/namespaces/payments/deployments/api/scale".to_string(),
            json,
            "{",
            400,
        ),
        (
            "POST",
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews".to_string(),
            json,
            "[]",
            400,
        ),
        (
            "POST",
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews".to_string(),
            json,
            "{}",
            422,
        ),
        (
            "POST",
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews".to_string(),
            json,
            r#"{"spec":{}}"#,
            422,
        ),
        (
            "GET",
            format!("{pods}?labelSelector=app%20in%20("),
            json,
            "",
            400,
        ),
        ("GET", format!("{pods}?labelSelector=%3Dapi"), json, "", 400),
        (
            "GET",
            format!("{pods}?fieldSelector=spec.bogus%3D1"),
            json,
            "",
            400,
        ),
        (
            "GET",
            format!("{pods}?fieldSelector=justtext"),
            json,
            "",
            400,
        ),
        (
            "GET",
            format!("{pods}?watch=true&timeoutSeconds=forever"),
            json,
            "",
            400,
        ),
        (
            "GET",
            format!("{pods}?watch=true&resourceVersion=abc"),
            json,
            "",
            400,
        ),
        (
            "GET",
            format!("{pods}/api-7f9c/log?tailLines=ten"),
            json,
            "",
            400,
        ),
        (
            "GET",
            format!("{pods}/api-7f9c/log?limitBytes=0"),
            json,
            "",
            422,
        ),
        // A subresource the drill does not serve.
        ("GET", format!("{pods}/api-7f9c/portforward"), json, "", 404),
        // Logging in to a container: refused, and recorded for a game day's scorecard.
        ("GET", format!("{pods}/api-7f9c/exec"), json, "", 403),
        ("POST", format!("{pods}/api-7f9c/attach"), json, "", 403),
        ("GET", format!("{pods}/api-7f9c/log/extra"), json, "", 404),
        ("GET", "/api/v1/pods/api-7f9c".to_string(), json, "", 404),
        (
            "GET",
            "/api/v1/namespaces/payments/nodes".to_string(),
            json,
            "",
            404,
        ),
        (
            "GET",
            "/apis/apps/v1/namespaces/payments/widgets".to_string(),
            json,
            "",
            404,
        ),
        (
            "GET",
            "/apis/apps/v1beta1/namespaces/payments/deployments".to_string(),
            json,
            "",
            404,
        ),
        (
            "GET",
            "/apis/nosuch.example.com/v1/things".to_string(),
            json,
            "",
            404,
        ),
        ("GET", "/api//pods".to_string(), json, "", 404),
        ("GET", "/healthz".to_string(), json, "", 404),
        (
            "GET",
            "/api/v1/namespaces/payments/pods/%ff%fe".to_string(),
            json,
            "",
            404,
        ),
        (
            "POST",
            "/api/v1/namespaces/payments/pods/api-7f9c".to_string(),
            json,
            "{}",
            405,
        ),
        ("PUT", pods.to_string(), json, "{}", 405),
        ("POST", "/api".to_string(), json, "{}", 405),
    ];
    for (method, path, content_type, body, code) in cases {
        let status = api_error(send(&client, method, &path, content_type, body).await);
        assert_eq!(status.code, code, "{method} {path} {body:?}: {status:?}");
        assert!(
            !status.reason.is_empty(),
            "{method} {path}: a Status with a reason"
        );
    }
    // Query strings that are not even key=value pairs.
    let status = api_error(
        send_text(
            &client,
            "GET",
            "/api/v1/namespaces/payments/pods?labelSelector=%zz(",
            "",
        )
        .await,
    );
    assert_eq!(status.code, 400);

    let still_there = Api::<Pod>::namespaced(client, "payments")
        .list(&ListParams::default())
        .await?;
    assert_eq!(still_there.items.len(), 4);
    Ok(())
}

#[tokio::test]
async fn scenario_errors_name_the_document() -> TestResult {
    let text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Pod\nmetadata: {namespace: a}\n";
    let error = warroom_drill::Scenario::from_yaml("drill.yaml", text)
        .err()
        .ok_or("accepted a nameless pod")?;
    assert_eq!(
        error.to_string(),
        "drill.yaml: document 2: missing metadata.name"
    );
    let error = warroom_drill::Scenario::from_yaml("drill.yaml", "kind: Pod\n")
        .err()
        .ok_or("accepted no apiVersion")?;
    assert_eq!(
        error.to_string(),
        "drill.yaml: document 1: missing apiVersion"
    );
    let error = warroom_drill::Scenario::from_yaml(
        "drill.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [x\n",
    )
    .err()
    .ok_or("accepted broken YAML")?;
    assert!(
        error
            .to_string()
            .starts_with("drill.yaml: document 1: invalid YAML at line"),
        "{error}"
    );
    Ok(())
}

#[tokio::test]
async fn garbage_on_the_wire_does_not_take_the_server_down() -> TestResult {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let (handle, client) = start().await?;
    let addr = handle.url().trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr).await?;
    stream
        .write_all(b"NOT HTTP AT ALL\r\n\x00\xff\r\n\r\n")
        .await?;
    let mut answer = Vec::new();
    // hyper answers 400 and closes; a bounded wait keeps the test from hanging if it does not.
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut answer),
    )
    .await;
    assert!(
        answer.is_empty() || answer.starts_with(b"HTTP/1.1 400"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );

    Api::<Pod>::namespaced(client, "payments")
        .get("api-7f9c")
        .await?;
    Ok(())
}
