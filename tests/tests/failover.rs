//! Two replicas, one Lease (on a drill API server) and one bucket (moto): the leader acts and
//! writes; killed, the standby takes over within the lease's time, from the bucket's copy,
//! with every acknowledged entry, and continues the same chains. A leader paused past its
//! lease writes nothing when it resumes, and steps down.

use std::time::{Duration, Instant};

use serde_json::Value;
use warroom_tests::api::Api;
use warroom_tests::drill::Drill;
use warroom_tests::moto::{AWS_ENV, Moto, drill_plan_with_aws_at};
use warroom_tests::{Scratch, Server, kubeconfig_for, seq_hash};

const BUCKET: &str = "northwind-warroom-ledger";

/// `POST /api/v1/command` without waiting for readiness: (status, body); status 0 when
/// nothing answers.
fn post_command(
    server: &Server,
    person: &str,
    incident: Option<&str>,
    text: &str,
) -> (u16, String) {
    post_command_at(&server.addr, person, incident, text)
}

fn post_command_at(addr: &str, person: &str, incident: Option<&str>, text: &str) -> (u16, String) {
    match warroom_tests::agent()
        .post(&format!("http://{addr}/api/v1/command"))
        .header("content-type", "application/json")
        .send(serde_json::json!({"person": person, "incident": incident, "text": text}).to_string())
    {
        Ok(mut r) => (
            r.status().as_u16(),
            r.body_mut().read_to_string().unwrap_or_default(),
        ),
        Err(e) => (0, e.to_string()),
    }
}

/// A replica as pod `pod` of the StatefulSet would run (its name and namespace from the
/// downward API).
fn replica(s: &Scratch, plan: &std::path::Path, data: &str, pod: &str) -> Server {
    let mut env = AWS_ENV.to_vec();
    env.extend([("POD_NAME", pod), ("POD_NAMESPACE", "warroom")]);
    Server::start_with_env(
        s,
        &["--config", plan.to_str().unwrap(), "--data", data],
        &env,
    )
}

/// How long until `server` leads (`warroom_leader 1`).
fn leading_within(server: &Server, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let (_, metrics) = server.get("/metrics");
        if metrics.contains("warroom_leader 1") && server.get("/readyz").1.trim() == "ready" {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "not leading after {limit:?}:\n{metrics}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn leader_label(drill: &Drill, pod: &str) -> Value {
    drill.object(&format!("/api/v1/namespaces/warroom/pods/{pod}"))["metadata"]["labels"]
        ["warroom.io/leader"]
        .clone()
}

#[test]
fn the_standby_takes_over_with_every_acknowledged_entry_and_a_paused_leader_writes_nothing() {
    let moto = Moto::start();
    moto.aws(&["bucket", BUCKET]);
    let s = Scratch::new();
    // The API server holding the Lease: a drill's, reached by kubeconfig as a real one is.
    let apiserver = Server::start(&s, &["--data", "apiserver-data"]);
    let drill = Drill::of(&apiserver, "prod-eu");
    let kubeconfig = s.write("lease-kubeconfig", &kubeconfig_for(&drill.base));
    let plan = s.write(
        "plan.toml",
        &format!(
            "{}\n[ha]\nbucket = \"s3://{BUCKET}/prod/\"\nregion = \"eu-central-1\"\nendpoint = \"{}\"\nack = \"replicated\"\nlease = {{ namespace = \"warroom\", name = \"warroom\", duration = \"3s\", kubeconfig = \"{}\" }}\n",
            drill_plan_with_aws_at(&moto.endpoint),
            moto.endpoint,
            kubeconfig.display()
        ),
    );

    // The StatefulSet's pods, which the leader labels for the Service.
    for pod in ["warroom-0", "warroom-1", "warroom-2"] {
        let (code, v) = drill.post(
            "/api/v1/namespaces/warroom/pods",
            &serde_json::json!({ "apiVersion": "v1", "kind": "Pod", "metadata": { "name": pod },
                "spec": { "containers": [{ "name": "warroom", "image": "warroom" }] } }),
        );
        assert!(code < 300, "{v}");
    }

    let a = replica(&s, &plan, "a-data", "warroom-0");
    leading_within(&a, Duration::from_secs(20));
    assert_eq!(leader_label(&drill, "warroom-0"), "true");
    let b = replica(&s, &plan, "b-data", "warroom-1");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // A standby is healthy and ready to take over, and says so.
        let (code, body) = b.get("/readyz");
        if body.contains("standby") {
            assert_eq!(code, 200, "{body}");
            assert!(body.contains("warroom-0 leads"), "{body}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "b is not a standby: {code} {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(b.get("/metrics").1.contains("warroom_leader 0"));
    assert!(leader_label(&drill, "warroom-1").is_null());
    let (code, said) = post_command(&b, "alice", None, "incident list");
    assert_eq!(code, 503, "a standby acts on nothing: {said}");
    assert!(said.contains("standby"), "{said}");

    // The leader acts; every acknowledgement means the bucket holds it.
    let api = Api::new(&a.addr);
    let inc = api.open_incident("shell in payments api");
    api.ok("alice", "capture pod payments/api-7f9c", Some(&inc));
    api.ok("carol", "note captured", Some(&inc));
    api.ok(
        "alice",
        "quarantine pod payments/api-7f9c --reason shell",
        Some(&inc),
    );
    let lease = drill.object("/apis/coordination.k8s.io/v1/namespaces/warroom/leases/warroom");
    let leader = lease["spec"]["holderIdentity"].as_str().unwrap().to_owned();

    // kill -9 the leader in the middle of approve → execute: its cluster answers changes
    // slowly, so R2 is recorded as executing (and copied) but not done.
    let (code, v) =
        Drill::of(&a, "prod-eu").post("/drill/latency", &serde_json::json!({ "ms": 5000 }));
    assert!(code < 300, "{v}");
    let approving = {
        let addr = a.addr.clone();
        let inc = inc.clone();
        std::thread::spawn(move || post_command_at(&addr, "bob", Some(&inc), "approve R2"))
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let executing = api.incident(&inc)["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "request.executing" && e["data"]["request"] == "R2");
        let (_, m) = a.get("/metrics");
        if executing && m.contains("warroom_ledger_copy_lag_batches 0\n") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "R2 never started executing:\n{m}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let acked = seq_hash(&api.incident(&inc)["timeline"]);
    unsafe { libc::kill(a.child.id() as i32, libc::SIGKILL) };
    drop(a);
    let (code, _) = approving.join().unwrap();
    assert_ne!(code, 200, "the approval was never acknowledged");
    let took = leading_within(&b, Duration::from_secs(30));
    assert_eq!(leader_label(&drill, "warroom-1"), "true");
    eprintln!("takeover after {took:?}");
    let lease = drill.object("/apis/coordination.k8s.io/v1/namespaces/warroom/leases/warroom");
    assert_ne!(lease["spec"]["holderIdentity"].as_str().unwrap(), leader);
    let api = Api::new(&b.addr);
    assert_eq!(
        seq_hash(&api.incident(&inc)["timeline"])[..acked.len()],
        acked[..],
        "every acknowledged entry, hash for hash, on the new leader"
    );
    // The interrupted action is not run again: the new leader marks it "outcome unknown —
    // verify"; its own cluster was never touched. The same chain continues.
    assert_eq!(api.request(&inc, "R2")["status"], "outcome_unknown");
    let timeline = api.incident(&inc)["timeline"].clone();
    assert!(
        !timeline
            .to_string()
            .contains("request.executed\",\"data\":{\"request\":\"R2"),
        "{timeline}"
    );
    assert!(
        Drill::of(&b, "prod-eu")
            .labels("/api/v1/namespaces/payments/pods/api-7f9c")
            .get("warroom.io/quarantine")
            .is_none()
    );
    api.ok("carol", "note after the takeover", Some(&inc));
    s.run(&["--data", "b-data", "ledger", "verify", "--skip-evidence"])
        .expect_code(0);

    // Split brain: the leader is paused past its lease; a new replica takes over; the old
    // one, resumed, writes nothing and steps down.
    unsafe { libc::kill(b.child.id() as i32, libc::SIGSTOP) };
    let c = replica(&s, &plan, "c-data", "warroom-2");
    leading_within(&c, Duration::from_secs(30));
    let api_c = Api::new(&c.addr);
    let before = seq_hash(&api_c.incident(&inc)["timeline"]);
    assert!(before.len() > acked.len(), "c has b's entries too");
    unsafe { libc::kill(b.child.id() as i32, libc::SIGCONT) };
    // It may already have stepped down (connection refused): either way, no acknowledgement.
    let (code, said) = post_command(&b, "carol", Some(&inc), "note from the paused leader");
    assert_ne!(code, 200, "a lapsed leader acknowledged a write: {said}");
    let mut b = b;
    let deadline = Instant::now() + Duration::from_secs(10);
    while b.child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "the old leader did not step down"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let after = seq_hash(&api_c.incident(&inc)["timeline"]);
    assert_eq!(
        after, before,
        "nothing of the paused leader reached the new one"
    );
}
