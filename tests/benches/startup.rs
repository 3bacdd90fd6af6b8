//! Time to ready with a full ledger: a server holding 10,000 incidents is stopped and started
//! again, and the time from spawning the process until `/readyz` answers 200 is measured
//! (goal < 300 ms), with the resident memory once it is idle (goal < 20 MB).
//!
//! Run: `cargo build --release -p warroom && cargo bench -p warroom-tests --bench startup`
//! Options: `-- --incidents 10000 --restarts 5 --json FILE`.
//!
//! The incidents are opened through the API by 8 closed-loop clients, each durable before
//! its reply; the ledger is checked intact after the last restart.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use warroom_tests::api::{Api, UNLIMITED, plan_with};
use warroom_tests::load::{
    Conn, Req, arg, memory_kib, resident_split_kib, save_results, startup_order_coverage,
};
use warroom_tests::{Scratch, Server, http_get, warroom_bin};

fn open(n: usize) -> Req {
    Req {
        path: "/api/v1/command".into(),
        content_type: "application/json",
        headers: String::new(),
        body: format!(
            r#"{{"person":"alice","text":"incident open \"startup {n}\" --severity sev3"}}"#
        ),
    }
}

/// Open `count` incidents over 8 connections; returns how long it took.
fn fill(addr: &str, count: usize) -> Duration {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (addr, next) = (addr.to_owned(), next.clone());
            std::thread::spawn(move || {
                let mut conn = Conn::open(&addr);
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= count {
                        break;
                    }
                    let (status, body) = conn.post(&open(n));
                    assert!(status == 200 && body.contains("opened"), "{status} {body}");
                }
            })
        })
        .collect();
    for c in clients {
        c.join().expect("client");
    }
    started.elapsed()
}

/// Print each figure, their median and whether it is under `goal`; returns the median.
fn report(what: &str, figures: &[f64], unit: &str, goal: f64) -> f64 {
    let mut sorted = figures.to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let each: Vec<String> = figures.iter().map(|f| format!("{f:.1}")).collect();
    println!(
        "{what}: {} {unit} (median {median:.1} {unit}); goal < {goal} {unit}: {}",
        each.join(" / "),
        if median < goal { "MET" } else { "MISSED" }
    );
    median
}

fn main() {
    let incidents: usize = arg("--incidents").unwrap_or(10_000);
    let restarts: usize = arg("--restarts").unwrap_or(5);
    let s = Scratch::new();
    let plan = s.write(
        "plan.toml",
        &plan_with(&[("drill = false", "drill = true"), UNLIMITED]),
    );
    let args = ["--config", plan.to_str().unwrap()];
    let server = Server::start(&s, &args);
    let addr = server.addr.clone();
    server.wait_for("/readyz", 200, Duration::from_secs(30));
    let took = fill(&addr, incidents);
    println!(
        "opened {incidents} incidents in {:.1} s ({:.0}/s, each durable before its reply)",
        took.as_secs_f64(),
        incidents as f64 / took.as_secs_f64()
    );
    drop(server);

    let mut ready = Vec::new();
    let mut idle = Vec::new();
    let mut split = (0, 0);
    for _ in 0..restarts {
        let spawned = Instant::now();
        let server = Server::restart_at(&s, &addr, &args);
        while http_get(&addr, "/readyz").0 != 200 {
            assert!(
                spawned.elapsed() < Duration::from_secs(60),
                "not ready within a minute: {}",
                server.output()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        ready.push(spawned.elapsed());
        std::thread::sleep(Duration::from_secs(2));
        idle.push(memory_kib(server.child.id()).1 as f64 / 1024.0);
        split = resident_split_kib(server.child.id());
        let api = Api::new(&addr);
        let (_, list) = api.get("/api/v1/incidents");
        let listed = list["incidents"].as_array().map(Vec::len).unwrap_or(0);
        assert!(
            listed >= incidents,
            "{listed} incidents listed of {incidents}"
        );
    }
    let api_server = Server::restart_at(&s, &addr, &args);
    let (_, v) = Api::new(&api_server.addr).get("/api/v1/ledger/verify");
    let ms: Vec<f64> = ready.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    let median = report(
        &format!("spawn → /readyz 200 with {incidents} incidents, {restarts} restarts"),
        &ms,
        "ms",
        300.0,
    );
    let idle_median = report(
        &format!("idle RSS after each start, {incidents} incidents in the ledger"),
        &idle,
        "MB",
        20.0,
    );
    let mb = |kib: u64| kib as f64 / 1024.0;
    println!(
        "  the last: {:.1} MB anonymous (heap, stacks, the ledger's cache), {:.1} MB file pages (code)",
        mb(split.0),
        mb(split.1)
    );
    let coverage = startup_order_coverage(&warroom_bin());
    match coverage {
        Some((found, of)) => println!(
            "release link's start order: {found} of {of} names in the binary{}",
            if found * 10 < of * 9 {
                " (stale: run scripts/startup-order.py)"
            } else {
                ""
            }
        ),
        None => println!("release link's start order: nm could not read the binary"),
    }
    println!(
        "ledger after the runs: intact={} entries={}",
        v["intact"], v["entries"]
    );
    save_results(&serde_json::json!({
        "incidents": incidents,
        "ready_ms": ms,
        "ready_median_ms": median,
        "idle_rss_mb": idle,
        "idle_rss_median_mb": idle_median,
        "idle_anon_mb": mb(split.0),
        "idle_file_mb": mb(split.1),
        "startup_order_names": coverage.map(|(found, of)| serde_json::json!({"found": found, "of": of})),
        "ledger": {"intact": v["intact"], "entries": v["entries"]},
    }));
}
