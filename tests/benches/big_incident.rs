//! A write's cost must not grow with its incident: durable `note` throughput on an incident
//! with no requests and, in the same run, on one with 500 requests in it.
//!
//! Run: `cargo build --release -p warroom && cargo bench -p warroom-tests --bench big_incident`
//! Options: `-- --seconds 10 --requests 500 --clients 1,8`.
//!
//! Closed loop: each client sends its next note when the previous one was answered
//! "recorded" (durable before the reply). Goal: the big incident within 20 % of the empty one.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use warroom_tests::Scratch;
use warroom_tests::api::Api;
use warroom_tests::load::{Conn, Req, arg};

fn note(incident: &str, w: usize, n: u64) -> Req {
    Req {
        path: "/api/v1/command".into(),
        content_type: "application/json",
        headers: String::new(),
        body: format!(r#"{{"person":"alice","incident":"{incident}","text":"note load {w}-{n}"}}"#),
    }
}

/// Notes per second from `clients` closed-loop clients for `seconds`.
fn throughput(addr: &str, incident: &str, clients: usize, seconds: u64) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(seconds);
    let threads: Vec<_> = (0..clients)
        .map(|w| {
            let (addr, incident, done) = (addr.to_owned(), incident.to_owned(), done.clone());
            std::thread::spawn(move || {
                let mut conn = Conn::open(&addr);
                let mut n = 0;
                while Instant::now() < until {
                    let (status, body) = conn.post(&note(&incident, w, n));
                    assert!(
                        status == 200 && body.contains("recorded"),
                        "{status} {body}"
                    );
                    done.fetch_add(1, Ordering::Relaxed);
                    n += 1;
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / seconds as f64
}

fn main() {
    let seconds: u64 = arg("--seconds").unwrap_or(10);
    let requests: usize = arg("--requests").unwrap_or(500);
    let clients: String = arg("--clients").unwrap_or_else(|| "1,8".to_owned());
    let s = Scratch::new();
    // The load comes from one address.
    let plan = s.write(
        "plan.toml",
        &warroom_tests::api::plan_with(&[
            ("drill = false", "drill = true"),
            warroom_tests::api::UNLIMITED,
        ]),
    );
    let server = warroom_tests::Server::start(&s, &["--config", plan.to_str().unwrap()]);
    let api = Api::new(&server.addr);
    let empty = api.open_incident("no requests");
    let big = api.open_incident("many requests");
    // Requests that stay in the record: asked for, then cancelled (a pending one per target
    // at a time).
    for n in 0..requests {
        let r = api.ok(
            "alice",
            &format!("label pod payments/api-7f9c team=t{n} --reason \"bench {n}\""),
            Some(&big),
        );
        let id = r["request_id"].as_str().unwrap().to_owned();
        api.ok("alice", &format!("cancel {id}"), Some(&big));
    }
    let (_, record) = api.get(&format!("/api/v1/incidents/{big}"));
    let held = record["incident"]["requests"]
        .as_array()
        .map_or(0, Vec::len);
    let bytes = record["incident"].to_string().len();
    println!(
        "warroom note throughput by incident size (durable before the reply), {seconds} s per phase"
    );
    println!("incident with {held} requests: its record is {bytes} bytes of JSON");
    for c in clients
        .split(',')
        .filter_map(|c| c.trim().parse::<usize>().ok())
    {
        // Empty, big, empty again: the ledger grows during the run, so the big incident is
        // compared with the mean of the phases around it.
        let a1 = throughput(&server.addr, &empty, c, seconds);
        let b = throughput(&server.addr, &big, c, seconds);
        let a2 = throughput(&server.addr, &empty, c, seconds);
        let a = (a1 + a2) / 2.0;
        let ratio = b / a;
        println!(
            "{c} client(s): 0 requests {a1:.0} then {a2:.0} notes/s, {held} requests {b:.0} notes/s ({:.0} % of their mean); goal within 20 %: {}",
            ratio * 100.0,
            if ratio >= 0.8 { "MET" } else { "MISSED" }
        );
    }
    let (_, v) = api.get("/api/v1/ledger/verify?skip_evidence=true");
    println!(
        "ledger after the run: intact={} entries={}",
        v["intact"], v["entries"]
    );
}
