//! The ledger's off-box copy (`[ha]`) in a bucket (moto server): every batch goes up as a
//! hash-linked segment, a restart continues the chain from a new base, and `warroom ledger
//! restore` rebuilds every acknowledged entry into an empty folder after the server is
//! killed — and refuses a copy whose chain was tampered with.

use std::time::{Duration, Instant};

use serde_json::Value;
use warroom_tests::api::Api;
use warroom_tests::moto::{AWS_ENV, Moto, drill_plan_with_aws_at};
use warroom_tests::{Scratch, Server, seq_hash};

const BUCKET: &str = "northwind-warroom-ledger";

fn plan(moto: &Moto) -> String {
    format!(
        "{}\n[ha]\nbucket = \"s3://{BUCKET}/prod/\"\nregion = \"eu-central-1\"\nendpoint = \"{}\"\nobject_lock = {{ mode = \"governance\", retain_for = \"1d\" }}\n",
        drill_plan_with_aws_at(&moto.endpoint),
        moto.endpoint
    )
}

/// A server whose `[ha]` adds `more`, with no bucket yet.
fn start_with(more: &str) -> (Moto, Scratch, Server) {
    let moto = Moto::start();
    let s = Scratch::new();
    let plan = s.write("plan.toml", &format!("{}{more}", plan(&moto)));
    let server = Server::start_with_env(&s, &["--config", plan.to_str().unwrap()], AWS_ENV);
    (moto, s, server)
}

/// Wait until `/metrics` says every written batch is in the bucket.
fn wait_copied(server: &Server) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, m) = server.get("/metrics");
        if m.contains("warroom_ledger_copy_up 1")
            && m.contains("warroom_ledger_copy_lag_batches 0\n")
        {
            return;
        }
        assert!(Instant::now() < deadline, "the copy did not catch up:\n{m}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn kill(server: &Server) {
    unsafe { libc::kill(server.child.id() as i32, libc::SIGKILL) };
}

fn restore(s: &Scratch, moto: &Moto, to: &str) -> warroom_tests::Outcome {
    let mut cmd = s.command(&[
        "--json",
        "ledger",
        "restore",
        "--from",
        &format!("s3://{BUCKET}/prod/"),
        "--to",
        to,
        "--region",
        "eu-central-1",
        "--endpoint",
        &moto.endpoint,
    ]);
    cmd.envs(AWS_ENV.iter().copied());
    warroom_tests::Outcome(cmd.output().unwrap())
}

/// Every entry of `inc` as the restored folder holds them.
fn entries(s: &Scratch, data: &str, inc: &str) -> Vec<(u64, String)> {
    let out = s
        .run(&["--data", data, "--json", "incident", "show", inc])
        .expect_code(0)
        .stdout();
    let v: Value = serde_json::from_str(&out).unwrap();
    seq_hash(&v["entries"])
}

/// With no server left, `ledger restore` rebuilds from the bucket a ledger that is whole and
/// holds `acked` of `inc`, hash for hash.
fn assert_restores(s: &Scratch, moto: &Moto, inc: &str, acked: &[(u64, String)]) {
    let out = restore(s, moto, "restored").expect_code(0);
    let report: Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(report["complete"], true, "{report}");
    assert_eq!(entries(s, "restored", inc), acked);
}

/// Every entry of `inc` the server acknowledged.
fn acknowledged(api: &Api, inc: &str) -> Vec<(u64, String)> {
    seq_hash(&api.incident(inc)["timeline"])
}

#[test]
fn a_killed_server_is_restored_from_its_bucket_with_every_acknowledged_entry() {
    let moto = Moto::start();
    moto.aws(&["bucket", BUCKET]);
    let s = Scratch::new();
    let plan = s.write("plan.toml", &plan(&moto));
    let server = Server::start_with_env(&s, &["--config", plan.to_str().unwrap()], AWS_ENV);
    let api = Api::new(&server.addr);
    let inc = api.open_incident("shell in payments api");
    api.capture_and_quarantine_suspect(&inc);
    for i in 0..20 {
        api.ok("carol", &format!("note step {i}"), Some(&inc));
    }
    let second = api.open_incident("miner on a node");
    api.ok("alice", "note looking", Some(&second));
    let before = acknowledged(&api, &inc);
    let before_second = acknowledged(&api, &second);
    wait_copied(&server);
    let (_, ready) = server.get("/readyz");
    assert_eq!(ready.trim(), "ready");
    kill(&server);
    drop(server);

    // Disaster recovery with no server left: an empty folder from the bucket.
    let out = restore(&s, &moto, "restored").expect_code(0);
    let report: Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(report["complete"], true, "{report}");
    assert!(report["segments"].as_u64().unwrap() >= 2, "{report}");
    assert_eq!(
        entries(&s, "restored", &inc),
        before,
        "every acknowledged entry, hash for hash"
    );
    assert_eq!(entries(&s, "restored", &second), before_second);
    let verified = s
        .run(&["--data", "restored", "ledger", "verify", "--skip-evidence"])
        .expect_code(0);
    assert!(
        verified.stdout().contains("intact"),
        "{}",
        verified.stdout()
    );
    // Evidence bytes are not in segments: kept on the lost disk, they are named as missing
    // (the plan keeps them in S3 for that).
    let full = s
        .run(&["--data", "restored", "ledger", "verify"])
        .expect_code(1);
    assert!(
        full.stderr().contains("pod_spec.json") && full.stderr().contains("missing"),
        "{}",
        full.stderr()
    );

    // A restart continues the chain from a new base; the next restore has what came after.
    let server = Server::start_with_env(&s, &["--config", plan.to_str().unwrap()], AWS_ENV);
    let api = Api::new(&server.addr);
    api.ok("carol", "note after the restart", Some(&inc));
    let after = acknowledged(&api, &inc);
    wait_copied(&server);
    kill(&server);
    drop(server);
    let out = restore(&s, &moto, "restored-2").expect_code(0);
    let report: Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(report["complete"], true, "{report}");
    assert_eq!(entries(&s, "restored-2", &inc), after);
    assert_eq!(after.len(), before.len() + 1);

    // Bad input: a folder that holds files is refused, and nothing is written to it.
    restore(&s, &moto, "restored").expect_code(2);

    // A changed segment breaks the chain where it happened: nothing is restored.
    let installation = report["installation"].as_str().unwrap();
    moto.aws(&[
        "tamper",
        BUCKET,
        &format!("prod/{installation}/segments/{:020}.seg", 2),
    ]);
    let out = restore(&s, &moto, "restored-3").expect_code(1);
    assert!(
        out.stderr()
            .contains(&format!("segment {:020}.seg does not follow segment 2", 3)),
        "{}",
        out.stderr()
    );
    assert!(
        !s.path().join("restored-3").exists()
            || std::fs::read_dir(s.path().join("restored-3"))
                .unwrap()
                .next()
                .is_none(),
        "nothing written"
    );
}

#[test]
fn an_unreachable_bucket_is_said_in_readyz_and_metrics_and_the_copy_catches_up() {
    let moto = Moto::start();
    let s = Scratch::new();
    let plan = s.write("plan.toml", &plan(&moto));
    // The bucket does not exist yet: every upload fails.
    let server = Server::start_with_env(&s, &["--config", plan.to_str().unwrap()], AWS_ENV);
    let api = Api::new(&server.addr);
    let inc = api.open_incident("bucket down");
    api.ok("alice", "note still recorded here", Some(&inc));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, ready) = server.get("/readyz");
        if ready.contains("is behind") {
            // Writes are durable on this server's disk (ack = leader): still ready.
            assert_eq!(code, 200, "{ready}");
            assert!(ready.contains(&format!("s3://{BUCKET}/prod/")), "{ready}");
            break;
        }
        assert!(Instant::now() < deadline, "readyz never said so: {ready}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (_, m) = server.get("/metrics");
    assert!(m.contains("warroom_ledger_copy_up 0"), "{m}");
    // The bucket appears: the copy catches up without a restart, and restores whole.
    moto.aws(&["bucket", BUCKET]);
    wait_copied(&server);
    let before = acknowledged(&api, &inc);
    kill(&server);
    drop(server);
    assert_restores(&s, &moto, &inc, &before);
}

#[test]
fn with_ack_replicated_nothing_is_acknowledged_that_the_bucket_does_not_hold() {
    // No bucket yet: nothing can be copied, so nothing is acknowledged.
    let (moto, s, server) = start_with("ack = \"replicated\"\nreplicated_within = \"2s\"\n");
    let api = Api::new(&server.addr);
    let (code, r) = api.command(
        "alice",
        "incident open \"bucket down\" --severity sev2",
        None,
    );
    assert_eq!(code, 503, "{r}");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains(&format!("s3://{BUCKET}/prod/")),
        "{r}"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, ready) = server.get("/readyz");
        if code == 503 {
            assert!(ready.contains("ack = \"replicated\""), "{ready}");
            break;
        }
        assert!(Instant::now() < deadline, "readyz stayed {code}: {ready}");
        std::thread::sleep(Duration::from_millis(100));
    }

    // The bucket appears: writes are taken again, and an acknowledged one survives kill -9
    // with no server left.
    moto.aws(&["bucket", BUCKET]);
    server.wait_for("/readyz", 200, Duration::from_secs(30));
    let inc = api.open_incident("shell in payments api");
    api.ok("alice", "note acknowledged means copied", Some(&inc));
    let acked = acknowledged(&api, &inc);
    kill(&server);
    drop(server);
    assert_restores(&s, &moto, &inc, &acked);
}

#[test]
fn with_carry_on_a_write_is_acknowledged_as_durable_here_and_the_copy_catches_up() {
    // No bucket yet: the plan chose to carry on, and the reply says what that means.
    let (moto, s, server) = start_with(
        "ack = \"replicated\"\nreplicated_within = \"1s\"\nwhen_unreachable = \"carry_on\"\n",
    );
    let api = Api::new(&server.addr);
    let inc = api.open_incident("bucket down, carrying on");
    let r = api.ok("alice", "note the bucket is down", Some(&inc));
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("durable on this server; its copy to the bucket is behind and catches up"),
        "{r}"
    );
    let (code, ready) = server.get("/readyz");
    assert_eq!(code, 200, "carry on: writes are still taken: {ready}");
    assert!(ready.contains("is behind"), "{ready}");
    let (_, m) = server.get("/metrics");
    assert!(m.contains("warroom_ledger_copy_up 0"), "{m}");
    assert!(!m.contains("warroom_ledger_copy_lag_batches 0\n"), "{m}");

    // The bucket appears: the copy catches up, replies are plain again, and everything
    // acknowledged while it was away is restored from it.
    moto.aws(&["bucket", BUCKET]);
    wait_copied(&server);
    let r = api.ok("alice", "note the bucket is back", Some(&inc));
    assert!(!r["message"].as_str().unwrap().contains("behind"), "{r}");
    let acked = acknowledged(&api, &inc);
    kill(&server);
    drop(server);
    assert_restores(&s, &moto, &inc, &acked);
}

#[test]
fn with_ack_replicated_an_approved_action_runs_only_once_the_copy_holds_its_approval() {
    let (moto, _s, server) = start_with("ack = \"replicated\"\nreplicated_within = \"2s\"\n");
    moto.aws(&["bucket", BUCKET]);
    server.wait_for("/readyz", 200, Duration::from_secs(30));
    let api = Api::new(&server.addr);
    let inc = api.open_incident("shell in payments api");
    api.ok(
        "alice",
        "quarantine pod payments/api-7f9c --reason \"shell spawned\"",
        Some(&inc),
    );
    wait_copied(&server);
    // The bucket hangs: the approval is durable here but never reaches the copy. Run now,
    // and a standby taking over from the copy would find R1 pending, approvable, runnable.
    moto.pause();
    let (code, r) = api.command("bob", "approve R1", Some(&inc));
    // Not acknowledged as done: the copy does not hold it.
    assert_eq!(code, 503, "{r}");
    // Uploads hang (each try may take 30 s) rather than fail, so writes are still taken
    // here: the request is recorded as not run.
    let body = api.wait_until(&inc, "R1 to be recorded as not run", |b| {
        b["incident"]["requests"][0]["status"] == "failed"
    });
    moto.resume();
    let outcome = body["incident"]["requests"][0]["outcome"].to_string();
    assert!(
        outcome.contains("not run: the ledger's copy does not hold its approval yet")
            && outcome.contains("nothing was changed"),
        "{outcome}"
    );
    let pod = warroom_tests::drill::Drill::of(&server, "prod-eu")
        .object("/api/v1/namespaces/payments/pods/api-7f9c");
    assert!(
        pod["metadata"]["labels"]["warroom.io/quarantine"].is_null(),
        "the pod was not touched: {}",
        pod["metadata"]["labels"]
    );
}

#[test]
fn a_segment_another_server_stored_first_is_named_and_the_copy_continues_after_it() {
    use warroom_ledger::segment::{Segment, SegmentKind, digest, object_name};
    let moto = Moto::start();
    moto.aws(&["bucket", BUCKET]);
    let s = Scratch::new();
    let plan = s.write(
        "plan.toml",
        &format!(
            "{}ack = \"replicated\"\nreplicated_within = \"10s\"\n",
            plan(&moto)
        ),
    );
    let server = Server::start_with_env(&s, &["--config", plan.to_str().unwrap()], AWS_ENV);
    let api = Api::new(&server.addr);
    let inc = api.open_incident("shell in payments api");
    api.ok("carol", "note before", Some(&inc));
    wait_copied(&server);

    // Another writer (a leader whose last uploads land after this one took over) stores the
    // next segment first: a valid link of the chain, with a journal batch of its own.
    let last = moto.aws(&["last", BUCKET, "prod/"]);
    let key = last["key"].as_str().unwrap();
    let bytes = hex::decode(last["bytes"].as_str().unwrap()).unwrap();
    let name = key.rsplit('/').next().unwrap();
    let mine = Segment::decode(name, &bytes).unwrap();
    let theirs = Segment {
        number: mine.number + 1,
        kind: SegmentKind::Batch,
        batch: mine.batch + 1,
        prev: digest(&bytes),
        puts: Vec::new(),
    };
    let their_name = object_name(theirs.number);
    let their_key = format!("{}{their_name}", key.trim_end_matches(name));
    moto.aws(&["put", BUCKET, &their_key, &hex::encode(theirs.encode())]);

    // The next write still goes up (after it, from a base) and is acknowledged; retrying the
    // taken name would have held every write until replicated_within ran out.
    api.ok("carol", "note after the other writer", Some(&inc));
    let acked = acknowledged(&api, &inc);
    wait_copied(&server);
    let segments = server.gauge("warroom_ledger_copy_segments");
    assert!(
        segments > theirs.number,
        "the chain continued after segment {}: {segments}",
        theirs.number
    );
    let said = server.output_when(
        |o| o.contains("another server stored"),
        Duration::from_secs(10),
    );
    assert!(
        said.contains(&their_name) && said.contains(&format!("journal batch {}", theirs.batch)),
        "{said}"
    );
    // The bucket restores, through the other writer's segment, to every acknowledged entry.
    kill(&server);
    drop(server);
    assert_restores(&s, &moto, &inc, &acked);
}
