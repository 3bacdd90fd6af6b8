//! Callers that try to wear warroom down over HTTP: hundreds of connections trickling their
//! headers (slowloris), a body that never finishes, more connections than the plan allows,
//! and an address flooding the intake. Each is bounded by `[console.limits]`, answered
//! plainly, records nothing — and commands from everyone else are still acknowledged fast.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use warroom_tests::api::{Api, LIMITS_LINE, plan_with};
use warroom_tests::{Scratch, Server, wait_for};

/// A drill server whose `[console.limits]` are `limits`.
fn server_with(limits: &str) -> (Scratch, Server) {
    let s = Scratch::new();
    let plan = plan_with(&[
        ("drill = false", "drill = true"),
        (LIMITS_LINE, &format!("limits = {{ {limits} }}")),
    ]);
    let plan = s.write("plan.toml", &plan);
    let server = Server::start(&s, &["--config", plan.to_str().unwrap()]);
    (s, server)
}

/// A connection that sends a request line and then one header byte every `every`.
fn slow_sender(addr: &str) -> TcpStream {
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(b"POST /api/v1/command HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .unwrap();
    c
}

/// Whether the server closed `c` (a read returns end of stream or an error).
fn closed(mut c: &TcpStream) -> bool {
    c.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
    let mut buf = [0u8; 512];
    match c.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => true,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

#[test]
fn five_hundred_slow_connections_do_not_delay_commands_and_are_cut_at_the_header_timeout() {
    let (_s, server) = server_with(
        "connections = 1024, header_timeout = \"6s\", body_timeout = \"30s\", per_source = 2000, burst = 2000",
    );
    let api = Api::new(&server.addr);
    let inc = api.open_incident("slowloris");
    let mut slow: Vec<TcpStream> = (0..500).map(|_| slow_sender(&server.addr)).collect();
    let opened = Instant::now();
    let mut most = 0;
    let deadline = opened + Duration::from_secs(5);
    while most < 500 {
        most = most.max(server.gauge("warroom_http_connections_open"));
        assert!(
            Instant::now() < deadline,
            "only {most} of 500 connections were open at once"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // While they trickle, 200 commands are acknowledged (recorded durably) one after another.
    let mut took = Vec::new();
    for i in 0..200 {
        if i % 20 == 0 {
            for c in &mut slow {
                let _ = c.write_all(b"x");
            }
        }
        let t = Instant::now();
        let (code, r) = api.command("carol", &format!("note slow {i}"), Some(&inc));
        took.push(t.elapsed());
        assert_eq!(code, 200, "{r}");
    }
    took.sort();
    let p99 = took[took.len() * 99 / 100 - 1];
    let p50 = took[took.len() / 2];
    eprintln!("with 500 slow connections open: command ack p50 {p50:?}, p99 {p99:?}");
    assert!(
        p99 < Duration::from_millis(100),
        "p99 {p99:?} with 500 slow connections"
    );
    assert_eq!(api.count(&inc, "note"), 200);
    // None of them completed its headers within 6 s: each is closed, whatever it trickles.
    let deadline = opened + Duration::from_secs(12);
    loop {
        for c in &mut slow {
            let _ = c.write_all(b"x");
        }
        let open = slow.iter().filter(|c| !closed(c)).count();
        if open == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{open} slow connections still open {:?} after they opened",
            opened.elapsed()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!(
        "all 500 slow connections closed {:?} after they opened",
        opened.elapsed()
    );
    wait_for("the connections to be counted closed", 10, || {
        (server.gauge("warroom_http_connections_open") < 10).then_some(())
    });
}

#[test]
fn a_body_that_does_not_arrive_in_time_is_answered_408_and_nothing_is_recorded() {
    let (_s, server) = server_with("body_timeout = \"1s\"");
    let api = Api::new(&server.addr);
    let inc = api.open_incident("slow body");
    let before = api.kinds(&inc).len();
    let mut c = TcpStream::connect(&server.addr).unwrap();
    let body =
        format!("{{\"person\":\"carol\",\"incident\":\"{inc}\",\"text\":\"note never finished\"}}");
    write!(
        c,
        "POST /api/v1/command HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
        body.len(),
        &body[..20]
    )
    .unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    let mut answer = String::new();
    let _ = c.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("body_timeout"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(api.kinds(&inc).len(), before, "nothing recorded");
    assert_eq!(server.gauge("warroom_http_body_timeouts_total"), 1);
}

#[test]
fn connections_over_the_cap_are_told_to_retry_and_served_once_others_close() {
    let (_s, server) = server_with("connections = 20");
    // Twenty idle keep-alive connections take every place.
    let idle: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(&server.addr).unwrap())
        .collect();
    wait_for("20 connections open", 10, || {
        // /metrics itself needs a connection: it is refused while all are taken.
        let mut c = TcpStream::connect(&server.addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = c.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        let mut answer = String::new();
        let _ = c.read_to_string(&mut answer);
        answer.starts_with("HTTP/1.1 503").then_some(answer)
    });
    let mut c = TcpStream::connect(&server.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut answer = String::new();
    let _ = c.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );
    assert!(answer.contains("too many connections"), "{answer}");
    drop(idle);
    let (code, _) = wait_for("a place again", 10, || {
        let got = server.get("/healthz");
        (got.0 == 200).then_some(got)
    });
    assert_eq!(code, 200);
    assert!(server.gauge("warroom_http_connections_refused_total") >= 2);
}

#[test]
fn an_address_over_its_rate_is_told_when_to_retry_and_nothing_it_sent_then_is_recorded() {
    let (_s, server) = server_with("per_source = 2, burst = 5");
    let api = Api::new(&server.addr);
    let inc = api.open_incident("flood");
    let before = api.count(&inc, "note");
    let mut refused: u64 = 0;
    let mut retry_after = 0;
    for i in 0..20 {
        let mut resp = warroom_tests::agent()
            .post(&format!("http://{}/api/v1/command", server.addr))
            .header("content-type", "application/json")
            .send(
                serde_json::json!({"person": "carol", "incident": inc, "text": format!("note flood {i}")})
                    .to_string(),
            )
            .unwrap();
        if resp.status().as_u16() == 429 {
            refused += 1;
            retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .expect("Retry-After in whole seconds");
            let body = resp.body_mut().read_to_string().unwrap();
            assert!(
                body.contains("per_source") && body.contains("nothing was done"),
                "{body}"
            );
        }
    }
    // The open above took one of the burst.
    assert!(refused >= 14, "{refused} of 20 refused");
    assert!(retry_after >= 1);
    let recorded = api.count(&inc, "note") - before;
    assert_eq!(
        recorded as u64,
        20 - refused,
        "every refused request recorded nothing"
    );
    // Reads are not limited; after Retry-After the address is served again.
    assert_eq!(api.get(&format!("/api/v1/incidents/{inc}")).0, 200);
    std::thread::sleep(Duration::from_secs(retry_after));
    api.ok("carol", "note after waiting", Some(&inc));
    assert_eq!(server.gauge("warroom_http_rate_limited_total"), refused);
}

#[test]
fn unauthenticated_bodies_cannot_hold_more_memory_than_set_aside_and_are_told_to_retry() {
    let (_s, server) = server_with("body_timeout = \"30s\"");
    let api = Api::new(&server.addr);
    let inc = api.open_incident("big bodies");
    // Twenty senders from one address start 1 MB alert bodies, with no credentials, and
    // trickle them: a signed intake's signature covers the body, so it is read before the
    // check. Sixteen fit what one address may hold (16 MiB); four are answered at once.
    let mut conns: Vec<(TcpStream, Vec<u8>)> = (0..20)
        .map(|_| {
            let mut c = TcpStream::connect(&server.addr).unwrap();
            write!(
                c,
                "POST /alerts/guardduty HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{{"
            )
            .unwrap();
            c.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
            (c, Vec::new())
        })
        .collect();
    // Answers come with the connection left open (their bodies were never read): read what
    // arrives rather than to the end.
    let refused = wait_for("four bodies past the bound to be refused", 10, || {
        for (c, got) in &mut conns {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = c.read(&mut buf) {
                got.extend_from_slice(&buf[..n]);
            }
        }
        let answered: Vec<String> = conns
            .iter()
            .filter(|(_, got)| got.ends_with(b"}"))
            .map(|(_, got)| String::from_utf8_lossy(got).into_owned())
            .collect();
        (answered.len() >= 4).then_some(answered)
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(refused.len(), 4, "{refused:#?}");
    for answer in &refused {
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        assert!(
            answer.to_ascii_lowercase().contains("retry-after: 1"),
            "{answer}"
        );
        assert!(
            answer.contains("too many request bodies are being read from this address"),
            "{answer}"
        );
    }
    assert_eq!(server.gauge("warroom_http_bodies_refused_total"), 4);
    // Once they end, the same address is served again.
    drop(conns);
    let (code, reply) = wait_for("a command once the bodies ended", 10, || {
        let got = api.command("carol", "note after the big bodies", Some(&inc));
        (got.0 == 200).then_some(got)
    });
    assert_eq!(code, 200, "{reply}");
}
