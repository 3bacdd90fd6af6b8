//! Exports and `ledger verify` are right while the server writes: 16 clients post notes (and
//! requests that the sweeper expires) while an auditor exports and verifies again and again.
//! Big incidents export through a running server, and a killed export leaves nothing behind.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use warroom_tests::api::{Api, UNLIMITED, plan_with};
use warroom_tests::{Scratch, Server};

#[test]
fn exports_and_verify_taken_during_writes_always_verify() {
    let s = Scratch::new();
    // Pending requests expire after a second, so the sweeper writes during the exports too.
    let plan = s.write(
        "plan.toml",
        &plan_with(&[
            ("drill = false", "drill = true"),
            ("pending_ttl = \"15m\"", "pending_ttl = \"1s\""),
            // Many writers from one address.
            UNLIMITED,
        ]),
    );
    let server = Server::start(&s, &["--config", plan.to_str().unwrap()]);
    let api = Api::new(&server.addr);
    let inc = api.open_incident("busy incident");
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..16)
        .map(|n| {
            let (addr, inc, stop, written) = (
                server.addr.clone(),
                inc.clone(),
                stop.clone(),
                written.clone(),
            );
            std::thread::spawn(move || {
                let api = Api::new(&addr);
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let text = if i % 10 == 0 {
                        "quarantine pod payments/api-7f9c --reason \"load\"".to_owned()
                    } else {
                        format!("note writer {n} line {i}")
                    };
                    let (status, r) = api.command("alice", &text, Some(&inc));
                    // A second quarantine while one is pending may be refused; notes never.
                    assert!(status == 200 || !text.starts_with("note"), "{text}: {r}");
                    written.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                    // Steady traffic (about 40 writes/s in all) rather than a flood: the
                    // point is writes landing during every export, not a ledger too big to
                    // verify quickly in a debug build.
                    std::thread::sleep(std::time::Duration::from_millis(400));
                }
            })
        })
        .collect();
    let mut runs = 0;
    while runs < 50 {
        let out = format!("export-{runs}.json");
        s.run(&[
            "incident", "export", &inc, "--format", "json", "--out", &out,
        ])
        .expect_code(0);
        s.run(&["export", "verify", &out]).expect_code(0);
        s.run(&["ledger", "verify"]).expect_code(0);
        runs += 1;
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    assert!(
        written.load(Ordering::Relaxed) > 100,
        "the clients wrote meanwhile"
    );
    assert!(
        api.count(&inc, "request.expired") > 0,
        "the sweeper expired requests meanwhile"
    );
}

#[test]
fn a_big_incident_exports_through_the_server_and_killed_exports_leave_nothing() {
    let s = Scratch::new();
    // 3,000 notes from one address.
    let plan = s.write(
        "plan.toml",
        &plan_with(&[("drill = false", "drill = true"), UNLIMITED]),
    );
    let server = Server::start(&s, &["--config", plan.to_str().unwrap()]);
    let api = Api::new(&server.addr);
    let inc = api.open_incident("big");
    // Over the 10 MB that an HTTP client reads by default: 3,000 notes near the 4,000-
    // character command limit, from 8 clients.
    let line = "x".repeat(3_900);
    let clients: Vec<_> = (0..8)
        .map(|c| {
            let (addr, inc, line) = (server.addr.clone(), inc.clone(), line.clone());
            std::thread::spawn(move || {
                let api = Api::new(&addr);
                for n in 0..375 {
                    let (status, _) =
                        api.command("alice", &format!("note {c}/{n} {line}"), Some(&inc));
                    assert_eq!(status, 200, "note {c}/{n}");
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    // Left by exports killed mid-write, by processes long gone.
    for pid in [9_999_991_u32, 9_999_992] {
        std::fs::write(s.path().join(format!(".big.json.tmp-{pid}")), b"partial").unwrap();
    }
    s.run(&[
        "incident", "export", &inc, "--format", "json", "--out", "big.json",
    ])
    .expect_code(0);
    let size = std::fs::metadata(s.path().join("big.json")).unwrap().len();
    assert!(size > 12_000_000, "{size} bytes");
    s.run(&["export", "verify", "big.json"]).expect_code(0);
    let leftovers: Vec<_> = std::fs::read_dir(s.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
