//! `warroom drill --scenario FILE`: the same warroom against a simulated cluster of one's own.

use warroom_tests::api::Api;
use warroom_tests::drill::Drill;
use warroom_tests::{Scratch, Server};

const SCENARIO: &str = "apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: v1
kind: Node
metadata:
  name: node-a
spec:
  providerID: aws:///eu-west-1a/i-0123456789abcdef0
---
apiVersion: v1
kind: Pod
metadata:
  name: cart-1
  namespace: shop
  labels: {app: cart}
spec:
  nodeName: node-a
  containers:
  - name: cart
    image: shop/cart:1.0
status:
  phase: Running
";

#[test]
fn a_drill_runs_on_the_scenario_given_whatever_the_plan_says() {
    let s = Scratch::new();
    let scenario = s.write("shop.yaml", SCENARIO);
    // The example plan is not a drill (drill = false); `warroom drill` makes it one.
    let plan = s.write("plan.toml", &warroom_tests::api::plan_with(&[]));
    let server = Server::start_command(
        &s,
        "drill",
        &[
            "--config",
            plan.to_str().unwrap(),
            "--scenario",
            scenario.to_str().unwrap(),
        ],
        &[],
    );
    let api = Api::new(&server.addr);
    let drill = Drill::of(&server, "prod-eu");
    let inc = api.open_incident("cart");
    api.ok(
        "alice",
        "quarantine pod shop/cart-1 --reason odd",
        Some(&inc),
    );
    let r = api.ok("bob", "approve R1", Some(&inc));
    assert_eq!(r["status"], "executed", "{r}");
    assert_eq!(
        drill.labels("/api/v1/namespaces/shop/pods/cart-1")["warroom.io/quarantine"],
        inc.as_str()
    );
    // The second cluster of the plan is an empty drill cluster: nothing of the scenario there.
    let (status, r) = api.command("alice", "capture pod shop/cart-1 --cluster ops", Some(&inc));
    assert_eq!(status, 404, "{r}");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("not found in cluster ops"),
        "{r}"
    );
}

#[test]
fn a_broken_scenario_is_refused_naming_the_document() {
    let s = Scratch::new();
    let scenario = s.write("bad.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ok\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  namespace: ok\n");
    let out = s
        .run(&["drill", "--scenario", scenario.to_str().unwrap()])
        .expect_code(2);
    assert!(
        out.stderr().contains("bad.yaml: document 2"),
        "{}",
        out.stderr()
    );
    assert!(out.stderr().contains("metadata.name"), "{}", out.stderr());
}
