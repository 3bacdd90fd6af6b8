//! `--log-format json`: every line warroom writes to stderr is one JSON object a collector can
//! parse, and each ledger write is logged with its incident and request.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use warroom_tests::Scratch;
use warroom_tests::api::Api;

#[test]
fn json_logs_are_json_on_every_line_with_incident_and_request_ids() {
    let s = Scratch::new();
    let mut child = s
        .command(&["--log-format", "json", "serve", "--listen", "127.0.0.1:0"])
        .env("WARROOM_LOG", "info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("warroom serve listens");
        lines.push(line.clone());
        let v: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if let Some(rest) = v["fields"]["message"]
            .as_str()
            .and_then(|m| m.strip_prefix("listening on http://"))
        {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    let api = Api::new(&addr);
    let inc = api.open_incident("json logs");
    api.ok(
        "alice",
        "quarantine pod payments/api-7f9c --reason shell",
        Some(&inc),
    );
    api.ok("bob", "approve R1", Some(&inc));
    // The executed entry is the last write: wait for its line.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !lines.iter().any(|l| l.contains("request.executed")) {
        if let Ok(l) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            lines.push(l);
        } else {
            panic!("no request.executed line: {lines:#?}");
        }
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
    while let Ok(l) = rx.recv_timeout(Duration::from_millis(500)) {
        lines.push(l);
    }

    let parsed: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    for v in &parsed {
        assert!(v["timestamp"].is_string() && v["level"].is_string(), "{v}");
    }
    let recorded: Vec<&Value> = parsed
        .iter()
        .filter(|v| v["fields"]["message"] == "recorded")
        .collect();
    let kinds: Vec<&str> = recorded
        .iter()
        .filter_map(|v| v["fields"]["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "incident.opened",
            "request.opened",
            "request.approved",
            "request.executing",
            "request.executed"
        ],
        "{recorded:#?}"
    );
    for v in &recorded {
        assert_eq!(v["fields"]["incident"], inc.as_str(), "{v}");
    }
    for v in &recorded[1..] {
        assert_eq!(v["fields"]["request"], "R1", "{v}");
    }
    assert!(
        parsed.iter().any(|v| v["fields"]["message"] == "stopped"),
        "the stop is logged too"
    );
}
