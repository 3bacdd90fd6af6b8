//! The game day's live scorecard in the console, in a real headless Chromium, and its timeline
//! chart opened as an image by the same browser.

use std::time::Duration;

use serde_json::json;
use warroom_tests::api::Api;
use warroom_tests::webdriver::Browser;
use warroom_tests::{Scratch, Server, wait_for};

const WAIT: Duration = Duration::from_secs(30);
const ENTER: &str = "\u{E007}";

fn measure_cell(b: &Browser, measure: &str, cell: &str) -> String {
    b.execute(
        "const td = document.querySelector(`#gameday-measures tr[data-measure=\"${arguments[0]}\"] td.${arguments[1]}`); return td ? td.textContent : '';",
        &[json!(measure), json!(cell)],
    )
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

#[test]
fn the_console_shows_the_scorecard_live_and_the_chart_is_an_image_with_every_mark() {
    let s = Scratch::new();
    let server = Server::start_command(
        &s,
        "drill",
        &["--scenario", "payments-breach", "--manual-clock"],
        &[],
    );
    let api = Api::new(&server.addr);
    let advance = |by: &str| {
        let (status, r) = api.post_json(
            "/api/v1/drill/clock",
            None,
            &json!({ "advance": by }).to_string(),
        );
        assert_eq!(status, 200, "{r}");
    };
    let inc = wait_for("the script's alert to open an incident", 20, || {
        let (_, list) = api.get("/api/v1/incidents");
        list["incidents"][0]["id"].as_str().map(str::to_owned)
    });

    let b = Browser::start();
    b.goto(&format!("http://{}/#{inc}", server.addr));
    b.wait_for("#person option[value=\"alice\"]", WAIT);
    b.select_by_value("#person", "alice");
    b.wait_until("the game day panel", WAIT, |b| {
        b.displayed(&b.find("#gameday")) && b.text_of("#gameday-title").contains("payments-breach")
    });
    assert_eq!(measure_cell(&b, "acknowledge", "time"), "not reached");
    assert!(b.text_of("#gameday-state").contains("manual clock"));

    // One minute in, alice acknowledges from the console's command box.
    advance("1m");
    let input = b.find("#command");
    b.send_keys(&input, &format!("ack{ENTER}"));
    b.wait_until("the acknowledgement on the scorecard", WAIT, |b| {
        measure_cell(b, "acknowledge", "time") == "1m 00s"
    });
    assert_eq!(measure_cell(&b, "acknowledge", "verdict.met"), "met");

    // Nobody isolates the pod: at 10 minutes the attacker moves, and the panel says so.
    advance("10m");
    b.wait_for("#gameday-flags li[data-kind=\"lateral\"]", WAIT);
    let flag = b.text_of("#gameday-flags li[data-kind=\"lateral\"]");
    assert!(flag.starts_with("10m 00s — attacker moved:"), "{flag}");
    assert!(
        flag.contains("`quarantine pod payments/api-7f9c` was not done within 10m 00s"),
        "{flag}"
    );
    assert_eq!(measure_cell(&b, "contain", "time"), "not reached");

    // The chart, as the browser renders it: an SVG document with one mark per timeline event.
    let (_, card) = api.get("/api/v1/drill/scorecard");
    let events = card["timeline"].as_array().map(Vec::len).unwrap_or(0);
    assert!(events > 5, "{card}");
    b.goto(&format!(
        "http://{}/api/v1/drill/scorecard.svg",
        server.addr
    ));
    let shown = b.execute(
        "return [document.documentElement.namespaceURI, document.querySelectorAll('.mark').length, document.documentElement.getBBox().width > 0];",
        &[],
    );
    assert_eq!(
        shown,
        json!(["http://www.w3.org/2000/svg", events, true]),
        "{card}"
    );
}
