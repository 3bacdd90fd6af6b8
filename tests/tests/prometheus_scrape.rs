//! A real Prometheus (Debian's `prometheus`) scrapes `warroom serve`'s `/metrics` while two
//! people handle an incident, and a query for each headline metric returns a value.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use warroom_tests::api::Api;
use warroom_tests::{Peer, Scratch, Server, free_port, wait_for_port};

/// Run `q`; its result. While Prometheus is still starting (it listens before its storage is
/// ready and answers that in plain text) the query is asked again.
fn query(prom: &str, q: &str) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let body = loop {
        let mut resp = warroom_tests::agent()
            .get(&format!("{prom}/api/v1/query"))
            .query("query", q)
            .call()
            .expect("Prometheus answers queries");
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        match serde_json::from_str::<Value>(&text) {
            Ok(v) if status != 503 => break v,
            _ => {
                assert!(Instant::now() < deadline, "{q}: {status} {text}");
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    };
    assert_eq!(body["status"], "success", "{q}: {body}");
    body["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The value of the first series `q` returns, once Prometheus has one.
fn value(prom: &str, q: &str) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        if let Some(v) = query(prom, q)
            .first()
            .and_then(|s| s["value"][1].as_str().and_then(|v| v.parse().ok()))
        {
            return v;
        }
        assert!(Instant::now() < deadline, "no value for {q}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Prometheus scraping `target` every second; (the process, its base URL).
fn start_prometheus(s: &Scratch, target: &str) -> (Peer, String) {
    let port = free_port();
    let config = s.write(
        "prometheus.yml",
        &format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: warroom\n    static_configs:\n      - targets: [\"{target}\"]\n"
        ),
    );
    let prometheus = Peer(
        Command::new("prometheus")
            .args([
                &format!("--config.file={}", config.display()),
                &format!(
                    "--storage.tsdb.path={}",
                    s.path().join("prom-data").display()
                ),
                &format!("--web.listen-address=127.0.0.1:{port}"),
                "--log.level=warn",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus must be installed: scripts/test.sh installs it"),
    );
    wait_for_port(port);
    (prometheus, format!("http://127.0.0.1:{port}"))
}

#[test]
fn prometheus_scrapes_every_headline_metric() {
    let s = Scratch::new();
    let server = Server::start(&s, &[]);
    let api = Api::new(&server.addr);
    let inc = api.open_incident("shell in payments api");
    api.capture_and_quarantine_suspect(&inc);
    api.ok(
        "alice",
        "label pod payments/api-9x7q team=forensics --reason mark",
        Some(&inc),
    );
    api.ok("bob", "deny R3 not needed", Some(&inc));
    api.ok("carol", "page platform come and look", Some(&inc));

    let (_prometheus, prom) = start_prometheus(&s, &server.addr);

    // The scrape itself succeeds: Prometheus accepts the exposition format.
    assert_eq!(value(&prom, "up{job=\"warroom\"}"), 1.0);
    assert_eq!(value(&prom, "warroom_ready"), 1.0);
    assert_eq!(value(&prom, "warroom_ledger_writable"), 1.0);
    assert_eq!(value(&prom, "warroom_incidents{status=\"open\"}"), 1.0);
    assert!(value(&prom, "sum(warroom_commands_total)") >= 7.0);
    assert_eq!(
        value(&prom, "warroom_requests_total{action=\"quarantine\"}"),
        1.0
    );
    assert_eq!(
        value(
            &prom,
            "warroom_request_decisions_total{outcome=\"approved\"}"
        ),
        1.0
    );
    assert_eq!(
        value(&prom, "warroom_request_decisions_total{outcome=\"denied\"}"),
        1.0
    );
    assert_eq!(
        value(
            &prom,
            "warroom_actions_total{action=\"quarantine\",result=\"executed\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &prom,
            "warroom_actions_total{action=\"capture\",result=\"executed\"}"
        ),
        1.0
    );
    assert!(value(&prom, "sum(warroom_pages_total)") >= 1.0);
    assert!(value(&prom, "sum(warroom_alerts_total)") >= 0.0);
    // Histograms: every acknowledged write went through a group commit and its fdatasync.
    let commits = value(&prom, "warroom_ledger_commit_seconds_count");
    assert!(commits >= 8.0, "{commits}");
    assert!(value(&prom, "warroom_ledger_fsync_seconds_count") >= commits);
    let p99 = value(
        &prom,
        "histogram_quantile(0.99, warroom_ledger_fsync_seconds_bucket)",
    );
    assert!(p99.is_finite() && p99 > 0.0, "{p99}");
    assert!(value(&prom, "warroom_ledger_batch_writes_sum") >= commits);
    // Once writes pause for a second, a checkpoint retires the journal, and how long it held
    // writes back is measured (the query has no value until one has run).
    assert!(value(&prom, "warroom_ledger_checkpoint_seconds_count > 0") >= 1.0);
}

/// Every query of the shipped Grafana dashboard, run by Prometheus against a warroom that has
/// done some work: each parses and names only metrics warroom serves.
#[test]
fn the_grafana_dashboard_queries_only_what_warroom_serves() {
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(warroom_tests::repo_root().join("deploy/grafana/warroom.json"))
            .unwrap(),
    )
    .unwrap();
    let s = Scratch::new();
    let server = Server::start(&s, &[]);
    let api = Api::new(&server.addr);
    let inc = api.open_incident("dashboard");
    api.ok("alice", "note looking", Some(&inc));
    let (_, metrics) = server.get("/metrics");
    let served: std::collections::BTreeSet<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("# TYPE "))
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    let (_prometheus, prom) = start_prometheus(&s, &server.addr);
    let mut exprs = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            query(&prom, expr);
            let names: Vec<&str> = expr
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("warroom_"))
                .collect();
            assert!(!names.is_empty(), "{expr}");
            for name in names {
                let family = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s))
                    .unwrap_or(name);
                assert!(
                    served.contains(name) || served.contains(family),
                    "{} queries {name}, which /metrics does not serve",
                    panel["title"]
                );
            }
            exprs += 1;
        }
    }
    assert!(exprs >= 13, "{exprs}");
}
