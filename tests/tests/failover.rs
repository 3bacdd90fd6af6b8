//! Two replicas, one Lease (on a drill API server) and one bucket (moto): the leader acts and
//! writes; killed, the standby takes over within the lease's time, from the bucket's copy,
//! with every acknowledged entry, and continues the same chains. A leader paused past its
//! lease writes nothing when it resumes, and steps down.

use std::time::{Duration, Instant};

use serde_json::Value;
use std::collections::BTreeSet;
use warroom_tests::api::Api;
use warroom_tests::drill::Drill;

use warroom_tests::moto::{AWS_ENV, Moto, drill_plan_with_aws_at};
use warroom_tests::pager_standin::{PagerStandIn, SmtpSink, paging_changes, received_keys};
use warroom_tests::{Scratch, Server, gauge_in, kubeconfig_for, seq_hash, wait_for};

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
    replica_with(s, plan, data, pod, &[])
}

fn replica_with(
    s: &Scratch,
    plan: &std::path::Path,
    data: &str,
    pod: &str,
    more: &[(&str, &str)],
) -> Server {
    let mut env = AWS_ENV.to_vec();
    env.extend([("POD_NAME", pod), ("POD_NAMESPACE", "warroom")]);
    env.extend_from_slice(more);
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

/// The ledger head the leader published on the lease, once it matches the leader's own
/// copy (`<installation>/<segment>/<sha256>`).
fn published_head(drill: &Drill, leader: &Server) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let lease = drill.object("/apis/coordination.k8s.io/v1/namespaces/warroom/leases/warroom");
        let head = lease["metadata"]["annotations"]["warroom.io/ledger-head"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let (_, m) = leader.get("/metrics");
        let segments = gauge_in(&m, "warroom_ledger_copy_segments");
        if segments > 0
            && head.split('/').nth(1) == Some(segments.to_string().as_str())
            && gauge_in(&m, "warroom_ledger_copy_lag_batches") == 0
        {
            return head;
        }
        assert!(
            Instant::now() < deadline,
            "the lease does not publish the copy's head ({head}):\n{m}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn leader_label(drill: &Drill, pod: &str) -> Value {
    drill.object(&format!("/api/v1/namespaces/warroom/pods/{pod}"))["metadata"]["labels"]
        ["warroom.io/leader"]
        .clone()
}

/// One drill API server holding the Lease (reached by kubeconfig as a real one is), one moto
/// bucket, and a plan for replicas of a StatefulSet whose pods exist.
struct Lab {
    moto: Moto,
    s: Scratch,
    /// Serves the Lease and the pods; kept running for the test.
    _apiserver: Server,
    drill: Drill,
    plan: std::path::PathBuf,
}

/// `plan(moto's endpoint)`: the plan without its `[ha]`.
fn lab(plan: impl FnOnce(&str) -> String) -> Lab {
    let moto = Moto::start();
    let plan = plan(&moto.endpoint);
    moto.aws(&["bucket", BUCKET]);
    let s = Scratch::new();
    let apiserver = Server::start(&s, &["--data", "apiserver-data"]);
    let drill = Drill::of(&apiserver, "prod-eu");
    let kubeconfig = s.write("lease-kubeconfig", &kubeconfig_for(&drill.base));
    let plan = s.write(
        "plan.toml",
        &format!(
            "{plan}\n[ha]\nbucket = \"s3://{BUCKET}/prod/\"\nregion = \"eu-central-1\"\nendpoint = \"{}\"\nack = \"replicated\"\nlease = {{ namespace = \"warroom\", name = \"warroom\", duration = \"3s\", kubeconfig = \"{}\" }}\n",
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
    Lab {
        moto,
        s,
        _apiserver: apiserver,
        drill,
        plan,
    }
}

#[test]
fn the_standby_takes_over_with_every_acknowledged_entry_and_a_paused_leader_writes_nothing() {
    let Lab {
        moto: _moto,
        s,
        _apiserver,
        drill,
        plan,
    } = lab(drill_plan_with_aws_at);
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

    // The leader acts; every acknowledgement means the bucket holds it.
    let api = Api::new(&a.addr);
    let inc = api.open_incident("shell in payments api");
    api.ok("alice", "capture pod payments/api-7f9c", Some(&inc));
    // A request reaching the standby is forwarded to the leader as received, acted on there
    // once; the standby records nothing of its own.
    // The console's event stream too: opened on the standby, it streams the leader's changes.
    let mut events = {
        use std::io::{BufRead, Write};
        let mut c = std::net::TcpStream::connect(&b.addr).unwrap();
        write!(
            c,
            "GET /api/v1/events HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
            b.addr
        )
        .unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut r = std::io::BufReader::new(c);
        let mut status = String::new();
        r.read_line(&mut status).unwrap();
        assert!(status.contains(" 200 "), "{status}");
        r
    };
    let via_b = Api::new(&b.addr);
    via_b.ok("carol", "note captured", Some(&inc));
    assert_eq!(api.count(&inc, "note"), 1, "{:?}", api.kinds(&inc));
    let mut streamed = String::new();
    while !streamed.contains(&format!("\"incident\":\"{inc}\"")) {
        use std::io::BufRead;
        let mut line = String::new();
        assert!(
            events.read_line(&mut line).unwrap() > 0,
            "the stream ended: {streamed}"
        );
        streamed.push_str(&line);
    }
    assert!(streamed.contains("event: changed"), "{streamed}");
    drop(events);
    assert!(
        !s.path().join("b-data/journal").exists(),
        "the standby opened a ledger"
    );

    // The leader publishes its copy's head on the lease; the standby follows the bucket,
    // checking each link, until it holds that head.
    let published = published_head(&drill, &a);
    let number: u64 = published.split('/').nth(1).unwrap().parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, m) = b.get("/metrics");
        let held = gauge_in(&m, "warroom_ledger_standby_segment");
        if held >= number && gauge_in(&m, "warroom_ledger_standby_lag_segments") == 0 {
            assert_eq!(gauge_in(&m, "warroom_ledger_standby_up"), 1, "{m}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the standby does not follow {published}:\n{m}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (_, ready) = b.get("/readyz");
    assert!(ready.contains("warm copy at segment"), "{ready}");
    let held = std::fs::read_dir(s.path().join("b-data/standby-copy"))
        .unwrap()
        .count();
    assert_eq!(held, 1, "one installation followed");
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
    // The channel is told who leads now and what the copy was proven to reach (posted
    // just after the replica says it is ready).
    let said = api.wait_until(&inc, "the takeover notice", |i| {
        i["messages"].to_string().contains("warroom failover")
    })["messages"]
        .to_string();
    assert!(
        said.contains("warroom failover: warroom-1 now leads, taking over from warroom-0")
            && said.contains("the head warroom-0 published"),
        "{said}"
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

    // A copy that does not reach the head the last leader published is not led on: with the
    // published digest changed, the next replica refuses, naming both digests.
    unsafe { libc::kill(c.child.id() as i32, libc::SIGKILL) };
    drop(c);
    let lease_path = "/apis/coordination.k8s.io/v1/namespaces/warroom/leases/warroom";
    let head = drill.object(lease_path)["metadata"]["annotations"]["warroom.io/ledger-head"]
        .as_str()
        .unwrap()
        .to_owned();
    let (prefix, digest) = head.rsplit_once('/').unwrap();
    let forged = format!("{prefix}/{}", "0".repeat(digest.len()));
    let (code, v) = drill.merge_patch(
        lease_path,
        &serde_json::json!({ "metadata": { "annotations": { "warroom.io/ledger-head": forged } } }),
    );
    assert!(code < 300, "{v}");
    let mut d = replica(&s, &plan, "d-data", "warroom-0");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = d.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "d led on a copy it could not prove"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!status.success());
    // It exited: its last lines reach the test's reader a moment later.
    let refused = |said: &str| {
        said.contains("refusing to lead")
            && said.contains(&format!("the previous leader published {}", "0".repeat(64)))
            && said.contains(digest)
    };
    let said = d.output_when(refused, Duration::from_secs(10));
    assert!(refused(&said), "{said}");
    assert!(
        !s.path().join("d-data/journal").exists(),
        "d opened a ledger"
    );
    drop(d);

    // A published head that does not even parse proves nothing either: refused, not skipped.
    let (code, v) = drill.merge_patch(
        lease_path,
        &serde_json::json!({ "metadata": { "annotations": { "warroom.io/ledger-head": "x" } } }),
    );
    assert!(code < 300, "{v}");
    let mut e = replica(&s, &plan, "e-data", "warroom-0");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = e.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "e led on an unreadable head");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!status.success());
    let unreadable = |said: &str| said.contains("refusing to lead") && said.contains("`x`");
    let said = e.output_when(unreadable, Duration::from_secs(10));
    assert!(unreadable(&said), "{said}");
    assert!(
        !s.path().join("e-data/journal").exists(),
        "e opened a ledger"
    );
}

#[test]
fn a_holder_renewing_on_a_clock_an_hour_behind_keeps_its_lease_until_it_stops() {
    let Lab {
        moto: _moto,
        s,
        _apiserver,
        drill,
        plan,
    } = lab(drill_plan_with_aws_at);
    // Another replica holds the lease and renews it every half second, but its clock is an
    // hour behind: every renewTime it writes is an hour old by this machine's clock.
    let lease_path = "/apis/coordination.k8s.io/v1/namespaces/warroom/leases/warroom";
    let behind = chrono::Utc::now() - chrono::Duration::hours(1);
    let stamp =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let (code, v) = drill.post(
        "/apis/coordination.k8s.io/v1/namespaces/warroom/leases",
        &serde_json::json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": { "name": "warroom" },
            "spec": { "holderIdentity": "warroom-9", "leaseDurationSeconds": 3,
                "acquireTime": stamp(behind), "renewTime": stamp(behind), "leaseTransitions": 0 }
        }),
    );
    assert!(code < 300, "{v}");
    let holder = || {
        drill.object(lease_path)["spec"]["holderIdentity"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let a = replica(&s, &plan, "a-data", "warroom-0");
    let start = Instant::now();
    // When the last renewal was sent: the replica cannot have seen it before.
    let mut last_renewal = start;
    while start.elapsed() < Duration::from_secs(8) {
        let renewed = behind + chrono::Duration::from_std(start.elapsed()).unwrap();
        last_renewal = Instant::now();
        let (code, v) = drill.merge_patch(
            lease_path,
            &serde_json::json!({ "spec": { "renewTime": stamp(renewed) } }),
        );
        assert!(code < 300, "{v}");
        assert_eq!(
            holder(),
            "warroom-9",
            "a lease renewed as usual was taken because its holder's clock is behind"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // It stops renewing: once the lease has not changed for its duration, as this replica
    // measures time, it is taken.
    wait_for("the replica to take the lapsed lease", 20, || {
        (holder() == "warroom-0").then_some(())
    });
    assert!(
        last_renewal.elapsed() >= Duration::from_secs(3),
        "taken {:?} after the last renewal, before its 3 s lapsed",
        last_renewal.elapsed()
    );
    drop(a);
}

const AM_TOKEN: &str = "am-test-token";

/// The example plan's payments rule, paging primary-oncall (tier 1, then tier 2 after
/// `escalate_after`, once through).
fn paging_plan(endpoint: &str, pager: &str, smtp_port: u16) -> String {
    let mut plan = drill_plan_with_aws_at(endpoint)
        .replace("notify = false", "notify = true")
        .replacen("repeat = 2", "repeat = 0", 1)
        .replace("escalate_after = \"5m\"", "escalate_after = \"8s\"")
        .replace("escalate_after = \"10m\"", "escalate_after = \"8s\"")
        .replace(
            "[[alerts.rules]]\nname = \"ssh-from-outside-after-hours\"",
            "[[alerts.rules]]\nname = \"payments-api-down\"\nsource = \"alertmanager\"\nmatch = { alertname = \"PaymentsApiDown\", namespace = \"payments\" }\nseverity = \"sev2\"\npage = \"primary-oncall\"\n\n[[alerts.rules]]\nname = \"ssh-from-outside-after-hours\"",
        );
    for (from, to) in paging_changes(pager, smtp_port) {
        assert!(plan.contains(from), "{from}");
        plan = plan.replace(from, &to);
    }
    plan
}

/// Alertmanager's webhook for PaymentsApiDown, posted to `addr`: the incident opened.
fn fire(addr: &str) -> String {
    let body = serde_json::json!({
        "version": "4", "status": "firing", "receiver": "warroom",
        "groupKey": "{}:{alertname=\"PaymentsApiDown\"}",
        "alerts": [{
            "status": "firing",
            "labels": { "alertname": "PaymentsApiDown", "namespace": "payments", "pod": "api-7f9c", "cluster": "prod-eu" },
            "annotations": { "summary": "payments api down on api-7f9c" },
            "startsAt": "2026-12-01T01:58:00Z",
        }],
    });
    warroom_tests::post_alertmanager(addr, AM_TOKEN, &body)
}

#[test]
fn an_escalation_cut_by_killing_the_leader_pages_each_step_once_from_the_new_leader() {
    let pd = PagerStandIn::start();
    let smtp_dir = Scratch::new();
    let smtp = SmtpSink::start(smtp_dir.path(), Duration::ZERO);
    let Lab {
        moto,
        s,
        _apiserver,
        drill,
        plan,
    } = lab(|endpoint| paging_plan(endpoint, &pd.root, smtp.port));
    let env = [
        ("PAGERDUTY_ROUTING_KEY", "pd-key"),
        ("WARROOM_ALERTMANAGER_TOKEN", AM_TOKEN),
    ];
    let a = replica_with(&s, &plan, "a-data", "warroom-0", &env);
    leading_within(&a, Duration::from_secs(20));
    let b = replica_with(&s, &plan, "b-data", "warroom-1", &env);
    wait_for("b to be a standby", 10, || {
        b.get("/readyz").1.contains("standby").then_some(())
    });

    // Alertmanager posts to the standby: it reaches the leader, which pages tier 1.
    let inc = fire(&b.addr);
    let api = Api::new(&a.addr);
    let step_one = wait_for("tier 1 delivered", 20, || {
        let t = api.incident(&inc)["timeline"].clone();
        let sent = t
            .as_array()?
            .iter()
            .filter(|e| e["kind"] == "page.sent")
            .count();
        let delivered = t
            .as_array()?
            .iter()
            .filter(|e| e["kind"] == "page.delivered")
            .count();
        let owed: usize = t
            .as_array()?
            .iter()
            .filter(|e| e["kind"] == "page.sent")
            .map(|e| e["data"]["deliveries"].as_array().map_or(0, Vec::len))
            .sum();
        (sent == 1 && delivered == owed && owed > 0).then_some(owed)
    });
    wait_for("the copy to hold it", 10, || {
        a.get("/metrics")
            .1
            .contains("warroom_ledger_copy_lag_batches 0\n")
            .then_some(())
    });
    // kill -9 the leader between the steps: tier 2 falls due while it is gone.
    unsafe { libc::kill(a.child.id() as i32, libc::SIGKILL) };
    drop(a);
    leading_within(&b, Duration::from_secs(30));
    let api = Api::new(&b.addr);
    let timeline = wait_for(
        "tier 2 paged by the new leader and the escalation exhausted",
        40,
        || {
            let t = api.incident(&inc)["timeline"].clone();
            let entries = t.as_array()?.clone();
            let exhausted = entries.iter().any(|e| e["kind"] == "escalation.exhausted");
            let owed: usize = entries
                .iter()
                .filter(|e| e["kind"] == "page.sent")
                .map(|e| e["data"]["deliveries"].as_array().map_or(0, Vec::len))
                .sum();
            let settled = entries
                .iter()
                .filter(|e| e["kind"] == "page.delivered")
                .count();
            (exhausted && settled == owed).then_some(entries)
        },
    );
    // Each step recorded once: tier 1 by the old leader, tier 2 by the new one.
    let steps: Vec<String> = timeline
        .iter()
        .filter(|e| e["kind"] == "page.sent")
        .map(|e| e["data"]["step"].to_string())
        .collect();
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert_ne!(steps[0], steps[1], "a step was paged twice: {steps:?}");
    // What the receivers got: every delivery the two steps owe, each under one key, and
    // nothing else; a key seen twice is a retry the receiver folds, never a second page.
    let keys: BTreeSet<String> = timeline
        .iter()
        .filter(|e| e["kind"] == "page.delivered")
        .map(|e| {
            e["data"]["receipt"]
                .as_str()
                .and_then(|r| r.split_whitespace().nth(1))
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert!(
        keys.len() > step_one,
        "tier 2 owed deliveries too: {keys:?}"
    );
    let received = received_keys(&pd, &smtp);
    let mut distinct = BTreeSet::new();
    for (channel, got) in &received {
        for k in got {
            assert!(keys.contains(k), "{channel} got {k}, which no step owed");
            distinct.insert(k.clone());
        }
    }
    assert_eq!(distinct, keys, "every owed delivery arrived");
    let exhausted = timeline
        .iter()
        .filter(|e| e["kind"] == "escalation.exhausted")
        .count();
    assert_eq!(exhausted, 1, "the end of the escalation is said once");

    // A clean stop hands over at once: the leader uploads what is left, publishes its final
    // head and releases the lease instead of letting a standby wait it out.
    let c = replica_with(&s, &plan, "c-data", "warroom-2", &env);
    wait_for("c to be a standby", 10, || {
        c.get("/readyz").1.contains("standby").then_some(())
    });
    let mut b = b;
    unsafe { libc::kill(b.child.id() as i32, libc::SIGTERM) };
    assert!(b.child.wait().unwrap().success());
    let lease = drill.object("/apis/coordination.k8s.io/v1/namespaces/warroom/leases/warroom");
    assert_ne!(
        lease["spec"]["holderIdentity"], "warroom-1",
        "the lease was not released: {lease}"
    );
    let said = b.output_when(
        |said| said.contains("released the lease at ledger head"),
        Duration::from_secs(10),
    );
    assert!(said.contains("released the lease at ledger head"), "{said}");
    leading_within(&c, Duration::from_secs(10));
    let api = Api::new(&c.addr);
    assert_eq!(api.count(&inc, "page.sent"), 2, "{:?}", api.kinds(&inc));
    api.ok("carol", "note before a restart", Some(&inc));
    let last = seq_hash(&api.incident(&inc)["timeline"]);

    // The replica that led last restarts on its own folder: its ledger already holds the
    // whole copy, hash for hash, so nothing is moved aside and it simply leads on.
    let mut c = c;
    unsafe { libc::kill(c.child.id() as i32, libc::SIGTERM) };
    assert!(c.child.wait().unwrap().success());
    let c = replica_with(&s, &plan, "c-data", "warroom-2", &env);
    leading_within(&c, Duration::from_secs(10));
    let aside: Vec<_> = std::fs::read_dir(s.path().join("c-data"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("previous-") || n.starts_with(".restoring"))
        .collect();
    assert!(aside.is_empty(), "{aside:?}");
    assert!(!c.output().contains("took over the copy"), "{}", c.output());
    let api = Api::new(&c.addr);
    assert_eq!(
        seq_hash(&api.incident(&inc)["timeline"])[..last.len()],
        last[..]
    );
    let all = seq_hash(&api.incident(&inc)["timeline"]);
    let mut c = c;
    unsafe { libc::kill(c.child.id() as i32, libc::SIGTERM) };
    assert!(c.child.wait().unwrap().success());
    s.run(&["--data", "c-data", "ledger", "verify", "--skip-evidence"])
        .expect_code(0);
    // The bucket's copy, after three leaders, restores into an empty folder with every
    // entry, hash for hash, and verifies.
    let mut restore = s.command(&[
        "ledger",
        "restore",
        "--from",
        &format!("s3://{BUCKET}/prod/"),
        "--to",
        "restored",
        "--region",
        "eu-central-1",
        "--endpoint",
        &moto.endpoint,
    ]);
    restore.envs(AWS_ENV.iter().copied());
    warroom_tests::Outcome(restore.output().unwrap()).expect_code(0);
    let shown = s
        .run(&["--data", "restored", "--json", "incident", "show", &inc])
        .expect_code(0)
        .stdout();
    let shown: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(seq_hash(&shown["entries"]), all);
    s.run(&["--data", "restored", "ledger", "verify", "--skip-evidence"])
        .expect_code(0);
}
