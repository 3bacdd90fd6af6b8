//! One warroom, several clusters: a cluster whose API server fails makes only its own actions
//! fail, with the cluster named, while the others work; preflight reports each cluster apart.

use serde_json::json;
use warroom_tests::api::Api;
use warroom_tests::drill::Drill;
use warroom_tests::{Scratch, Server};

#[test]
fn a_failing_cluster_fails_only_its_own_actions_and_preflight_names_it() {
    let s = Scratch::new();
    let server = Server::start(&s, &[]);
    server.wait_for("/readyz", 200, std::time::Duration::from_secs(20));
    let api = Api::new(&server.addr);
    let prod = Drill::of(&server, "prod-eu");
    let ops = Drill::of(&server, "ops");
    // The ops cluster's API server answers every request with 503, as one whose etcd is gone.
    let (code, v) = ops.post(
        "/drill/faults",
        &json!({ "status": 503, "times": 100000, "message": "etcdserver: request timed out" }),
    );
    assert!(code < 300, "{v}");

    let inc = api.open_incident("two clusters");
    let (status, r) = api.command(
        "alice",
        "capture pod kube-system/cilium-x --cluster ops",
        Some(&inc),
    );
    assert!(status >= 500, "{r}");
    let said = r["message"].as_str().unwrap();
    assert!(
        said.contains("ops") && said.contains("etcdserver"),
        "{said}"
    );

    // prod-eu is unaffected: a capture and a two-person quarantine run there.
    api.capture_and_quarantine_suspect(&inc);
    assert_eq!(
        prod.labels("/api/v1/namespaces/payments/pods/api-7f9c")["warroom.io/quarantine"],
        inc.as_str()
    );

    // Preflight checks each cluster on its own: ops cannot answer, prod-eu can.
    let out = s.run(&["preflight"]);
    let text = out.stdout();
    assert_eq!(out.code(), 1, "{text}");
    let section = |name: &str| -> String {
        text.split("cluster ")
            .find(|part| part.starts_with(name))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(section("ops").contains("etcdserver"), "{text}");
    assert!(
        section("prod-eu").contains("allowed") && !section("prod-eu").contains("etcdserver"),
        "{text}"
    );
}
