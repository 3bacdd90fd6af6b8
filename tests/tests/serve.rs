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

#[test]
fn sigterm_ends_open_event_streams_and_exits_within_five_seconds() {
    use std::io::{BufRead, BufReader, Read, Write};
    let s = Scratch::new();
    let mut server = Server::start(&s, &[]);
    server.wait_for("/readyz", 200, Duration::from_secs(20));
    // Three consoles following the live stream.
    let mut streams: Vec<BufReader<std::net::TcpStream>> = (0..3)
        .map(|_| {
            let mut c = std::net::TcpStream::connect(&server.addr).unwrap();
            write!(
                c,
                "GET /api/v1/events HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
                server.addr
            )
            .unwrap();
            let mut r = BufReader::new(c);
            let mut status = String::new();
            r.read_line(&mut status).unwrap();
            assert!(status.contains(" 200 "), "{status}");
            r
        })
        .collect();
    let asked = std::time::Instant::now();
    unsafe { libc::kill(server.child.id() as i32, libc::SIGTERM) };
    // Each stream is ended by the server (not left hanging until the process dies).
    for r in &mut streams {
        r.get_ref()
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut rest = Vec::new();
        let ended = r.read_to_end(&mut rest);
        assert!(ended.is_ok(), "the stream was ended: {ended:?}");
    }
    let deadline = asked + Duration::from_secs(5);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "a clean stop: {status}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "warroom still running 5 s after SIGTERM with three event streams open"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("stopped {:?} after SIGTERM", asked.elapsed());
}

#[test]
fn an_intake_whose_secret_is_unset_names_the_variable_and_asks_to_retry() {
    let s = Scratch::new();
    // The built-in plan has [alerts.intake.falco]; its environment variables are not set.
    let server = Server::start(&s, &[]);
    server.wait_for("/readyz", 200, Duration::from_secs(20));
    let (status, body) = warroom_tests::http_raw(
        &server.addr,
        &format!(
            "POST /alerts/falco HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}",
            server.addr
        ),
    );
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("in the plan but none of its credentials could be read")
            && body.contains("WARROOM_FALCO_TOKEN")
            && !body.contains("add [alerts.intake"),
        "{body}"
    );
}
