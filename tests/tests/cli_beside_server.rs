//! One process owns the ledger: while `warroom serve` runs, the CLI's reads and exports go
//! through it, and writes say where to make them instead.

use warroom_tests::api::Api;
use warroom_tests::{Scratch, Server};

#[test]
fn reads_and_exports_work_while_the_server_owns_the_ledger() {
    let s = Scratch::new();
    let server = Server::start(&s, &[]);
    let api = Api::new(&server.addr);
    let inc = api.open_incident("beside the server");
    api.ok(
        "alice",
        "quarantine pod payments/api-7f9c --reason shell",
        Some(&inc),
    );
    api.ok("bob", "approve R1", Some(&inc));

    let list = s.run(&["incident", "list"]).expect_code(0);
    assert!(
        list.stdout().contains(&inc) && list.stdout().contains("beside the server"),
        "{}",
        list.stdout()
    );
    assert!(
        list.stderr().contains("reading through it"),
        "{}",
        list.stderr()
    );

    let show = s
        .run(&["--json", "incident", "show", &inc])
        .expect_code(0)
        .stdout();
    let show: serde_json::Value = serde_json::from_str(&show).unwrap();
    assert_eq!(show["incident"]["requests"][0]["status"], "executed");
    assert_eq!(show["entries"].as_array().unwrap().len(), 5);

    s.run(&[
        "incident",
        "export",
        &inc,
        "--format",
        "json",
        "--out",
        "export.json",
    ])
    .expect_code(0);
    let verified = s.run(&["export", "verify", "export.json"]).expect_code(0);
    assert!(
        verified.stdout().contains("intact"),
        "{}",
        verified.stdout()
    );
    let export: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.path().join("export.json")).unwrap())
            .unwrap();
    assert!(
        export["exported_by"].as_str().unwrap().starts_with("cli:"),
        "{}",
        export["exported_by"]
    );
    let md = s
        .run(&["incident", "export", &inc, "--format", "markdown"])
        .expect_code(0);
    assert!(md.stdout().contains("R1 approved"), "{}", md.stdout());
    s.run(&["ledger", "verify"]).expect_code(0);

    s.run(&["incident", "show", "INC-20200101-0001"])
        .expect_code(2);
    let note = s
        .run(&["incident", "note", &inc, "from the cli"])
        .expect_code(1);
    assert!(
        note.stderr().contains("owned by a running warroom serve"),
        "{}",
        note.stderr()
    );

    // The server file is only for this user, and goes away with the server.
    use std::os::unix::fs::PermissionsExt;
    let file = s.path().join("warroom-data/serve.json");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let mut server = server;
    unsafe { libc::kill(server.child.id() as i32, libc::SIGTERM) };
    let _ = server.child.wait();
    assert!(!file.exists(), "serve.json removed on shutdown");
    s.run(&["incident", "list"]).expect_code(0);
}

#[test]
fn preflight_beside_a_running_drill_checks_its_clusters_and_their_plugins() {
    let s = Scratch::new();
    let server = Server::start(&s, &[]);
    server.wait_for("/readyz", 200, std::time::Duration::from_secs(20));
    // A change made to the running drill is what preflight sees.
    let drill = warroom_tests::drill::Drill::of(&server, "prod-eu");
    drill.deny("patch", "", "nodes", "");
    let out = s.run(&["preflight"]);
    let said = out.stdout();
    assert_eq!(out.code(), 1, "a denied action fails preflight:\n{said}");
    assert!(
        said.contains("checking the drill clusters of the running warroom serve"),
        "{said}"
    );
    assert!(
        said.lines()
            .any(|l| l.trim_start().starts_with("cordon") && l.contains("DENIED")),
        "{said}"
    );
    // Each drill cluster runs the network plugin its plan entry names.
    assert!(
        said.contains("network policy: enforced (calico-node (kube-system)); the plan says calico"),
        "{said}"
    );
    assert!(
        said.contains("network policy: enforced (cilium (kube-system)); the plan says cilium"),
        "{said}"
    );
}

#[test]
fn a_server_starting_waits_for_a_cli_that_holds_the_ledger_and_a_second_server_is_refused_at_once()
{
    use std::os::fd::AsRawFd;
    use std::time::{Duration, Instant};
    let s = Scratch::new();
    // A ledger, left by a server that stopped.
    let first = Server::start(&s, &[]);
    Api::new(&first.addr).open_incident("before the restart");
    let addr = first.addr.clone();
    // Killed: its serve.json still names the address the restart will listen on.
    drop(first);
    let db = s.path().join("warroom-data/sled/db");
    // What a `ledger verify` or `incident list` holds while it copies the folder to read it:
    // sled's own lock. The server restarts on its old address (systemd, a pod restarted in
    // place) and must not take itself for a second server.
    let held = std::fs::File::open(&db).unwrap();
    // SAFETY: flock on a file descriptor this test owns.
    let locked = unsafe { libc::flock(held.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    assert_eq!(locked, 0, "{}", std::io::Error::last_os_error());

    let server = Server::restart_at(&s, &addr, &[]);
    let said = server.output_when(|o| o.contains("waiting up to"), Duration::from_secs(10));
    assert!(
        said.contains("is locked by another process that is not a running warroom serve"),
        "{said}"
    );
    assert_eq!(
        server.get("/readyz").0,
        503,
        "not ready before its ledger is open"
    );
    // The reader is done: the server opens the ledger and is ready, having exited for nothing.
    drop(held);
    let (status, body) = server.wait_for("/readyz", 200, Duration::from_secs(10));
    assert_eq!(status, 200, "{body}");
    let (_, list) = Api::new(&server.addr).get("/api/v1/incidents");
    assert_eq!(
        list["incidents"].as_array().map(Vec::len),
        Some(1),
        "{list}"
    );

    // A second server on the same folder finds the first answering: refused at once.
    let started = Instant::now();
    let out = s.run(&["serve", "--listen", "127.0.0.1:0"]).expect_code(1);
    assert!(
        out.stderr().contains("in use by another warroom process"),
        "{}",
        out.stderr()
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}
