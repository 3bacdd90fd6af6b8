//! Kubernetes actions end to end: warroom's kube client against the drill API server that
//! `warroom serve` starts in drill mode. Each test checks the cluster's state afterwards and
//! what the ledger recorded.

use serde_json::{Value, json};
use warroom_tests::api::Api;
use warroom_tests::drill::Drill;
use warroom_tests::{Scratch, Server};

const SUSPECT: &str = "/api/v1/namespaces/payments/pods/api-7f9c";
const POLICY: &str =
    "/apis/networking.k8s.io/v1/namespaces/payments/networkpolicies/warroom-quarantine-api-7f9c";
const NODE1: &str = "ip-10-0-1-23.ec2.internal";
const NODE2: &str = "ip-10-0-2-41.ec2.internal";

fn start(extra: &[&str]) -> (Scratch, Server, Api, Drill) {
    let s = Scratch::new();
    let server = Server::start(&s, extra);
    let api = Api::new(&server.addr);
    let drill = Drill::of(&server, "prod-eu");
    (s, server, api, drill)
}

/// Where an artifact is: evidence locations are keys in the store beside the ledger.
fn artifact(s: &Scratch, e: &Value) -> std::path::PathBuf {
    s.path()
        .join("warroom-data/evidence")
        .join(e["location"].as_str().unwrap())
}

fn kinds(api: &Api, inc: &str) -> Vec<String> {
    api.kinds(inc)
}

fn message(reply: &Value) -> &str {
    reply["message"].as_str().unwrap_or_default()
}

#[test]
fn capture_then_quarantine_reports_the_conflicting_policy_then_release_undoes_it() {
    let (s, _server, api, drill) = start(&[]);
    let inc = api.open_incident("shell in payments api");
    let uid = drill.object(SUSPECT)["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_owned();

    let r = api.ok("alice", "capture pod payments/api-7f9c", Some(&inc));
    assert_eq!(r["status"], "executed", "{r}");
    let evidence = api.incident(&inc)["evidence"].as_array().cloned().unwrap();
    let names: Vec<&str> = evidence.iter().filter_map(|e| e["name"].as_str()).collect();
    for want in [
        "pod_spec.json",
        "owner_chain.json",
        "image_digests.json",
        "events.json",
        "logs.api.txt",
        "previous_logs.api.txt",
        "node_info.json",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    for e in &evidence {
        assert_eq!(e["approval"], "R1", "{e}");
        let bytes = std::fs::read(artifact(&s, e)).unwrap();
        assert_eq!(bytes.len() as u64, e["size"].as_u64().unwrap());
        assert_eq!(sha256_hex(&bytes), e["sha256"].as_str().unwrap(), "{e}");
    }
    let spec: Value = serde_json::from_slice(
        &std::fs::read(artifact(
            &s,
            evidence
                .iter()
                .find(|e| e["name"] == "pod_spec.json")
                .unwrap(),
        ))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(spec["metadata"]["uid"], uid.as_str());
    let digests = std::fs::read_to_string(artifact(
        &s,
        evidence
            .iter()
            .find(|e| e["name"] == "image_digests.json")
            .unwrap(),
    ))
    .unwrap();
    assert!(digests.contains("@sha256:"), "{digests}");
    let chain = std::fs::read_to_string(artifact(
        &s,
        evidence
            .iter()
            .find(|e| e["name"] == "owner_chain.json")
            .unwrap(),
    ))
    .unwrap();
    assert!(
        chain.contains("\"ReplicaSet\"") && chain.contains("\"Deployment\""),
        "{chain}"
    );

    api.ok(
        "alice",
        "quarantine pod payments/api-7f9c --reason \"shell spawned\"",
        Some(&inc),
    );
    let r = api.ok("bob", "approve R2", Some(&inc));
    assert_eq!(r["status"], "executed", "{r}");
    assert!(
        message(&r).contains("allow-api-ingress"),
        "the re-allowing policy is reported: {r}"
    );
    let policy = drill.object(POLICY);
    assert_eq!(
        policy["spec"]["podSelector"]["matchLabels"]["warroom.io/quarantine"],
        inc.as_str()
    );
    assert_eq!(policy["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
    assert_eq!(policy["spec"]["ingress"], json!([]));
    assert_eq!(drill.labels(SUSPECT)["warroom.io/quarantine"], inc.as_str());
    assert_eq!(
        drill.labels(SUSPECT)["app"],
        "api",
        "without --detach the pod keeps its labels"
    );
    let req = api.request(&inc, "R2");
    assert_eq!(req["status"], "executed");
    let executed = api.incident(&inc)["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "request.executed" && e["data"]["request"] == "R2")
        .cloned()
        .unwrap();
    assert_eq!(executed["data"]["dry_run"], false);
    assert_eq!(executed["data"]["result"]["labels_before"]["app"], "api");
    // The diff is readable everywhere the timeline is: the API, the card, `incident show`
    // and the Markdown export.
    let quarantined = format!("labels: + warroom.io/quarantine={inc}");
    let changes = warroom_tests::strings(&executed["changes"]);
    assert!(
        changes.contains(&quarantined.as_str())
            && changes.contains(&"NetworkPolicy warroom-quarantine-api-7f9c applied"),
        "{changes:?}"
    );
    assert!(
        req["changes"].to_string().contains(&quarantined),
        "the request record (and so its card) carries the diff: {req}"
    );
    let show = s.run(&["incident", "show", &inc]).expect_code(0).stdout();
    assert!(show.contains(&quarantined), "{show}");
    s.run(&[
        "incident", "export", &inc, "--format", "markdown", "--out", "t.md",
    ])
    .expect_code(0);
    let md = std::fs::read_to_string(s.path().join("t.md")).unwrap();
    assert!(
        md.contains(&format!("<br>• {quarantined}")),
        "the post-mortem shows labels before and after: {md}"
    );
    assert!(
        executed["data"]["result"]["other_policies"]
            .to_string()
            .contains("allow-api-ingress")
    );

    api.ok(
        "alice",
        "release pod payments/api-7f9c --reason \"false positive\"",
        Some(&inc),
    );
    let r = api.ok("bob", "approve R3", Some(&inc));
    assert_eq!(r["status"], "executed", "{r}");
    assert_eq!(drill.get(POLICY).0, 404, "the quarantine policy is gone");
    assert!(drill.labels(SUSPECT).get("warroom.io/quarantine").is_none());
    let k = kinds(&api, &inc);
    assert_eq!(
        k.iter().filter(|k| *k == "evidence.recorded").count(),
        evidence.len()
    );
    let _ = s;
}

#[test]
fn detach_lets_the_controller_replace_the_pod_and_keeps_the_suspect_running() {
    let (_s, _server, api, drill) = start(&[]);
    let inc = api.open_incident("detach");
    api.ok(
        "alice",
        "quarantine pod payments/api-7f9c --detach --reason \"keep it for forensics\"",
        Some(&inc),
    );
    let r = api.ok("bob", "approve R1", Some(&inc));
    assert!(message(&r).contains("detached"), "{r}");
    let labels = drill.labels(SUSPECT);
    assert!(
        labels.get("app").is_none() && labels.get("pod-template-hash").is_none(),
        "{labels}"
    );
    let (_, pods) = drill.get("/api/v1/namespaces/payments/pods?labelSelector=app%3Dapi");
    assert_eq!(
        pods["items"].as_array().unwrap().len(),
        3,
        "the ReplicaSet made a replacement: {pods}"
    );
    assert_eq!(drill.object(SUSPECT)["status"]["phase"], "Running");
}

#[test]
fn cordon_and_a_drain_that_honours_the_budget_and_skips_the_investigated_pod() {
    // 1 s: the drain retries twice (250 and 500 ms) and gives up well inside the 2 s a
    // command's reply waits for its action, so the answer is the failure, not "running".
    let (_s, _server, api, drill) = start(&["--drain-timeout", "1s"]);
    let inc = api.open_incident("node 2 compromised");
    api.ok(
        "alice",
        &format!("cordon node {NODE1} --reason \"keep new pods off\""),
        Some(&inc),
    );
    let r = api.ok("bob", "approve R1", Some(&inc));
    assert_eq!(r["status"], "executed", "{r}");
    assert_eq!(
        drill.object(&format!("/api/v1/nodes/{NODE1}"))["spec"]["unschedulable"],
        true
    );

    // Tighten the api budget so that no api pod may be disrupted.
    let (code, v) = drill.merge_patch(
        "/apis/policy/v1/namespaces/payments/poddisruptionbudgets/api-pdb",
        &json!({"spec": {"minAvailable": 3}}),
    );
    assert!(code < 300, "{v}");
    api.ok(
        "alice",
        "quarantine pod payments/api-9x7q --reason \"beaconing\"",
        Some(&inc),
    );
    api.ok("bob", "approve R2", Some(&inc));
    api.ok("alice", "capture pod payments/api-5b2k", Some(&inc));
    api.ok(
        "erin",
        &format!("drain node {NODE2} --reason \"node compromised\""),
        Some(&inc),
    );
    // The approval is recorded; the drain it ran did not finish, so the answer is not ok
    // (or, on a machine slow enough that the run outlives the reply's wait, "executing").
    let (status, r) = api.command("carol", "approve R4", Some(&inc));
    assert!(
        (status == 500 && r["ok"] == false) || r["status"] == "executing",
        "{r}"
    );
    // The drain retries refused evictions until --drain-timeout, posting progress meanwhile.
    let body = api.wait_until(&inc, "the drain to give up", |b| {
        b["incident"]["requests"][3]["status"] == "failed"
    });
    let m = body["incident"]["requests"][3]["outcome"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        m.contains("PodDisruptionBudget") && m.contains("payments/api-5b2k"),
        "{m}"
    );
    assert!(
        body["messages"]
            .to_string()
            .contains("held by a disruption budget"),
        "progress was posted"
    );
    assert_eq!(
        drill.object(&format!("/api/v1/nodes/{NODE2}"))["spec"]["unschedulable"],
        true,
        "left cordoned"
    );
    assert_eq!(
        drill.get("/api/v1/namespaces/payments/pods/api-9x7q").0,
        200,
        "the investigated pod was not evicted"
    );
    assert_eq!(
        drill.get("/api/v1/namespaces/payments/pods/api-5b2k").0,
        200,
        "the budget held"
    );
    let evictions: Vec<Value> = drill
        .requests()
        .into_iter()
        .filter(|r| r["subresource"] == "eviction")
        .collect();
    assert!(!evictions.is_empty());
    let outcome = api.request(&inc, "R4")["outcome"].clone();
    assert!(
        outcome
            .as_str()
            .unwrap()
            .contains("refused by a PodDisruptionBudget"),
        "{outcome}"
    );
}

#[test]
fn scale_to_zero_is_refused_without_evidence_and_runs_after_a_capture() {
    let (_s, _server, api, drill) = start(&[]);
    let inc = api.open_incident("stop the api");
    let (status, r) = api.command(
        "erin",
        "scale deployment payments/api --replicas 0 --reason \"stop the bleeding\"",
        Some(&inc),
    );
    assert_eq!(status, 422, "{r}");
    assert_eq!(
        drill.object("/apis/apps/v1/namespaces/payments/deployments/api")["spec"]["replicas"],
        3
    );
    api.ok("alice", "capture pod payments/api-7f9c", Some(&inc));
    api.ok(
        "erin",
        "scale deployment payments/api --replicas 0 --reason \"stop the bleeding\"",
        Some(&inc),
    );
    let r = api.ok("carol", "approve R2", Some(&inc));
    assert!(message(&r).contains("from 3 to 0 replicas"), "{r}");
    assert_eq!(
        drill.object("/apis/apps/v1/namespaces/payments/deployments/api")["spec"]["replicas"],
        0
    );
    let (_, pods) = drill.get("/api/v1/namespaces/payments/pods?labelSelector=app%3Dapi");
    assert_eq!(pods["items"], json!([]), "{pods}");
}

#[test]
fn delete_runs_with_the_uid_precondition_and_the_statefulset_recreates_the_pod() {
    let (_s, _server, api, drill) = start(&[]);
    let inc = api.open_incident("ledger db");
    let before =
        drill.object("/api/v1/namespaces/payments/pods/ledger-db-0")["metadata"]["uid"].clone();
    api.ok("erin", "delete pod payments/ledger-db-0 --reason \"rebuild\" --override \"snapshot taken by the DBA\"", Some(&inc));
    assert_eq!(
        api.request(&inc, "R1")["spec"]["approvals_needed"],
        3,
        "delete needs 2, the critical workload one more"
    );
    api.ok("carol", "approve R1", Some(&inc));
    api.ok("dave", "approve R1", Some(&inc));
    let r = api.ok("grace", "approve R1", Some(&inc));
    assert_eq!(r["status"], "executed", "{r}");
    let after =
        drill.object("/api/v1/namespaces/payments/pods/ledger-db-0")["metadata"]["uid"].clone();
    assert_ne!(before, after);
    let delete = drill
        .requests()
        .into_iter()
        .find(|r| r["verb"] == "delete" && r["resource"] == "pods");
    assert!(delete.is_some());
}

#[test]
fn checkpoint_succeeds_and_explains_404_and_500() {
    let (_s, _server, api, drill) = start(&[]);
    let inc = api.open_incident("checkpoint");
    let r = api.ok(
        "alice",
        "checkpoint pod payments/api-7f9c --container api",
        Some(&inc),
    );
    assert_eq!(r["status"], "executed", "{r}");
    assert!(message(&r).contains("/var/lib/kubelet/checkpoints/"), "{r}");
    let names: Vec<String> = api.incident(&inc)["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        names.contains(&"checkpoint.api.kubelet-response.json".to_owned()),
        "{names:?}"
    );

    let r = api.failed("alice", "checkpoint pod payments/api-5b2k", Some(&inc));
    assert!(message(&r).contains("CRIU"), "{r}");

    let (code, v) = drill.merge_patch(
        &format!("/api/v1/nodes/{NODE1}"),
        &json!({"metadata": {"annotations": {"drill.warroom.io/checkpoint": "disabled"}}}),
    );
    assert!(code < 300, "{v}");
    let r = api.failed("alice", "checkpoint pod payments/api-7f9c", Some(&inc));
    assert!(message(&r).contains("feature gate"), "{r}");
}

#[test]
fn unknown_targets_name_the_cluster_and_namespace_and_record_nothing() {
    let (_s, _server, api, _drill) = start(&[]);
    let inc = api.open_incident("typos");
    for (text, want) in [
        (
            "quarantine pod payments/api-0000 --reason x",
            "pod api-0000 not found in cluster prod-eu (namespace payments searched)",
        ),
        (
            "quarantine pod checkout/api-7f9c --reason x",
            "pod api-7f9c not found in cluster prod-eu (namespace checkout searched)",
        ),
        (
            "cordon node ip-10-9-9-9.ec2.internal --reason x",
            "node ip-10-9-9-9.ec2.internal not found in cluster prod-eu",
        ),
    ] {
        let (status, r) = api.command("alice", text, Some(&inc));
        assert_eq!(status, 404, "{text}: {r}");
        assert!(message(&r).contains(want), "{text}: {r}");
    }
    assert_eq!(kinds(&api, &inc), ["incident.opened"]);
}

#[test]
fn conflicts_are_retried_and_a_persistent_one_is_a_clear_failure_with_a_consistent_ledger() {
    let (_s, _server, api, drill) = start(&[]);
    let inc = api.open_incident("conflicts");
    drill.fault("patch", "nodes", "", 409, 1);
    api.ok(
        "alice",
        &format!("cordon node {NODE1} --reason x"),
        Some(&inc),
    );
    let r = api.ok("bob", "approve R1", Some(&inc));
    assert_eq!(r["status"], "executed", "one 409 is retried: {r}");
    drill.fault("patch", "nodes", "", 409, 50);
    api.ok(
        "alice",
        &format!("uncordon node {NODE1} --reason x"),
        Some(&inc),
    );
    let r = api.failed("bob", "approve R2", Some(&inc));
    assert!(message(&r).contains("409"), "{r}");
    let k = kinds(&api, &inc);
    assert_eq!(k.iter().filter(|k| *k == "request.executing").count(), 2);
    assert_eq!(k.iter().filter(|k| *k == "request.failed").count(), 1);
    let (_, v) = api.get("/api/v1/ledger/verify");
    assert_eq!(v["intact"], true);
}

#[test]
fn an_api_server_that_is_down_is_named_and_nothing_is_recorded() {
    let s = Scratch::new();
    // A kubeconfig pointing at a port nobody listens on.
    let port = warroom_tests::free_port();
    let kubeconfig = s.write(
        "kubeconfig",
        &warroom_tests::kubeconfig_for(&format!("http://127.0.0.1:{port}")),
    );
    // Not a drill: the plan's kubeconfig is used.
    let plan = warroom_tests::plan_using_kubeconfig(&kubeconfig);
    let alice = "alice-token-0123456789abcdef";
    let file = s.write("plan.toml", &plan);
    let server = Server::start_with_env(
        &s,
        &["--config", file.to_str().unwrap()],
        &[("WARROOM_TOKEN_ALICE", alice)],
    );
    let api = Api::new(&server.addr);
    let (status, opened) = api.post_json(
        "/api/v1/command",
        Some(alice),
        &json!({"text": "incident open \"down\""}).to_string(),
    );
    assert_eq!(status, 200, "{opened}");
    let inc = opened["incident"].as_str().unwrap();
    let (status, r) = api.post_json(
        "/api/v1/command",
        Some(alice),
        &json!({"text": "capture pod payments/api-7f9c", "incident": inc}).to_string(),
    );
    assert_eq!(status, 500, "{r}");
    assert!(
        message(&r).contains("cannot reach the API server of cluster prod-eu"),
        "{r}"
    );
    let (_, body) = api.post_json(
        "/api/v1/command",
        Some(alice),
        &json!({"text": "timeline", "incident": inc}).to_string(),
    );
    assert!(
        !message(&body).contains("requested"),
        "nothing recorded: {body}"
    );
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn a_second_incident_quarantining_the_same_pod_re_aims_the_policy_and_reserved_labels_are_refused()
{
    let (_s, _server, api, drill) = start(&[]);
    let first = api.open_incident("first");
    api.ok(
        "alice",
        "quarantine pod payments/api-7f9c --reason one",
        Some(&first),
    );
    api.ok("bob", "approve R1", Some(&first));
    let second = api.open_incident("second");
    api.ok(
        "alice",
        "quarantine pod payments/api-7f9c --reason two",
        Some(&second),
    );
    let r = api.ok("bob", "approve R1", Some(&second));
    assert_eq!(r["status"], "executed", "{r}");
    let policy = drill.object(POLICY);
    assert_eq!(
        policy["spec"]["podSelector"]["matchLabels"]["warroom.io/quarantine"],
        second.as_str(),
        "the policy selects the pod's current label"
    );
    assert_eq!(
        drill.labels(SUSPECT)["warroom.io/quarantine"],
        second.as_str()
    );

    // Refused when asked, before anyone is asked to approve it.
    let (status, r) = api.command(
        "alice",
        "label pod payments/api-7f9c warroom.io/quarantine=none --reason sneaky",
        Some(&second),
    );
    assert_eq!(status, 400, "{r}");
    assert!(message(&r).contains("reserved"), "{r}");
    assert_eq!(
        drill.labels(SUSPECT)["warroom.io/quarantine"],
        second.as_str(),
        "still quarantined"
    );
}

#[test]
fn a_repeated_request_points_at_the_first_and_warrooms_own_policy_is_no_conflict() {
    let (_s, _server, api, _drill) = start(&[]);
    let inc = api.open_incident("shell in payments");
    let quarantine = "quarantine pod payments/api-7f9c --reason \"shell spawned\"";
    api.ok("alice", quarantine, Some(&inc));
    // The same request again, by anyone: pointed at R1, nothing opened.
    for who in ["alice", "dave"] {
        let (status, r) = api.command(who, quarantine, Some(&inc));
        assert_eq!(status, 409, "{r}");
        assert!(
            message(&r).starts_with("R1 already asks for this (pending)")
                && message(&r).contains("approve R1"),
            "{r}"
        );
    }
    api.ok("bob", "approve R1", Some(&inc));
    let (status, r) = api.command("dave", quarantine, Some(&inc));
    assert_eq!(status, 409, "{r}");
    assert!(
        message(&r).starts_with("R1 already did this (executed)"),
        "{r}"
    );

    // Another pod of the namespace: warroom's own deny-all policy for api-7f9c now selects
    // it too (same incident label), but it re-allows nothing and is not reported.
    api.ok(
        "alice",
        "quarantine pod payments/api-9x7q --reason \"same image\"",
        Some(&inc),
    );
    let card = api.incident(&inc)["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["text"].as_str())
        .find(|t| t.contains("(R2)"))
        .unwrap()
        .to_owned();
    assert!(
        card.contains("may re-allow traffic: allow-api-ingress"),
        "{card}"
    );
    assert!(!card.contains("warroom-quarantine-api-7f9c"), "{card}");

    // After a release, quarantining again is a new request.
    api.ok(
        "alice",
        "release pod payments/api-7f9c --reason \"rebuilt\"",
        Some(&inc),
    );
    api.ok("bob", "approve R3", Some(&inc));
    let again = api.ok("alice", quarantine, Some(&inc));
    assert!(message(&again).starts_with("R4 opened"), "{again}");
    assert_eq!(
        api.incident(&inc)["incident"]["requests"]
            .as_array()
            .unwrap()
            .len(),
        4
    );

    // A mistyped request id: the pending ones are named, and the likely one suggested.
    let (status, r) = api.command("bob", "approve R44", Some(&inc));
    assert_eq!(status, 404, "{r}");
    assert!(
        message(&r).contains("did you mean `R4`?") && message(&r).contains("(pending: R2, R4)"),
        "{r}"
    );
}

#[test]
fn resolve_shows_what_is_contained_and_open_then_cancels_each_request_with_confirm() {
    let (_s, _server, api, _drill) = start(&[]);
    let inc = api.open_incident("shell in payments");
    api.ok(
        "alice",
        "quarantine pod payments/api-7f9c --reason \"shell spawned\"",
        Some(&inc),
    );
    api.ok("bob", "approve R1", Some(&inc));
    api.ok(
        "alice",
        &format!("cordon node {NODE1} --reason \"same node\""),
        Some(&inc),
    );
    api.ok(
        "alice",
        "quarantine pod payments/api-9x7q --reason \"same image\"",
        Some(&inc),
    );

    // The status and the console's board say what is contained, with the undo.
    let status = api.ok("carol", "incident status", Some(&inc));
    assert!(
        message(&status).contains("contained now (1):")
            && message(&status).contains(
                "pod payments/api-7f9c quarantined (R1, prod-eu) — undo: release pod payments/api-7f9c"
            ),
        "{status}"
    );
    let board = &api.incident(&inc)["board"];
    assert_eq!(board[0]["request"], "R1", "{board}");
    assert_eq!(board[0]["state"], "quarantined");

    // Resolving first shows what is open and what stays contained; nothing is written.
    let entries = api.kinds(&inc).len();
    let (code, r) = api.command("carol", "incident resolve all clear", Some(&inc));
    assert_eq!(code, 409, "{r}");
    let said = message(&r);
    assert!(
        said.contains("2 open request(s) would be cancelled: R2 cordon")
            && said.contains("R3 quarantine")
            && said.contains("pod payments/api-7f9c quarantined")
            && said.contains("incident resolve --confirm"),
        "{said}"
    );
    assert_eq!(api.kinds(&inc).len(), entries, "nothing recorded");

    // With --confirm: one cancellation per open request, cards updated, and the summary
    // names what was left contained on purpose.
    api.ok(
        "carol",
        "incident resolve --confirm rebuilt; api-7f9c kept isolated for forensics",
        Some(&inc),
    );
    let body = api.incident(&inc);
    assert_eq!(body["incident"]["status"], "resolved");
    let cancelled: Vec<&Value> = body["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "request.cancelled")
        .collect();
    assert_eq!(cancelled.len(), 2, "{cancelled:?}");
    assert_eq!(cancelled[0]["data"]["reason"], "the incident was resolved");
    for r in ["R2", "R3"] {
        assert_eq!(api.request(&inc, r)["status"], "cancelled");
    }
    let cards = body["messages"].to_string();
    assert!(
        !cards.contains("[Approve] `approve R2`") && !cards.contains("[Approve] `approve R3`"),
        "no card still invites a decision: {cards}"
    );
    let resolved = body["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "incident.resolved")
        .cloned()
        .unwrap();
    assert!(
        resolved["data"]["summary"]
            .as_str()
            .unwrap()
            .contains("left contained on purpose: pod payments/api-7f9c quarantined (R1)"),
        "{resolved}"
    );
}

#[test]
fn evidence_is_served_after_its_hash_is_checked_and_a_changed_artifact_is_refused() {
    let (s, server, api, _drill) = start(&[]);
    let inc = api.open_incident("shell in payments api");
    api.ok("alice", "capture pod payments/api-7f9c", Some(&inc));
    let evidence = api.incident(&inc)["evidence"].as_array().cloned().unwrap();
    let spec = evidence
        .iter()
        .find(|e| e["name"].as_str().unwrap().ends_with("pod_spec.json"))
        .unwrap()
        .clone();
    let id = spec["id"].as_str().unwrap();
    let url = format!(
        "http://{}/api/v1/incidents/{inc}/evidence/{id}?view=true",
        server.addr
    );
    let mut resp = warroom_tests::agent().get(&url).call().unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let header = |r: &ureq::http::Response<ureq::Body>, n: &str| {
        r.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(
        header(&resp, "x-evidence-sha256"),
        spec["sha256"].as_str().unwrap()
    );
    assert_eq!(header(&resp, "content-type"), "application/json");
    assert_eq!(header(&resp, "content-disposition"), "inline");
    let bytes = resp.body_mut().read_to_vec().unwrap();
    assert_eq!(sha256_hex(&bytes), spec["sha256"].as_str().unwrap());
    let pod: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(pod["metadata"]["name"], "api-7f9c");

    // `evidence E…` says where to get it, not a server path.
    let said = api.ok("alice", &format!("evidence {id}"), Some(&inc));
    assert!(
        message(&said).contains(&format!("GET /api/v1/incidents/{inc}/evidence/{id}")),
        "{said}"
    );

    // A changed artifact is named with both digests and never served.
    std::fs::write(artifact(&s, &spec), b"{\"tampered\":true}").unwrap();
    let resp = warroom_tests::agent().get(&url).call().unwrap();
    assert_eq!(resp.status().as_u16(), 409);
    let text = resp.into_body().read_to_string().unwrap();
    assert!(
        text.contains("changed since it was recorded")
            && text.contains(spec["sha256"].as_str().unwrap()),
        "{text}"
    );
    // An unknown id is 404.
    let resp = warroom_tests::agent()
        .get(&format!(
            "http://{}/api/v1/incidents/{inc}/evidence/E999",
            server.addr
        ))
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
}

#[test]
fn cards_show_the_plan_of_change_from_a_server_side_dry_run_and_change_nothing() {
    let (_s, _server, api, drill) = start(&[]);
    let inc = api.open_incident("plan before approval");
    let card = |request: &str| {
        api.incident(&inc)["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["text"].as_str())
            .find(|t| t.contains(&format!("({request})")))
            .unwrap_or_else(|| panic!("no card for {request}"))
            .to_owned()
    };
    api.ok(
        "alice",
        "label pod payments/api-7f9c team=forensics --reason \"mark it\"",
        Some(&inc),
    );
    let before = match drill.labels(SUSPECT)["team"].as_str() {
        Some(v) => format!("`{v}`"),
        None => "unset".to_owned(),
    };
    assert!(
        card("R1").contains(&format!(
            "will set label team on pod payments/api-7f9c: {before} → `forensics` (server-side dry run accepted it)"
        )),
        "{}",
        card("R1")
    );
    api.ok(
        "alice",
        &format!("cordon node {NODE2} --reason \"suspect\""),
        Some(&inc),
    );
    assert!(
        card("R2").contains(&format!(
            "will set node {NODE2} unschedulable: false → true (server-side dry run accepted it)"
        )) && card("R2").contains("pod(s) keep running"),
        "{}",
        card("R2")
    );
    api.ok(
        "alice",
        "scale deployment payments/api --replicas 1 --reason \"less exposure\"",
        Some(&inc),
    );
    assert!(
        card("R3").contains("will set replicas of deployment payments/api: 3 → 1"),
        "{}",
        card("R3")
    );
    // The dry runs were sent as such, and nothing changed.
    let dry: Vec<Value> = drill
        .requests()
        .into_iter()
        .filter(|r| r["dry_run"] == true && r["verb"] == "patch")
        .collect();
    assert_eq!(dry.len(), 2, "{dry:?}");
    assert_ne!(
        drill.labels(SUSPECT)["team"].as_str(),
        Some("forensics"),
        "a dry run persists nothing"
    );
    let node = drill.object(&format!("/api/v1/nodes/{NODE2}"));
    assert_ne!(node["spec"]["unschedulable"], true, "{node}");
}

#[test]
fn uncordon_leaves_cordoned_a_node_that_was_cordoned_before_the_incident_cordoned_it() {
    let (_s, _server, api, drill) = start(&[]);
    let node = format!("/api/v1/nodes/{NODE1}");
    // Its operators cordon (`Some(true)`) or uncordon (`None`) it by hand.
    let by_hand = |cordoned: Option<bool>| {
        let (code, v) = drill.merge_patch(&node, &json!({ "spec": { "unschedulable": cordoned } }));
        assert!(code < 300, "{v}");
    };
    let unschedulable = || drill.object(&node)["spec"]["unschedulable"] == true;
    let inc = api.open_incident("cordon and give back");
    // `who` asks for `verb` on the node, `approver` approves `request`: the reply.
    let act = |who: &str, verb: &str, approver: &str, request: &str| {
        let over = if verb == "drain" {
            " --override \"evidence taken by hand\""
        } else {
            ""
        };
        api.ok(
            who,
            &format!("{verb} node {NODE1} --reason r{over}"),
            Some(&inc),
        );
        let r = api.ok(approver, &format!("approve {request}"), Some(&inc));
        assert_eq!(r["status"], "executed", "{r}");
        r
    };
    let left_cordoned = format!("left node {NODE1} cordoned");

    // Cordoned for maintenance before the incident: the card says it stays cordoned, the
    // reply too, and it does.
    by_hand(Some(true));
    act("alice", "cordon", "bob", "R1");
    api.ok(
        "alice",
        &format!("uncordon node {NODE1} --reason r"),
        Some(&inc),
    );
    let cards = api.incident(&inc)["messages"].to_string();
    assert!(
        cards.contains("unschedulable: true → true (it was cordoned before this incident's cordon"),
        "{cards}"
    );
    let r = api.ok("bob", "approve R2", Some(&inc));
    assert!(message(&r).contains(&left_cordoned), "{r}");
    assert!(unschedulable());

    // Maintenance ends by hand; cordoned again by the incident, then uncordoned: the cordon
    // found it schedulable.
    by_hand(None);
    act("alice", "cordon", "bob", "R3");
    let r = act("alice", "uncordon", "bob", "R4");
    assert!(message(&r).contains("uncordoned"), "{r}");
    assert!(!unschedulable());

    // A drain cordons too: a node cordoned by hand before it stays cordoned after uncordon.
    by_hand(Some(true));
    act("erin", "drain", "carol", "R5");
    let r = act("alice", "uncordon", "bob", "R6");
    assert!(message(&r).contains(&left_cordoned), "{r}");
    assert!(unschedulable());

    // Cordoned, then drained (the drain finds the cordon's work), then uncordoned: the node
    // was schedulable before warroom acted, so it is again.
    by_hand(None);
    act("alice", "cordon", "bob", "R7");
    act("erin", "drain", "carol", "R8");
    let r = act("alice", "uncordon", "bob", "R9");
    assert!(message(&r).contains("uncordoned"), "{r}");
    assert!(!unschedulable());
}

#[test]
fn a_drain_a_budget_stopped_records_its_cordon_and_uncordon_leaves_a_node_cordoned_before() {
    let (_s, _server, api, drill) = start(&["--drain-timeout", "1s"]);
    let node = format!("/api/v1/nodes/{NODE2}");
    // No api pod may be disrupted, and the node was cordoned for maintenance before.
    let (code, v) = drill.merge_patch(
        "/apis/policy/v1/namespaces/payments/poddisruptionbudgets/api-pdb",
        &json!({"spec": {"minAvailable": 3}}),
    );
    assert!(code < 300, "{v}");
    let (code, v) = drill.merge_patch(&node, &json!({ "spec": { "unschedulable": true } }));
    assert!(code < 300, "{v}");
    let inc = api.open_incident("node 2 compromised");
    api.ok(
        "erin",
        &format!("drain node {NODE2} --reason r --override \"evidence taken by hand\""),
        Some(&inc),
    );
    api.command("carol", "approve R1", Some(&inc));
    api.wait_until(&inc, "the drain to give up", |b| {
        b["incident"]["requests"][0]["status"] == "failed"
    });
    // The failure records what its cordon found, beside the error.
    let failed = api.entry(&inc, "request.failed", "R1");
    let result = &failed["data"]["result"];
    assert_eq!(result["unschedulable_before"], true, "{failed}");
    assert_eq!(result["incomplete"], true, "{failed}");
    assert!(
        failed["data"]["error"]
            .as_str()
            .unwrap()
            .contains("refused by a PodDisruptionBudget"),
        "{failed}"
    );
    // So uncordon sets back what was there before the incident: cordoned.
    api.ok(
        "alice",
        &format!("uncordon node {NODE2} --reason r"),
        Some(&inc),
    );
    let r = api.ok("bob", "approve R2", Some(&inc));
    assert!(
        message(&r).contains(&format!("left node {NODE2} cordoned")),
        "{r}"
    );
    assert_eq!(drill.object(&node)["spec"]["unschedulable"], true);
}
