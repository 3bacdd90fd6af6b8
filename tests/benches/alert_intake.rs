//! Alert intake, side by side with Prometheus Alertmanager's own intake, in one run, fed by
//! the same load generator:
//! (a) a storm of 100,000 alerts over 50 fingerprints in batches of 100 — warroom's
//!     `/alerts/alertmanager` (webhook format) against Alertmanager's `/api/v2/alerts`;
//!     warroom must open exactly 50 incidents, each durably;
//! (b) single events as Falco posts them — warroom's `/alerts/falco` against one-alert posts
//!     to Alertmanager's `/api/v2/alerts`;
//! and the peak resident memory of both processes.
//!
//! Run: `cargo build --release -p warroom && cargo bench -p warroom-tests --bench alert_intake`
//! Options: `-- --alerts 100000 --singles 50000 --connections 8 --rounds 3`: the single
//! posts run in rounds, the order swapped each round, and the round with the median ratio
//! is the one judged (each round's figures are printed). Needs
//! `prometheus-alertmanager` (the test command installs it). `--json FILE` also writes the
//! figures as JSON.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warroom_tests::Scratch;
use warroom_tests::api::{Api, UNLIMITED, plan_with};
use warroom_tests::load::{Conn, Req, arg, memory_kib, resident_split_kib, save_results};

const TOKEN: &str = "bench-alert-token";
const FINGERPRINTS: usize = 50;

struct Options {
    alerts: usize,
    singles: usize,
    connections: usize,
    rounds: usize,
}

fn options() -> Options {
    Options {
        alerts: arg("--alerts").unwrap_or(100_000),
        singles: arg("--singles").unwrap_or(50_000),
        connections: arg("--connections").unwrap_or(8),
        rounds: arg("--rounds").unwrap_or(3).max(1),
    }
}

/// Send every request over `connections` keep-alive connections as fast as they are
/// answered; returns (elapsed, requests answered 2xx).
fn blast(addr: &str, requests: Arc<Vec<Req>>, connections: usize) -> (Duration, usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let ok = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let start = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (requests, next, ok, failures, addr) = (
                requests.clone(),
                next.clone(),
                ok.clone(),
                failures.clone(),
                addr.to_owned(),
            );
            std::thread::spawn(move || {
                let mut conn = Conn::open(&addr);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(r) = requests.get(i) else { break };
                    let (status, body) = conn.post(r);
                    if (200..300).contains(&status) {
                        ok.fetch_add(1, Ordering::Relaxed);
                    } else {
                        let mut f = failures.lock().unwrap();
                        if f.len() < 3 {
                            f.push(format!(
                                "{status}: {}",
                                body.chars().take(200).collect::<String>()
                            ));
                        }
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    let failures = failures.lock().unwrap();
    if !failures.is_empty() {
        eprintln!("  failures (first 3): {failures:?}");
    }
    (start.elapsed(), ok.load(Ordering::Relaxed))
}

fn storm_alert(i: usize) -> Value {
    json!({
        "labels": { "alertname": "AlertStorm", "namespace": "payments", "instance": format!("10.0.3.{}", i % FINGERPRINTS), "severity": "critical" },
        "annotations": { "summary": format!("storm on 10.0.3.{}", i % FINGERPRINTS) },
        "startsAt": "2026-11-27T02:00:00Z"
    })
}

fn main() {
    let o = options();
    let s = Scratch::new();
    let plan = plan_with(&[
        ("drill = false", "drill = true"),
        // Alertmanager's load comes from one address.
        UNLIMITED,
        (
            "[[alerts.rules]]\nname = \"ssh-from-outside-after-hours\"",
            "[[alerts.rules]]\nname = \"bench-storm\"\nsource = \"alertmanager\"\nmatch = { alertname = \"AlertStorm\" }\nseverity = \"sev3\"\n\n[[alerts.rules]]\nname = \"bench-falco\"\nsource = \"falco\"\nmatch = { rule = \"Terminal shell in container\" }\nseverity = \"sev3\"\n\n[[alerts.rules]]\nname = \"ssh-from-outside-after-hours\"",
        ),
        // Paging is not what is measured: no outside pagers.
        (
            "[paging.pagerduty]\nrouting_key = { env = \"PAGERDUTY_ROUTING_KEY\" }\n",
            "",
        ),
        (
            "[paging.webhook]\nurl = \"https://hooks.northwind.example/warroom/page\"\ntoken = { file = \"/run/secrets/page-webhook-token\" }\n",
            "",
        ),
        (
            "[paging.email]\nsmtp_host = \"smtp.northwind.example\"\nsmtp_port = 587\nfrom = \"warroom@northwind.example\"\nusername = \"warroom\"\npassword = { file = \"/run/secrets/smtp-password\" }\n",
            "",
        ),
    ]);
    let file = s.write("plan.toml", &plan);
    let server = warroom_tests::Server::start_with_env(
        &s,
        &["--config", file.to_str().unwrap()],
        &[
            ("WARROOM_ALERTMANAGER_TOKEN", TOKEN),
            ("WARROOM_FALCO_TOKEN", TOKEN),
            // Every secret an intake names must be readable, or that intake stays closed.
            ("WARROOM_FALCO_HMAC", "bench-hmac"),
        ],
    );
    let api = Api::new(&server.addr);

    let am_port = warroom_tests::free_port();
    let am_config = s.write(
        "alertmanager.yml",
        "route:\n  receiver: blackhole\n  group_by: [\"alertname\"]\nreceivers:\n  - name: blackhole\n",
    );
    let mut am = Command::new("prometheus-alertmanager")
        .args([
            &format!("--config.file={}", am_config.display()),
            &format!("--storage.path={}", s.path().join("am").display()),
            &format!("--web.listen-address=127.0.0.1:{am_port}"),
            "--cluster.listen-address=",
            "--log.level=error",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus-alertmanager (Debian package) must be installed");
    let am_addr = format!("127.0.0.1:{am_port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(&am_addr).is_err() {
        assert!(Instant::now() < deadline, "Alertmanager did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    let warroom_pid = server.child.id();
    let idle = (memory_kib(warroom_pid).1, memory_kib(am.id()).1);
    let idle_split = resident_split_kib(warroom_pid);

    // (a) The storm, in batches of 100.
    let batches = o.alerts / 100;
    let auth = format!("Authorization: Bearer {TOKEN}\r\n");
    let warroom_storm: Vec<Req> = (0..batches)
        .map(|b| {
            let alerts: Vec<Value> = (0..100)
                .map(|j| {
                    let mut a = storm_alert(b * 100 + j);
                    a["status"] = json!("firing");
                    a
                })
                .collect();
            Req {
                path: "/alerts/alertmanager".into(),
                content_type: "application/json",
                headers: auth.clone(),
                body: json!({"version": "4", "status": "firing", "receiver": "warroom", "alerts": alerts}).to_string(),
            }
        })
        .collect();
    let am_storm: Vec<Req> = (0..batches)
        .map(|b| Req {
            path: "/api/v2/alerts".into(),
            content_type: "application/json",
            headers: String::new(),
            body: Value::Array((0..100).map(|j| storm_alert(b * 100 + j)).collect()).to_string(),
        })
        .collect();
    let falco = |i: usize| {
        format!(
            r#"{{"output":"A shell was spawned in a container","priority":"Warning","rule":"Terminal shell in container","source":"syscall","time":"2026-11-27T02:00:00.000000000Z","output_fields":{{"container.id":"c{0}","k8s.ns.name":"payments","k8s.pod.name":"api-{0}","proc.cmdline":"sh","user.name":"root"}}}}"#,
            i % FINGERPRINTS
        )
    };
    let warroom_singles: Arc<Vec<Req>> = (0..o.singles)
        .map(|i| Req {
            path: "/alerts/falco".into(),
            content_type: "application/json",
            headers: auth.clone(),
            body: falco(i),
        })
        .collect::<Vec<_>>()
        .into();
    let am_singles: Arc<Vec<Req>> = (0..o.singles)
        .map(|i| Req {
            path: "/api/v2/alerts".into(),
            content_type: "application/json",
            headers: String::new(),
            body: json!([storm_alert(i)]).to_string(),
        })
        .collect::<Vec<_>>()
        .into();

    println!(
        "alert intake, warroom vs Prometheus Alertmanager {}, {} connections each",
        alertmanager_version(),
        o.connections
    );
    let (w_t, w_ok) = blast(&server.addr, Arc::new(warroom_storm), o.connections);
    let (a_t, a_ok) = blast(&am_addr, Arc::new(am_storm), o.connections);
    let rate = |n: usize, t: Duration| n as f64 / t.as_secs_f64();
    let (w_storm, a_storm) = (rate(w_ok * 100, w_t), rate(a_ok * 100, a_t));
    let incidents = api.get("/api/v1/incidents").1["incidents"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0);
    println!(
        "(a) storm of {} alerts / {FINGERPRINTS} fingerprints, batches of 100:\n    warroom      {:>9.0} alerts/s ({} of {batches} batches 2xx, {:.2} s) → {incidents} incidents (expect {FINGERPRINTS})\n    alertmanager {:>9.0} alerts/s ({} of {batches} batches 2xx, {:.2} s)\n    ratio warroom/alertmanager {:.2}",
        o.alerts,
        w_storm,
        w_ok,
        w_t.as_secs_f64(),
        a_storm,
        a_ok,
        a_t.as_secs_f64(),
        w_storm / a_storm
    );
    // Single posts in rounds, the order swapped each round: their ratio sits near its goal
    // and the machine's speed drifts between runs, so one pass would be a coin toss. The
    // ratio is taken within each round and the median round is judged.
    let mut rounds: Vec<(f64, f64)> = Vec::with_capacity(o.rounds);
    for n in 0..o.rounds {
        let warroom = || {
            let (t, ok) = blast(&server.addr, warroom_singles.clone(), o.connections);
            (rate(ok, t), ok)
        };
        let alertmanager = || {
            let (t, ok) = blast(&am_addr, am_singles.clone(), o.connections);
            (rate(ok, t), ok)
        };
        let ((w, w_ok), (a, a_ok)) = if n % 2 == 0 {
            let w = warroom();
            (w, alertmanager())
        } else {
            let a = alertmanager();
            (warroom(), a)
        };
        assert!(
            w_ok == o.singles && a_ok == o.singles,
            "round {}: every single post must be answered 2xx (warroom {w_ok}, Alertmanager {a_ok} of {})",
            n + 1,
            o.singles
        );
        rounds.push((w, a));
    }
    let mut by_ratio = rounds.clone();
    by_ratio.sort_by(|x, y| (x.0 / x.1).total_cmp(&(y.0 / y.1)));
    let (w_single, a_single) = by_ratio[(by_ratio.len() - 1) / 2];
    println!(
        "(b) {} single posts per side in each of {} rounds (Falco events to warroom, one-alert posts to Alertmanager):",
        o.singles, o.rounds
    );
    for (n, (w, a)) in rounds.iter().enumerate() {
        println!(
            "    round {}{}: warroom {:>9.0} requests/s, alertmanager {:>9.0} requests/s, ratio {:.2}",
            n + 1,
            if n % 2 == 0 {
                " (warroom first)"
            } else {
                " (Alertmanager first)"
            },
            w,
            a,
            w / a
        );
    }
    println!(
        "    median round: warroom {w_single:.0} requests/s, alertmanager {a_single:.0} requests/s\n    ratio warroom/alertmanager {:.2}",
        w_single / a_single
    );
    let (w_peak, _) = memory_kib(warroom_pid);
    let (a_peak, _) = memory_kib(am.id());
    println!(
        "memory: idle RSS warroom {:.1} MB, alertmanager {:.1} MB; peak RSS warroom {:.1} MB, alertmanager {:.1} MB",
        idle.0 as f64 / 1024.0,
        idle.1 as f64 / 1024.0,
        w_peak as f64 / 1024.0,
        a_peak as f64 / 1024.0
    );
    println!(
        "  warroom idle: {:.1} MB anonymous (heap, stacks, relocated data), {:.1} MB file pages (code and read-only data)",
        idle_split.0 as f64 / 1024.0,
        idle_split.1 as f64 / 1024.0
    );
    let (_, v) = api.get("/api/v1/ledger/verify");
    println!(
        "ledger after the run: intact={} entries={}",
        v["intact"], v["entries"]
    );
    let mb = |kib: u64| kib as f64 / 1024.0;
    save_results(&json!({
        "alertmanager_version": alertmanager_version(),
        "connections": o.connections,
        "storm": {
            "alerts": o.alerts, "fingerprints": FINGERPRINTS,
            "warroom_per_second": w_storm, "alertmanager_per_second": a_storm,
            "incidents": incidents,
        },
        "singles": {
            "posts": o.singles,
            "rounds": rounds.iter().map(|(w, a)| json!({"warroom_per_second": w, "alertmanager_per_second": a})).collect::<Vec<_>>(),
            // The round whose ratio is the median.
            "warroom_per_second": w_single, "alertmanager_per_second": a_single,
        },
        "rss_mb": {
            "warroom_idle": mb(idle.0), "alertmanager_idle": mb(idle.1),
            "warroom_peak": mb(w_peak), "alertmanager_peak": mb(a_peak),
            "warroom_idle_anon": mb(idle_split.0), "warroom_idle_file": mb(idle_split.1),
        },
        "ledger": {"intact": v["intact"], "entries": v["entries"]},
    }));
    let _ = am.kill();
    let _ = am.wait();
}

fn alertmanager_version() -> String {
    Command::new("prometheus-alertmanager")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            let text = String::from_utf8_lossy(&o.stdout).into_owned()
                + &String::from_utf8_lossy(&o.stderr);
            text.split_whitespace().nth(2).map(str::to_owned)
        })
        .unwrap_or_else(|| "?".into())
}
