//! `warroom serve` on the embedded default.

use std::time::Duration;

use warroom_tests::{Scratch, Server};

#[test]
fn serve_without_a_plan_runs_on_the_builtin_plan_and_becomes_ready() {
    let s = Scratch::new();
    let server = Server::start(&s, &[]);
    assert!(
        server
            .log
            .iter()
            .any(|l| l.contains("built-in example plan") && l.contains("warroom-data")),
        "says so on start: {:?}",
        server.log
    );
    assert_eq!(server.get("/healthz").0, 200);
    let (status, body) = server.wait_for("/readyz", 200, Duration::from_secs(20));
    assert_eq!((status, body.trim()), (200, "ready"));
    let (status, metrics) = server.get("/metrics");
    assert_eq!(status, 200);
    assert!(metrics.contains("warroom_ready 1"), "{metrics}");
    assert!(s.path().join("warroom-data/sled/db").exists());
    assert_eq!(server.get("/nope").0, 404);
}

#[test]
fn serve_refuses_an_invalid_plan_with_exit_two() {
    let s = Scratch::new();
    s.write("warroom.toml", "[plan\n");
    let out = s.run(&["serve", "--listen", "127.0.0.1:0"]).expect_code(2);
    assert!(out.stderr().contains("warroom.toml:1:"), "{}", out.stderr());
}
