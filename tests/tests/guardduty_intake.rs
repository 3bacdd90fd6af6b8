//! GuardDuty findings as an EventBridge API destination posts them to `/alerts/guardduty`:
//! an EKS runtime finding names its pod, an EC2 finding its instance (mapped back to the
//! drill node whose providerID names it), so the proposals name real targets; bad requests
//! record nothing.

use serde_json::{Value, json};
use warroom_tests::api::{Api, plan_with};
use warroom_tests::drill::Drill;
use warroom_tests::{Scratch, Server, repo_root};

const TOKEN: &str = "gd-token-7c1e";
const NODE1: &str = "ip-10-0-1-23.ec2.internal";
const NODE2: &str = "ip-10-0-2-41.ec2.internal";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(repo_root().join("commands/src/alert/fixtures").join(name)).unwrap()
}

fn post(server: &Server, token: Option<&str>, body: &str) -> (u16, Value) {
    let mut req = warroom_tests::agent()
        .post(&format!("http://{}/alerts/guardduty", server.addr))
        .header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("authorization", &format!("Bearer {t}"));
    }
    let mut resp = req.send(body.to_owned()).unwrap();
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The example plan as a drill with `changes`, served with the GuardDuty intake's token.
fn serve_with(changes: &[(&str, &str)]) -> (Scratch, Server, Api, Drill) {
    let s = Scratch::new();
    let mut all = vec![("drill = false", "drill = true")];
    all.extend_from_slice(changes);
    s.write("plan.toml", &plan_with(&all));
    let file = s.path().join("plan.toml");
    let server = Server::start_with_env(
        &s,
        &["--config", file.to_str().unwrap()],
        &[("WARROOM_GUARDDUTY_TOKEN", TOKEN)],
    );
    let api = Api::new(&server.addr);
    let drill = Drill::of(&server, "prod-eu");
    (s, server, api, drill)
}

/// Post a finding that must open an incident; the incident's id.
fn opens(server: &Server, body: &str) -> String {
    let (status, r) = post(server, Some(TOKEN), body);
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["alerts"][0]["result"], "opened", "{r}");
    r["alerts"][0]["incident"].as_str().unwrap().to_owned()
}

/// The proposed requests' command targets, once `n` are open.
fn proposals(api: &Api, inc: &str, n: usize) -> Vec<String> {
    let record = api.wait_until(inc, "the proposals", |i| {
        i["incident"]["requests"]
            .as_array()
            .is_some_and(|r| r.len() == n)
    });
    record["incident"]["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let t = &r["spec"]["target"];
            let path = match t["namespace"].as_str().unwrap_or_default() {
                "" => t["name"].as_str().unwrap().to_owned(),
                ns => format!("{ns}/{}", t["name"].as_str().unwrap()),
            };
            format!(
                "{} {} {path}",
                r["spec"]["action"].as_str().unwrap(),
                t["kind"].as_str().unwrap().to_ascii_lowercase(),
            )
        })
        .collect()
}

#[test]
fn findings_open_incidents_whose_proposals_name_the_pod_or_the_node() {
    let (_s, server, api, drill) = serve_with(&[]);

    // Bad requests: no credential, the wrong one, not a GuardDuty finding — nothing recorded.
    let eks = fixture("guardduty-eks-runtime.json");
    assert_eq!(post(&server, None, &eks).0, 401);
    assert_eq!(post(&server, Some("nope"), &eks).0, 401);
    let (status, said) = post(
        &server,
        Some(TOKEN),
        r#"{"source":"aws.guardduty","detail":{"id":"x","severity":8}}"#,
    );
    assert_eq!(status, 400, "{said}");
    assert!(said.to_string().contains("detail.type"), "{said}");
    let (_, listed) = api.get("/api/v1/incidents");
    assert_eq!(
        listed["incidents"].as_array().map(Vec::len),
        Some(0),
        "{listed}"
    );

    // An EKS runtime finding: the pod, and the node it runs on through its instance.
    let (status, first) = post(&server, Some(TOKEN), &eks);
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["alerts"][0]["result"], "opened", "{first}");
    assert_eq!(first["alerts"][0]["rule"], "guardduty-high-findings");
    let inc = first["alerts"][0]["incident"].as_str().unwrap().to_owned();
    let got = proposals(&api, &inc, 6);
    for want in [
        "capture pod payments/api-7f9c",
        "quarantine pod payments/api-7f9c",
        &format!("cordon node {NODE1}"),
        &format!("protect node {NODE1}"),
        &format!("snapshot node {NODE1}"),
        "revoke pod payments/api-7f9c",
    ] {
        assert!(got.iter().any(|g| g == want), "{want} not in {got:?}");
    }
    // GuardDuty updating the same finding (its count grew) is a repeat, not a new incident.
    let (_, again) = post(
        &server,
        Some(TOKEN),
        &eks.replace("\"count\": 1", "\"count\": 2"),
    );
    assert_eq!(again["alerts"][0]["result"], "repeat", "{again}");

    // An EC2 finding: its instance is mapped back to the node whose providerID names it.
    let (code, v) = drill.merge_patch(
        &format!("/api/v1/nodes/{NODE2}"),
        &json!({ "spec": { "providerID": "aws:///eu-central-1b/i-99999999" } }),
    );
    assert!(code < 300, "{v}");
    let inc2 = opens(&server, &fixture("guardduty-ec2-bitcoin.json"));
    assert_ne!(inc2, inc);
    node_actions_proposed(&api, &inc2, NODE2);
}

/// An EC2 finding's four node actions, proposed on `node`.
fn node_actions_proposed(api: &Api, inc: &str, node: &str) {
    let got = proposals(api, inc, 4);
    for want in ["cordon", "protect", "snapshot", "revoke"] {
        assert!(
            got.iter().any(|g| g.starts_with(want) && g.ends_with(node)),
            "{want} of {node} not in {got:?}"
        );
    }
}

fn published(name: &str) -> String {
    fixture(&format!("published/{name}"))
}

#[test]
fn findings_aws_published_open_incidents_naming_the_pod_and_the_node() {
    // The published samples are Medium: this plan's rule takes Medium findings of these types.
    let (_s, server, api, drill) = serve_with(&[(
        r#"match = { type = "CryptoCurrency:.*|Execution:Runtime/.*|Backdoor:.*", severity_label = "High|Critical" }"#,
        r#"match = { type = "PrivilegeEscalation:Kubernetes/.*|Backdoor:.*", severity_label = "Medium|High|Critical" }"#,
    )]);
    // The pod AWS's sample names, running on a drill node.
    let (code, v) = drill.post(
        "/api/v1/namespaces",
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "argocd"}}),
    );
    assert!(code < 300, "{v}");
    let (code, v) = drill.post(
        "/api/v1/namespaces/argocd/pods",
        &json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "privileged-pod", "namespace": "argocd"},
            "spec": {"nodeName": NODE1, "containers": [{"name": "app", "image": "centos",
                "securityContext": {"privileged": true}}]}}),
    );
    assert!(code < 300, "{v}");

    // `aws guardduty get-findings` output, as AWS's EKS blueprint shows it.
    let inc = opens(
        &server,
        &published("eks-privileged-container-getfindings.json"),
    );
    let got = proposals(&api, &inc, 6);
    for want in [
        "capture pod argocd/privileged-pod",
        "quarantine pod argocd/privileged-pod",
        &format!("cordon node {NODE1}"),
    ] {
        assert!(got.iter().any(|g| g == want), "{want} not in {got:?}");
    }

    // An EC2 sample finding in its EventBridge envelope: the instance is the node's.
    let (code, v) = drill.merge_patch(
        &format!("/api/v1/nodes/{NODE2}"),
        &json!({ "spec": { "providerID": "aws:///us-east-1a/i-99999999" } }),
    );
    assert!(code < 300, "{v}");
    let inc2 = opens(
        &server,
        &published("ec2-c2activity-eventbridge-cloudcustodian.json"),
    );
    node_actions_proposed(&api, &inc2, NODE2);

    // A Low sample finding matches no rule: recorded as unmatched, no incident opened.
    let (status, r) = post(
        &server,
        Some(TOKEN),
        &published("ec2-sshbruteforce-sample-detail-only.json"),
    );
    assert_eq!(status, 200, "{r}");
    assert_ne!(r["alerts"][0]["result"], "opened", "{r}");
    let (_, listed) = api.get("/api/v1/incidents");
    assert_eq!(
        listed["incidents"].as_array().map(Vec::len),
        Some(2),
        "{listed}"
    );
}
