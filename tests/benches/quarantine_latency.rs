//! Time from a second person's approval to the quarantine NetworkPolicy existing on the
//! (drill) API server, and how much of it is warroom rather than API round trips.
//!
//! Run: `cargo build --release -p warroom && cargo bench -p warroom-tests --bench quarantine_latency`
//! Options: `-- --rounds 200`.
//!
//! Each round: alice asks to quarantine `payments/api-7f9c`, bob approves (timed from the
//! request leaving until the reply, which comes after the outcome is recorded), the policy is
//! checked to exist, then a release puts things back. In the same run, the Kubernetes calls a
//! quarantine makes are replayed directly against the same server (same client library
//! settings: one keep-alive connection), which gives the API round-trip share.

use std::time::{Duration, Instant};

use serde_json::json;
use warroom_tests::api::Api;
use warroom_tests::drill::Drill;
use warroom_tests::{Scratch, Server};

fn pct(mut v: Vec<Duration>, q: f64) -> Duration {
    v.sort();
    warroom_tests::load::quantile(&v, q)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let rounds: usize = std::env::args()
        .skip_while(|a| a != "--rounds")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let s = Scratch::new();
    // The load comes from one address.
    let plan = s.write(
        "plan.toml",
        &warroom_tests::api::plan_with(&[
            ("drill = false", "drill = true"),
            warroom_tests::api::UNLIMITED,
        ]),
    );
    let server = Server::start(&s, &["--config", plan.to_str().unwrap()]);
    let api = Api::new(&server.addr);
    let drill = Drill::of(&server, "prod-eu");
    let inc = api.open_incident("latency");
    let policy = "/apis/networking.k8s.io/v1/namespaces/payments/networkpolicies/warroom-quarantine-api-7f9c";
    let mut approve = Vec::new();
    let mut calls_per_round = 0;
    for i in 0..rounds {
        let q = api.ok(
            "alice",
            "quarantine pod payments/api-7f9c --reason bench",
            Some(&inc),
        );
        let id = q["request_id"].as_str().unwrap().to_owned();
        let before = drill.requests().len();
        let t = Instant::now();
        let r = api.ok("bob", &format!("approve {id}"), Some(&inc));
        approve.push(t.elapsed());
        assert_eq!(r["status"], "executed", "{r}");
        assert_eq!(
            drill.get(policy).0,
            200,
            "the policy exists when the approval is answered"
        );
        // Count the API calls of the approval, less the one GET above.
        calls_per_round = drill.requests().len() - before - 1;
        let rel = api.ok(
            "alice",
            "release pod payments/api-7f9c --reason bench",
            Some(&inc),
        );
        api.ok(
            "bob",
            &format!("approve {}", rel["request_id"].as_str().unwrap()),
            Some(&inc),
        );
        if i == 0 {
            approve.clear(); // warm-up
        }
    }
    // The same Kubernetes calls, straight at the API server.
    let pod = "/api/v1/namespaces/payments/pods/api-7f9c";
    let mut direct = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..2 {
            drill.get(pod);
            drill.get("/apis/apps/v1/namespaces/payments/replicasets/api-7f9c5d");
            drill.get("/apis/apps/v1/namespaces/payments/deployments/api");
        }
        drill.get(pod);
        drill.merge_patch(
            pod,
            &json!({"metadata": {"labels": {"warroom.io/quarantine": "bench"}}}),
        );
        drill.post("/apis/networking.k8s.io/v1/namespaces/payments/networkpolicies", &json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "bench", "namespace": "payments"}, "spec": {"podSelector": {"matchLabels": {"warroom.io/quarantine": "bench"}}, "policyTypes": ["Ingress", "Egress"]}}));
        drill.get("/apis/networking.k8s.io/v1/namespaces/payments/networkpolicies");
        direct.push(t.elapsed());
        drill.delete("/apis/networking.k8s.io/v1/namespaces/payments/networkpolicies/bench");
    }
    let (a50, a99) = (pct(approve.clone(), 0.5), pct(approve, 0.99));
    let (d50, d99) = (pct(direct.clone(), 0.5), pct(direct, 0.99));
    println!(
        "approval → NetworkPolicy exists (and the outcome recorded), {} rounds:",
        rounds - 1
    );
    println!(
        "  end to end:                 p50 {:>9}  p99 {:>9}",
        ms(a50),
        ms(a99)
    );
    println!(
        "  the same {calls_per_round} API calls, direct: p50 {:>9}  p99 {:>9}",
        ms(d50),
        ms(d99)
    );
    println!(
        "  warroom's own share (approx): p50 {:>9}  p99 {:>9}",
        ms(a50.saturating_sub(d50)),
        ms(a99.saturating_sub(d99))
    );
}
