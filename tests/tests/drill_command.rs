//! `warroom drill --scenario FILE`: the same warroom against a simulated cluster of one's own.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

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

/// `warroom drill --config PLAN --scenario SCENARIO`, started.
fn drill_on(s: &Scratch, plan: &std::path::Path, scenario: &std::path::Path) -> Server {
    Server::start_command(
        s,
        "drill",
        &[
            "--config",
            plan.to_str().unwrap(),
            "--scenario",
            scenario.to_str().unwrap(),
        ],
        &[],
    )
}

#[test]
fn a_drill_runs_on_the_scenario_given_whatever_the_plan_says() {
    let s = Scratch::new();
    let scenario = s.write("shop.yaml", SCENARIO);
    // The example plan is not a drill (drill = false); `warroom drill` makes it one.
    let plan = s.write("plan.toml", &warroom_tests::api::plan_with(&[]));
    let server = drill_on(&s, &plan, &scenario);
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

#[test]
fn a_drill_on_a_production_plan_keeps_off_its_lease_bucket_evidence_and_ledger() {
    let s = Scratch::new();
    // Where the plan's Lease and ledger copy live: a listener that counts whoever knocks.
    let production = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let knock = format!("http://{}", production.local_addr().unwrap());
    let knocks = Arc::new(AtomicUsize::new(0));
    {
        let knocks = knocks.clone();
        std::thread::spawn(move || {
            for c in production.incoming() {
                knocks.fetch_add(1, Ordering::SeqCst);
                drop(c);
            }
        });
    }
    let kubeconfig = s.write("lease-kubeconfig", &warroom_tests::kubeconfig_for(&knock));
    let plan = s.write(
        "plan.toml",
        &format!(
            "{}\n[ha]\nbucket = \"s3://prod-ledger/warroom/\"\nregion = \"eu-central-1\"\nendpoint = \"{knock}\"\nlease = {{ namespace = \"warroom\", name = \"warroom\", kubeconfig = \"{}\" }}\n",
            warroom_tests::api::plan_with(&[]),
            kubeconfig.display()
        ),
    );
    let scenario = s.write("shop.yaml", SCENARIO);
    let server = drill_on(&s, &plan, &scenario);
    let api = Api::new(&server.addr);
    let inc = api.open_incident("cart");
    api.ok("alice", "capture pod shop/cart-1", Some(&inc));
    api.ok(
        "alice",
        "quarantine pod shop/cart-1 --reason odd",
        Some(&inc),
    );
    let r = api.ok("bob", "approve R2", Some(&inc));
    assert_eq!(r["status"], "executed", "{r}");

    // Nothing reached the Lease or the bucket; the operator is told why.
    assert_eq!(
        knocks.load(Ordering::SeqCst),
        0,
        "the drill reached production"
    );
    let said = server.output();
    assert!(
        said.contains("drill: [ha] is not used by a drill")
            && said.contains("drill: [storage.evidence] local ./warroom-data/evidence is not used"),
        "{said}"
    );
    // The drill's ledger and evidence are its own folder's, not the plan's data_dir.
    let own = s.path().join("warroom-drill-data");
    assert!(own.join("evidence").is_dir(), "{}", own.display());
    assert!(
        !s.path().join("warroom-data").exists(),
        "the plan's own ledger folder was written"
    );
    let spec = own.join(format!("evidence/{inc}/R1/pod_spec.json"));
    assert!(spec.is_file(), "the capture is not in {}", spec.display());
}
