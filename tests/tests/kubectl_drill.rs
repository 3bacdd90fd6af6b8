//! kubectl against the drill, as a trainee would use it in a drill: the same columns as in
//! production (`get pods -o wide`, `get nodes` showing a cordon, `get networkpolicies`,
//! `get all`) and `auth can-i`.
//! kubectl is the machine's (`/usr/bin/kubectl`); the test command installs it where missing.

use std::process::Command;

use warroom_tests::api::Api;
use warroom_tests::drill::Drill;
use warroom_tests::{Scratch, Server, kubeconfig_for};

/// The line of `name` in a kubectl table, split into its columns.
fn row<'a>(table: &'a str, name: &str) -> Vec<&'a str> {
    table
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no {name} in\n{table}"))
        .split_whitespace()
        .collect()
}

#[test]
fn kubectl_get_shows_the_columns_of_production_and_the_cordon() {
    let s = Scratch::new();
    let server = Server::start(&s, &[]);
    let api = Api::new(&server.addr);
    let drill = Drill::of(&server, "prod-eu");
    s.write("kubeconfig", &kubeconfig_for(&drill.base));

    let pods = s.kubectl(&["get", "pods", "-n", "payments", "-o", "wide"]);
    let header: Vec<&str> = pods.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        &header[..7],
        &["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"],
        "{pods}"
    );
    let suspect = row(&pods, "api-7f9c");
    assert_eq!(suspect[1], "1/1", "{pods}");
    assert_eq!(suspect[2], "Running", "{pods}");
    assert!(suspect[6].starts_with("ip-10-0-"), "{pods}");

    // A cordon through warroom is what `kubectl get nodes` shows.
    let inc = api.open_incident("miner on a node");
    let node = suspect[6].to_owned();
    api.ok(
        "alice",
        &format!("cordon node {node} --reason \"miner\""),
        Some(&inc),
    );
    api.ok("bob", "approve R1", Some(&inc));
    let nodes = s.kubectl(&["get", "nodes"]);
    assert_eq!(row(&nodes, &node)[1], "Ready,SchedulingDisabled", "{nodes}");

    // One object, and NetworkPolicies with their selectors.
    let one = s.kubectl(&["get", "pod", "api-7f9c", "-n", "payments"]);
    assert_eq!(row(&one, "api-7f9c")[2], "Running", "{one}");
    let policies = s.kubectl(&["get", "networkpolicies", "-n", "payments"]);
    assert!(
        policies.starts_with("NAME") && policies.contains("POD-SELECTOR"),
        "{policies}"
    );
    assert!(policies.contains("allow-api-ingress"), "{policies}");

    // `get all` expands the "all" category.
    let all = s.kubectl(&["get", "all", "-n", "payments"]);
    assert!(
        all.contains("pod/api-7f9c") && all.contains("deployment.apps/api"),
        "{all}"
    );

    // `auth can-i` (its body is protobuf): yes, then no once the drill denies it.
    assert_eq!(
        s.kubectl(&["auth", "can-i", "delete", "pods", "-n", "payments"])
            .trim(),
        "yes"
    );
    drill.deny("delete", "", "pods", "");
    let out = Command::new("kubectl")
        .env("KUBECONFIG", s.path().join("kubeconfig"))
        .args(["auth", "can-i", "delete", "pods", "-n", "payments"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .starts_with("no - RBAC: no rule grants delete on pods"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(out.status.code(), Some(1), "can-i exits 1 on no");
}
