//! The web console in a real browser: headless Chromium against `warroom serve`.

use std::time::Duration;

use warroom_tests::webdriver::Browser;
use warroom_tests::{Scratch, Server};

/// Generous: the server, chromedriver and Chromium share a small machine.
const WAIT: Duration = Duration::from_secs(30);
const ENTER: &str = "\u{E007}";

/// Replace what is in the command box with `text`, then send it with `how` (a click on
/// `#send`, or Enter).
fn type_command(b: &Browser, text: &str, how: Submit) {
    let input = b.find("#command");
    b.clear(&input);
    match how {
        Submit::Click => {
            b.send_keys(&input, text);
            b.click_css("#send", WAIT);
        }
        Submit::Enter => b.send_keys(&input, &format!("{text}{ENTER}")),
    }
}

/// The console token the plans' `WARROOM_TOKEN_ALICE` gives alice.
const ALICE_TOKEN: &str = "alice-console-token-for-tests";

/// `warroom serve` on `plan` (not a drill) with its own data folder and alice's token.
fn serve_with_alices_token(s: &Scratch, plan: &std::path::Path) -> Server {
    let data = s.path().join("data");
    Server::start_with_env(
        s,
        &[
            "--config",
            plan.to_str().expect("utf-8 path"),
            "--data",
            data.to_str().expect("utf-8 path"),
        ],
        &[("WARROOM_TOKEN_ALICE", ALICE_TOKEN)],
    )
}

enum Submit {
    Click,
    Enter,
}

/// Script errors only: a refused request also logs a SEVERE "Failed to load resource" line,
/// and refusals are part of these scenarios.
fn assert_no_script_errors(b: &Browser) {
    let errors: Vec<String> = b
        .console_errors()
        .into_iter()
        .filter(|m| !m.contains("Failed to load resource"))
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
}

#[test]
fn two_people_quarantine_a_pod_through_the_console() {
    let s = Scratch::new();
    let server = Server::start(&s, &[]);
    assert!(
        server
            .log
            .iter()
            .any(|l| l.contains("built-in example plan")),
        "runs on the built-in plan: {:?}",
        server.log
    );
    let b = Browser::start();
    b.goto(&format!("http://{}/", server.addr));

    b.wait_until("the drill banner", WAIT, |b| {
        b.text_of("#drill-banner").contains("DRILL MODE")
    });
    b.wait_for("#person option[value=\"alice\"]", WAIT);
    assert!(b.displayed(&b.find("#person")), "drill mode: pick a person");
    assert!(!b.displayed(&b.find("#token")), "drill mode: no token");
    b.select_by_value("#person", "alice");

    type_command(
        &b,
        r#"incident open "Shell in payments api" --severity sev1"#,
        Submit::Click,
    );
    // Read in one script: the list re-renders on live updates, so a held element can go stale.
    let selected = || {
        b.execute(
            "const el = document.querySelector('#incidents [data-incident][aria-current=\"true\"]'); return el ? el.dataset.incident : '';",
            &[],
        )
        .as_str()
        .unwrap_or_default()
        .to_owned()
    };
    b.wait_until("the opened incident to be selected", WAIT, |_| {
        !selected().is_empty()
    });
    let id = selected();
    assert!(id.starts_with("INC-"), "selected incident: {id:?}");
    b.wait_until("the opened incident in the channel header", WAIT, |b| {
        b.text_of("#incident-title")
            .contains("Shell in payments api")
    });

    type_command(
        &b,
        r#"quarantine pod payments/api-7f9c --reason "shell spawned""#,
        Submit::Enter,
    );
    b.wait_for(
        "#approvals [data-request=\"R1\"][data-status=\"pending\"]",
        WAIT,
    );
    let card = b.text_of("#approvals [data-request=\"R1\"]");
    for shown in [
        "quarantine",
        "payments/api-7f9c",
        "shell spawned",
        "alice",
        "0 / 1",
    ] {
        assert!(
            card.contains(shown),
            "request card shows {shown:?}:\n{card}"
        );
    }
    let head_before = b.text_of("#chain-head");
    assert_eq!(
        head_before.trim().len(),
        64,
        "full chain head: {head_before:?}"
    );

    // The requester cannot be the second person: her buttons are off, and the card names
    // who may decide instead of inviting a refused click.
    let approve = b.find("[data-approve=\"R1\"]");
    assert!(
        b.attribute(&approve, "disabled").is_some(),
        "alice's own request: Approve is disabled"
    );
    let needs = b.text_of("#approvals [data-request=\"R1\"] .req-needs");
    assert!(
        needs.contains("your request — needs 1 of: bob, carol, dave, erin")
            && needs.contains("roles: responder, security, commander, sre-lead"),
        "{needs}"
    );
    // Someone whose roles may not approve sees who may, and no live button either.
    b.select_by_value("#person", "frank");
    b.wait_until("frank's view of R1", WAIT, |b| {
        b.text_of("#approvals [data-request=\"R1\"] .req-needs")
            .starts_with("needs 1 of: bob")
    });
    let approve = b.find("[data-approve=\"R1\"]");
    assert!(b.attribute(&approve, "disabled").is_some());

    b.select_by_value("#person", "bob");
    b.wait_until("bob's live Approve button", WAIT, |b| {
        b.try_find("[data-approve=\"R1\"]:not([disabled])").is_ok()
    });
    b.click_css("[data-approve=\"R1\"]", WAIT);
    b.wait_until(
        "the timeline to record R1 approved and executed",
        WAIT,
        |b| {
            let timeline = b.text_of("#timeline");
            timeline.contains("R1 approved")
                && timeline.contains("R1 executed: isolated pod payments/api-7f9c")
        },
    );
    b.wait_until("the channel to say bob approved", WAIT, |b| {
        b.text_of("#messages").contains("approved by bob")
    });
    // Times are the plan's zone (Europe/Berlin: CET, CEST in summer), named, with UTC on
    // hover.
    let times = b.find_all("#timeline time");
    assert!(!times.is_empty(), "the timeline shows times");
    let shown = b.text(&times[0]);
    let iso = b.attribute(&times[0], "datetime").unwrap();
    let at: chrono::DateTime<chrono::Utc> = iso.parse().unwrap();
    let (zone, hours) = if shown.ends_with("CEST") {
        ("CEST", 2)
    } else {
        ("CET", 1)
    };
    let berlin = (at + chrono::Duration::hours(hours))
        .format("%H:%M:%S")
        .to_string();
    assert_eq!(shown, format!("{berlin} {zone}"), "{iso}");
    let hover = b.attribute(&times[0], "title").unwrap();
    assert!(hover.ends_with("Z (UTC)"), "{hover}");
    // The containment board shows the quarantined pod and how to undo it.
    b.wait_until("the board to show the quarantine", WAIT, |b| {
        let board = b.text_of("#board");
        board.contains("pod payments/api-7f9c quarantined")
            && board.contains("undo: release pod payments/api-7f9c")
    });
    let head_after = b.text_of("#chain-head");
    assert_eq!(
        head_after.trim().len(),
        64,
        "full chain head: {head_after:?}"
    );
    assert_ne!(head_after, head_before, "the chain grew");
    assert!(
        b.find_all("#approvals [data-status=\"pending\"]")
            .is_empty(),
        "nothing left waiting"
    );

    // The selection lives in the URL: a reload comes back to the same incident.
    b.refresh();
    b.wait_for(
        &format!("#incidents [data-incident=\"{id}\"][aria-current=\"true\"]"),
        WAIT,
    );
    b.wait_until("the incident's timeline after a reload", WAIT, |b| {
        b.text_of("#timeline").contains("R1 executed: isolated")
    });
    assert_no_script_errors(&b);
}

#[test]
fn console_outside_drill_mode_needs_a_token() {
    let s = Scratch::new();
    let plan_text = include_str!("../../config/examples/plan.toml");
    assert!(
        plan_text.contains("drill = false"),
        "the example plan is not a drill"
    );
    let plan = s.write("plan.toml", plan_text);
    let server = serve_with_alices_token(&s, &plan);
    let b = Browser::start();
    // Opened from a malformed link (pasted in chat): it names no incident, and the console
    // still starts.
    b.goto(&format!("http://{}/#/%E0", server.addr));

    b.wait_until("the token field", WAIT, |b| b.displayed(&b.find("#token")));
    assert!(!b.displayed(&b.find("#person")), "no person to pick");
    assert!(
        !b.displayed(&b.find("#drill-banner")),
        "not announced as a drill"
    );

    type_command(
        &b,
        r#"incident open "Shell in payments api" --severity sev1"#,
        Submit::Click,
    );
    b.wait_until("a refusal that asks for a token", WAIT, |b| {
        b.try_find("#reply.error").is_ok() && b.text_of("#reply").to_lowercase().contains("token")
    });

    // With alice's token the same command goes through, as alice.
    let token = b.find("#token");
    b.send_keys(&token, ALICE_TOKEN);
    b.click_css("#token-save", WAIT);
    type_command(
        &b,
        r#"incident open "Shell in payments api" --severity sev1"#,
        Submit::Click,
    );
    b.wait_for("#incidents [data-incident][aria-current=\"true\"]", WAIT);
    b.wait_until("the opening in the timeline, by alice", WAIT, |b| {
        let timeline = b.text_of("#timeline");
        timeline.contains("Incident opened (sev1)") && timeline.contains("alice")
    });
    b.wait_until("the live indicator", WAIT, |b| b.text_of("#live") == "live");
    assert_no_script_errors(&b);
}

#[test]
fn with_a_token_evidence_opens_and_downloads_and_no_url_on_the_page_carries_the_token() {
    let s = Scratch::new();
    // A cluster reached by kubeconfig, as a real one is: a drill's API server.
    let cluster = Server::start(&s, &[]);
    let drill = warroom_tests::drill::Drill::of(&cluster, "prod-eu");
    let kubeconfig = s.write("kubeconfig", &warroom_tests::kubeconfig_for(&drill.base));
    let plan = s.write(
        "plan.toml",
        &warroom_tests::plan_using_kubeconfig(&kubeconfig),
    );
    let alice = ALICE_TOKEN;
    let server = serve_with_alices_token(&s, &plan);
    let api = warroom_tests::api::Api::new(&server.addr);
    let command = |text: &str, inc: Option<&str>| {
        let mut body = serde_json::json!({ "text": text });
        if let Some(i) = inc {
            body["incident"] = i.into();
        }
        let (status, r) = api.post_json("/api/v1/command", Some(alice), &body.to_string());
        assert_eq!(status, 200, "{text}: {r}");
        r
    };
    let opened = command(r#"incident open "Shell in payments api""#, None);
    let inc = opened["incident"].as_str().unwrap().to_owned();
    command("capture pod payments/api-7f9c", Some(&inc));
    let (_, record) = api.get_with(&format!("/api/v1/incidents/{inc}"), Some(alice));
    let spec = record["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"].as_str().unwrap().ends_with("pod_spec.json"))
        .cloned()
        .unwrap_or_else(|| panic!("no pod spec captured: {record}"));
    let eid = spec["id"].as_str().unwrap().to_owned();
    let sha = spec["sha256"].as_str().unwrap().to_owned();

    let b = Browser::start();
    b.goto(&format!("http://{}/#/{inc}", server.addr));
    b.wait_until("the token field", WAIT, |b| b.displayed(&b.find("#token")));
    b.send_keys(&b.find("#token"), alice);
    b.click_css("#token-save", WAIT);
    b.wait_for(&format!("#evidence a[data-download=\"{eid}\"]"), WAIT);
    // No link, image or script address on the page carries the token.
    let leaked = b.execute(
        "return document.documentElement.outerHTML.includes(arguments[0]);",
        &[serde_json::json!(alice)],
    );
    assert_eq!(leaked, serde_json::json!(false), "the token is in the page");
    // Live updates arrive with the token in a header: the stream answers a token in its URL
    // with 400, so "live" and a pushed change mean the stream was opened without one.
    b.wait_until("the live indicator", WAIT, |b| b.text_of("#live") == "live");
    command("note seen live by the console", Some(&inc));
    b.wait_until("the note, pushed by the event stream", WAIT, |b| {
        text_now(b, "#timeline").contains("seen live by the console")
    });
    // No address the page fetched carried the token (a stream still open is not listed yet).
    let fetched = b.execute(
        "return performance.getEntriesByType('resource').map((e) => e.name);",
        &[],
    );
    assert!(
        fetched.as_array().is_some_and(|a| a.len() > 2) && !fetched.to_string().contains(alice),
        "{fetched}"
    );

    // Download: fetched with the token in a header, hashed again, compared with the ledger.
    b.click_css(&format!("#evidence a[data-download=\"{eid}\"]"), WAIT);
    b.wait_until("the download's hash check", WAIT, |b| {
        b.text_of("#reply")
            .contains(&format!("SHA-256 {sha} matches the ledger"))
    });

    // View: a new tab showing the JSON as text, at an address without the token.
    let (before, console) = b.windows();
    b.click_css(&format!("#evidence a[data-view=\"{eid}\"]"), WAIT);
    let deadline = std::time::Instant::now() + WAIT;
    let tab = loop {
        let (now, _) = b.windows();
        if let Some(t) = now.into_iter().find(|h| !before.contains(h)) {
            break t;
        }
        assert!(std::time::Instant::now() < deadline, "no tab opened");
        std::thread::sleep(Duration::from_millis(100));
    };
    b.switch_to(&tab);
    b.wait_until("the artifact in the new tab", WAIT, |b| {
        b.text_of("body").contains("\"name\": \"api-7f9c\"")
    });
    let address = b.execute("return location.href;", &[]);
    assert!(
        !address.as_str().unwrap_or_default().contains(alice),
        "{address}"
    );
    b.switch_to(&console);
    assert_no_script_errors(&b);
}

#[test]
fn on_a_phone_the_console_fits_filters_incidents_and_copies_what_responders_paste() {
    let s = Scratch::new();
    let server = Server::start(&s, &[]);
    let api = warroom_tests::api::Api::new(&server.addr);
    let first = api.open_incident("Shell in payments api");
    api.ok("alice", "note isolate first", Some(&first));
    let second = api.open_incident("Crypto miner on a node");
    api.ok("carol", "incident resolve miner gone", Some(&second));

    let b = Browser::start();
    b.set_window_size(390, 844);
    b.goto(&format!("http://{}/#/{first}", server.addr));
    b.wait_for(&format!("#incidents [data-incident=\"{second}\"]"), WAIT);
    b.wait_until("the incident's timeline", WAIT, |b| {
        b.text_of("#timeline").contains("isolate first")
    });
    // Nothing scrolls sideways, and the title does not sit over the incident list.
    let fit = b.execute(
        "const t = document.querySelector('header h1').getBoundingClientRect();
         const l = document.querySelector('#incidents').getBoundingClientRect();
         return { page: document.documentElement.scrollWidth, view: window.innerWidth,
                  titleBottom: t.bottom, listTop: l.top };",
        &[],
    );
    let at = |k: &str| fit[k].as_f64().unwrap_or_else(|| panic!("{k} in {fit}"));
    assert_eq!(at("view"), 390.0, "{fit}");
    assert!(
        at("page") <= at("view"),
        "no sideways scroll at 390 px: {fit}"
    );
    assert!(
        at("titleBottom") <= at("listTop"),
        "the title does not overlap the list: {fit}"
    );

    // Search and the state filter narrow the list.
    b.select_by_value("#incident-state", "resolved");
    b.wait_until("only the resolved incident", WAIT, |b| {
        let list = b.text_of("#incidents");
        list.contains("Crypto miner") && !list.contains("Shell in payments")
    });
    b.select_by_value("#incident-state", "");
    let search = b.find("#incident-search");
    b.send_keys(&search, "payments");
    b.wait_until("only the matching incident", WAIT, |b| {
        let list = b.text_of("#incidents");
        list.contains("Shell in payments") && !list.contains("Crypto miner")
    });

    // The chain head has a copy button, and pressing it says what was copied.
    b.wait_until("the chain head", WAIT, |b| {
        b.text_of("#chain-head").len() == 64
    });
    let head = b.text_of("#chain-head");
    b.click_css("#chain-copy", WAIT);
    b.wait_until("the copy to be confirmed", WAIT, |b| {
        b.text_of("#reply").contains(&format!("Copied: {head}"))
    });
    assert_no_script_errors(&b);
}

/// The text of every element a selector matches, read in one script: the lists re-render on
/// live updates.
fn text_now(b: &Browser, css: &str) -> String {
    b.execute(
        "return Array.from(document.querySelectorAll(arguments[0]), (el) => el.textContent).join('\\n');",
        &[serde_json::json!(css)],
    )
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

#[test]
fn evidence_opens_downloads_with_its_hash_checked_and_resolve_asks_before_leaving_things_contained()
{
    let s = Scratch::new();
    let server = Server::start(&s, &[]);
    let api = warroom_tests::api::Api::new(&server.addr);
    let inc = api.open_incident("Shell in payments api");
    api.ok("alice", "capture pod payments/api-7f9c", Some(&inc));
    api.ok(
        "alice",
        "cordon node ip-10-0-2-41.ec2.internal --reason \"same node\"",
        Some(&inc),
    );
    api.ok("bob", "approve R2", Some(&inc));
    api.ok(
        "alice",
        "quarantine pod payments/api-7f9c --reason \"shell spawned\"",
        Some(&inc),
    );
    let evidence = api.incident(&inc)["evidence"].as_array().cloned().unwrap();
    let spec = evidence
        .iter()
        .find(|e| e["name"].as_str().unwrap().ends_with("pod_spec.json"))
        .cloned()
        .unwrap();
    let eid = spec["id"].as_str().unwrap().to_owned();
    let sha = spec["sha256"].as_str().unwrap().to_owned();

    let b = Browser::start();
    b.set_window_size(1280, 900);
    b.goto(&format!("http://{}/#/{inc}", server.addr));
    b.wait_for("#person option[value=\"carol\"]", WAIT);
    b.select_by_value("#person", "carol");

    // The pending card shows the plan of change, computed before anyone approves.
    b.wait_for("#approvals [data-request=\"R3\"]", WAIT);
    let card = b.text_of("#approvals [data-request=\"R3\"]");
    assert!(
        card.contains(&format!(
            "will label pod payments/api-7f9c warroom.io/quarantine={inc} and create NetworkPolicy warroom-quarantine-api-7f9c"
        )) && card.contains("may re-allow traffic: allow-api-ingress"),
        "{card}"
    );
    // The executed cordon's diff is in the timeline.
    b.wait_until("the cordon's diff in the timeline", WAIT, |b| {
        text_now(b, "#timeline .tl-changes").contains("unschedulable: false → true")
    });

    // Evidence: the page downloads the artifact, hashes what it received and compares it with
    // the ledger's record before saving it.
    b.wait_for(&format!("#evidence a[data-download=\"{eid}\"]"), WAIT);
    b.click_css(&format!("#evidence a[data-download=\"{eid}\"]"), WAIT);
    b.wait_until("the download's hash check", WAIT, |b| {
        b.text_of("#reply")
            .contains(&format!("SHA-256 {sha} matches the ledger"))
    });
    // Viewing it shows the JSON itself.
    let view = b.attribute(
        &b.find(&format!("#evidence a[data-view=\"{eid}\"]")),
        "href",
    );
    let view = view.expect("a view link");
    assert!(
        view.starts_with(&format!("/api/v1/incidents/{inc}/evidence/{eid}"))
            && view.contains("view=true"),
        "{view}"
    );

    b.goto(&format!("http://{}{view}", server.addr));
    b.wait_until("the artifact itself", WAIT, |b| {
        b.text_of("body").contains("\"name\": \"api-7f9c\"")
    });
    b.goto(&format!("http://{}/#/{inc}", server.addr));
    b.wait_for(&format!("#evidence a[data-download=\"{eid}\"]"), WAIT);

    // A changed artifact is refused, both digests named, and nothing is saved.
    let stored = s
        .path()
        .join("warroom-data/evidence")
        .join(spec["location"].as_str().unwrap());
    std::fs::write(&stored, b"{\"tampered\":true}").unwrap();
    b.click_css(&format!("#evidence a[data-download=\"{eid}\"]"), WAIT);
    b.wait_until("the refusal of a changed artifact", WAIT, |b| {
        let reply = b.text_of("#reply");
        reply.contains(&format!("{eid} not downloaded"))
            && reply.contains("changed since it was recorded")
            && reply.contains(&sha)
    });
    assert!(b.try_find("#reply.error").is_ok(), "shown as an error");

    // Resolve first lists what is open and what stays contained, and records nothing.
    type_command(&b, "incident resolve all clear", Submit::Enter);
    b.wait_until("resolve to ask for confirmation", WAIT, |b| {
        let reply = b.text_of("#reply");
        reply.contains("1 open request(s) would be cancelled: R3 quarantine")
            && reply.contains("node ip-10-0-2-41.ec2.internal cordoned")
            && reply.contains("incident resolve --confirm")
    });
    assert_eq!(api.incident(&inc)["incident"]["status"], "open");
    type_command(
        &b,
        "incident resolve --confirm rebuilt; node kept cordoned for forensics",
        Submit::Enter,
    );
    b.wait_until("the cancellation in the timeline", WAIT, |b| {
        let timeline = text_now(b, "#timeline");
        timeline.contains("R3 cancelled: the incident was resolved")
            && timeline.contains("left contained on purpose: node ip-10-0-2-41.ec2.internal")
    });
    b.wait_until("no card left to decide", WAIT, |b| {
        b.find_all("#approvals [data-request]").is_empty()
            && b.find_all("[data-approve]").is_empty()
    });
    b.wait_until("the card in the channel to say cancelled", WAIT, |b| {
        let messages = text_now(b, "#messages");
        messages.contains("(R3)") && messages.contains("cancelled: the incident was resolved")
    });
    // The view link is the artifact's own page (here refused: it was changed above).
    b.goto(&format!("http://{}{view}", server.addr));
    b.wait_until("the artifact's page", WAIT, |b| {
        b.text_of("body").contains("changed since it was recorded")
    });
    assert_no_script_errors(&b);
}

#[test]
fn on_a_phone_a_card_shows_its_plan_and_the_console_reconnects_after_a_restart() {
    let s = Scratch::new();
    let server = Server::start(&s, &[]);
    let addr = server.addr.clone();
    let api = warroom_tests::api::Api::new(&addr);
    let inc = api.open_incident("Shell in payments api");
    api.ok(
        "alice",
        "label pod payments/api-7f9c team=forensics --reason \"mark it\"",
        Some(&inc),
    );

    let b = Browser::start();
    b.set_window_size(390, 844);
    b.goto(&format!("http://{addr}/#/{inc}"));
    b.wait_for("#person option[value=\"frank\"]", WAIT);
    b.select_by_value("#person", "frank");
    b.wait_for("#approvals [data-request=\"R1\"]", WAIT);
    let card = b.text_of("#approvals [data-request=\"R1\"]");
    assert!(
        card.contains("will set label team on pod payments/api-7f9c")
            && card.contains("server-side dry run accepted it"),
        "{card}"
    );
    b.wait_until("frank told who may decide", WAIT, |b| {
        b.text_of("#approvals [data-request=\"R1\"] .req-needs")
            .starts_with("needs 1 of: bob")
    });
    assert!(
        b.attribute(&b.find("[data-approve=\"R1\"]"), "disabled")
            .is_some(),
        "frank may not approve: no live button"
    );
    let fit = b.execute(
        "return { page: document.documentElement.scrollWidth, view: window.innerWidth };",
        &[],
    );
    assert!(
        fit["page"].as_f64() <= fit["view"].as_f64(),
        "the card fits at 390 px: {fit}"
    );
    b.select_by_value("#person", "bob");
    b.wait_until("bob's live Approve button", WAIT, |b| {
        b.try_find("[data-approve=\"R1\"]:not([disabled])").is_ok()
    });
    b.click_css("[data-approve=\"R1\"]", WAIT);
    b.wait_until("the label's diff in the timeline", WAIT, |b| {
        text_now(b, "#timeline .tl-changes").contains("labels: + team=forensics")
    });
    b.wait_until("the live indicator", WAIT, |b| b.text_of("#live") == "live");

    // The server stops: the page says so at once, not when the next request fails.
    let mut server = server;
    unsafe { libc::kill(server.child.id() as i32, libc::SIGTERM) };
    b.wait_until("the disconnected badge", Duration::from_secs(5), |b| {
        b.text_of("#live").starts_with("disconnected")
    });
    server.child.wait().unwrap();

    // Back on the same address with the same data: the page reconnects by itself and shows
    // what happened while it was away.
    let again = Server::restart_at(&s, &addr, &[]);
    again.wait_for("/readyz", 200, WAIT);
    api.ok("carol", "note back after the restart", Some(&inc));
    b.wait_until("the badge live again", WAIT, |b| {
        b.text_of("#live") == "live"
    });
    b.wait_until("the note made after the restart", WAIT, |b| {
        text_now(b, "#timeline").contains("back after the restart")
    });
    drop(again);
    assert_no_script_errors(&b);
}
