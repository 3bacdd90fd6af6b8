//! Values from outside cannot forge log lines: newlines, ANSI escapes and NUL in a person's
//! name are escaped in text logs, and every line of `--log-format json` is one JSON object.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use warroom_tests::Scratch;
use warroom_tests::api::Api;

const FORGED: &str =
    "mallory\n2026-11-30T02:00:00.000000Z  INFO warroom: approved by bob\u{1b}[2K\u{1b}[1A\0";

/// `warroom serve` logging at info into a file; returns the child, its address and the file.
fn serve_logging_to_file(s: &Scratch, format: &str) -> (Child, String, std::path::PathBuf) {
    let log = s.path().join(format!("serve-{format}.log"));
    let child = s
        .command(&["serve", "--listen", "127.0.0.1:0", "--log-format", format])
        .env("WARROOM_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(rest) = text.split("listening on http://").nth(1) {
            break rest
                .split(|c: char| c.is_whitespace() || c == '"')
                .next()
                .unwrap()
                .to_owned();
        }
        assert!(Instant::now() < deadline, "serve did not start: {text}");
        std::thread::sleep(Duration::from_millis(50));
    };
    (child, addr, log)
}

fn send_forged_person(addr: &str) {
    let api = Api::new(addr);
    let (status, _) = api.post_json(
        "/api/v1/command",
        None,
        &json!({"person": FORGED, "text": "incident open \"x\""}).to_string(),
    );
    assert_eq!(status, 403);
}

/// What `warroom serve --log-format FORMAT` logged around one command from `FORGED`.
fn log_of_forged_person(format: &str) -> String {
    let s = Scratch::new();
    let (mut child, addr, log) = serve_logging_to_file(&s, format);
    send_forged_person(&addr);
    std::thread::sleep(Duration::from_millis(300));
    let _ = child.kill();
    let _ = child.wait();
    std::fs::read_to_string(&log).unwrap()
}

#[test]
fn text_logs_escape_newlines_ansi_and_nul_from_outside() {
    let text = log_of_forged_person("text");
    assert!(text.contains("mallory\\n2026-11-30T02:00:00"), "{text}");
    assert!(
        text.contains("\\u{1b}[2K") && text.contains("\\u{0}"),
        "{text}"
    );
    for line in text.lines() {
        assert!(
            !line.starts_with("2026-11-30T02:00:00"),
            "forged line: {line}"
        );
        assert!(
            !line.contains('\u{1b}') && !line.contains('\0'),
            "raw control: {line:?}"
        );
    }
}

#[test]
fn json_logs_are_one_object_per_line() {
    let text = log_of_forged_person("json");
    let mut found = false;
    for line in text.lines().filter(|l| l.starts_with('{')) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        if v["fields"]["person"] == FORGED {
            found = true;
        }
    }
    assert!(
        found,
        "the refusal is logged with the person as sent: {text}"
    );
}
