//! A misbehaving Kubernetes API server (the drill's, driven into faults): throttling with
//! Retry-After and server errors are retried where safe and the action runs once; errors
//! that persist, a server that stops answering and one that trickles its answer fail the
//! action plainly, in bounded time, and the ledger says what state it is in.

use std::time::{Duration, Instant};

use serde_json::json;
use warroom_tests::api::Api;
use warroom_tests::drill::Drill;
use warroom_tests::{Scratch, Server};

const NODE1: &str = "ip-10-0-1-23.ec2.internal";
const SUSPECT: &str = "/api/v1/namespaces/payments/pods/api-7f9c";

fn start(env: &[(&str, &str)]) -> (Scratch, Server, Api, Drill) {
    let s = Scratch::new();
    let server = Server::start_with_env(&s, &[], env);
    let api = Api::new(&server.addr);
    let drill = Drill::of(&server, "prod-eu");
    (s, server, api, drill)
}

/// Patches that were meant to change something (not the dry runs of a plan of change).
fn patches_of(drill: &Drill, resource: &str) -> usize {
    drill
        .requests()
        .iter()
        .filter(|r| r["verb"] == "patch" && r["resource"] == resource && r["dry_run"] != true)
        .count()
}

/// A cordon whose answers never came in time: tried four times, and the node is cordoned.
fn assert_four_tries_and_the_cordon_landed(drill: &Drill) {
    assert_eq!(patches_of(drill, "nodes"), 4, "{:?}", drill.requests());
    let node = drill.object(&format!("/api/v1/nodes/{NODE1}"));
    assert_eq!(node["spec"]["unschedulable"], true, "{node}");
}

#[test]
fn throttling_and_server_errors_are_retried_and_the_action_runs_once() {
    let (_s, _server, api, drill) = start(&[]);
    let inc = api.open_incident("a throttled api server");
    api.ok(
        "alice",
        &format!("cordon node {NODE1} --reason x"),
        Some(&inc),
    );
    // The first patch is throttled (429, Retry-After: 1), the second meets an etcd timeout.
    drill.inject(&json!({"verb": "patch", "resource": "nodes", "status": 429, "retry_after": 1}));
    drill.inject(&json!({"verb": "patch", "resource": "nodes", "status": 500}));
    let started = Instant::now();
    api.ok("bob", "approve R1", Some(&inc));
    // Answered "executed", or "executing" when the retries outlast the reply's short wait.
    api.wait_until(&inc, "R1 to run", |b| {
        b["incident"]["requests"][0]["status"] == "executed"
    });
    // The throttle's Retry-After was honoured before the next try.
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        patches_of(&drill, "nodes"),
        3,
        "two refused, one taken: {:?}",
        drill.requests()
    );
    let node = drill.object(&format!("/api/v1/nodes/{NODE1}"));
    assert_eq!(node["spec"]["unschedulable"], true, "{node}");
    let kinds = api.kinds(&inc);
    assert_eq!(
        kinds.iter().filter(|k| *k == "request.executed").count(),
        1,
        "{kinds:?}"
    );
}

#[test]
fn a_persistent_server_error_fails_the_action_plainly_and_changes_nothing_else() {
    let (_s, _server, api, drill) = start(&[]);
    let inc = api.open_incident("etcd is down");
    api.ok("alice", "capture pod payments/api-7f9c", Some(&inc));
    api.ok(
        "alice",
        "quarantine pod payments/api-7f9c --reason shell",
        Some(&inc),
    );
    drill.inject(&json!({"verb": "patch", "resource": "pods", "status": 500, "times": 50}));
    let r = api.failed("bob", "approve R2", Some(&inc));
    let said = r["message"].as_str().unwrap_or_default();
    assert!(
        said.contains("cluster prod-eu answered 500") && said.contains("etcdserver"),
        "the answer names the cluster and what it said: {r}"
    );
    // The policy went first and selects nothing until the label lands; the answer says so.
    assert!(
        said.contains("NetworkPolicy warroom-quarantine-api-7f9c exists but selects nothing until this label is set"),
        "{r}"
    );
    let (code, _) = drill.get(
        "/apis/networking.k8s.io/v1/namespaces/payments/networkpolicies/warroom-quarantine-api-7f9c",
    );
    assert_eq!(code, 200);
    // Four tries, then stop; the pod is as it was.
    assert_eq!(patches_of(&drill, "pods"), 4, "{:?}", drill.requests());
    assert!(drill.labels(SUSPECT)["warroom.io/quarantine"].is_null());
    let request = api.request(&inc, "R2");
    assert_eq!(request["status"], "failed", "{request}");
    let kinds = api.kinds(&inc);
    assert_eq!(
        kinds.last().map(String::as_str),
        Some("request.failed"),
        "{kinds:?}"
    );
    let (_, v) = api.get("/api/v1/ledger/verify");
    assert_eq!(v["intact"], true);
}

/// A cordon of node 1 asked by alice and approved by bob while the API server misbehaves
/// as `fault` says on node patches (1 s per read here, 30 s in production), until R1 fails.
struct CordonUnderFault {
    _s: Scratch,
    _server: Server,
    api: Api,
    drill: Drill,
    inc: String,
    /// bob's answer to `approve R1`.
    approved: serde_json::Value,
    /// R1's outcome as the incident shows it once failed.
    outcome: String,
    /// From the approval to the failure.
    took: Duration,
}

fn cordon_under_fault(title: &str, fault: serde_json::Value) -> CordonUnderFault {
    let (s, server, api, drill) = start(&[("WARROOM_KUBE_TIMEOUT_MS", "1000")]);
    let inc = api.open_incident(title);
    api.ok(
        "alice",
        &format!("cordon node {NODE1} --reason x"),
        Some(&inc),
    );
    drill.inject(&fault);
    let started = Instant::now();
    let approved = api.ok("bob", "approve R1", Some(&inc));
    let body = api.wait_until(&inc, "R1 to fail", |b| {
        b["incident"]["requests"][0]["status"] == "failed"
    });
    CordonUnderFault {
        took: started.elapsed(),
        outcome: body["incident"]["requests"][0]["outcome"].to_string(),
        _s: s,
        _server: server,
        api,
        drill,
        inc,
        approved,
    }
}

#[test]
fn a_hung_api_server_fails_the_action_in_bounded_time_saying_it_may_have_applied() {
    // The API server applies each patch and then never answers in time.
    let run = cordon_under_fault(
        "a hung api server",
        json!({"verb": "patch", "resource": "nodes", "delay_ms": 20000, "times": 10}),
    );
    let (r, said, took) = (&run.approved, &run.outcome, run.took);
    assert_eq!(r["status"], "executing", "answered while it runs: {r}");
    assert!(
        said.contains(
            "the API server of cluster prod-eu did not answer in time (a try: 1 s for each read, 2 s for the whole answer; retried)"
        ) && said.contains("may or may not have been applied: check before repeating it"),
        "{said}"
    );
    assert!(took < Duration::from_secs(15), "bounded: {took:?}");
    // Why the answer hedges: the change did land.
    assert_four_tries_and_the_cordon_landed(&run.drill);
    let kinds = run.api.kinds(&run.inc);
    assert_eq!(
        kinds.last().map(String::as_str),
        Some("request.failed"),
        "{kinds:?}"
    );
}

#[test]
fn an_answer_trickled_a_byte_at_a_time_fails_the_action_in_bounded_time() {
    // Each read is quick (a byte every 300 ms, under the 1 s read timeout), so only the
    // deadline on the whole answer (2 s here, 60 s in production) can end it.
    let run = cordon_under_fault(
        "a trickling api server",
        json!({"verb": "patch", "resource": "nodes", "trickle_ms": 300, "times": 10}),
    );
    let (said, took) = (&run.outcome, run.took);
    assert!(
        said.contains("the API server of cluster prod-eu did not answer in time")
            && said.contains("may or may not have been applied"),
        "{said}"
    );
    // Four tries of 2 s and their backoff; the node's answer alone would take minutes.
    assert!(took < Duration::from_secs(20), "bounded: {took:?}");
    assert!(
        took >= Duration::from_secs(2),
        "a whole answer was waited for: {took:?}"
    );
    assert_four_tries_and_the_cordon_landed(&run.drill);
    let (_, v) = run.api.get("/api/v1/ledger/verify");
    assert_eq!(v["intact"], true);
}
