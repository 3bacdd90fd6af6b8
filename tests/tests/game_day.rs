//! Game days: the built-in scenarios' scripts played by a scripted team through the command
//! API, on a drill whose clock moves only when the test says (`--manual-clock`), so every
//! time on the scorecard is exactly the one the test set.

use std::time::Duration;

use serde_json::{Value, json};
use warroom_tests::api::Api;
use warroom_tests::drill::Drill;
use warroom_tests::{Scratch, Server, wait_for};

struct Day {
    server: Server,
    api: Api,
    s: Scratch,
}

fn start(scenario: &str) -> Day {
    start_in(Scratch::new(), scenario)
}

fn start_in(s: Scratch, scenario: &str) -> Day {
    let server = Server::start_command(
        &s,
        "drill",
        &["--scenario", scenario, "--manual-clock"],
        &[],
    );
    let api = Api::new(&server.addr);
    // The server listens before its ledger is open; the game day starts once it is ready,
    // and until then the scorecard says so (503), never "no game day" (404).
    wait_for("the game day to start", 30, || {
        let (status, r) = api.get("/api/v1/drill/scorecard");
        assert!(status == 200 || status == 503, "{status}: {r}");
        (status == 200).then_some(())
    });
    Day { server, api, s }
}

impl Day {
    /// The same scenario again over the same data folder: the team's next run.
    fn again(self, scenario: &str) -> Day {
        let Day { server, api, s } = self;
        drop(api);
        drop(server);
        start_in(s, scenario)
    }

    fn advance(&self, by: &str) {
        let (status, r) = self.api.post_json(
            "/api/v1/drill/clock",
            None,
            &json!({ "advance": by }).to_string(),
        );
        assert_eq!(status, 200, "{r}");
    }

    fn card(&self) -> Value {
        let (status, card) = self.api.get("/api/v1/drill/scorecard");
        assert_eq!(status, 200, "{card}");
        card
    }

    /// Waits until the script's loop has seen the clock and done what is due.
    fn card_when(&self, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let c = self.card();
            if ok(&c) {
                return c;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}; the scorecard: {c:#}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The incident the script's first alert opened, once warroom has handled that alert
    /// (paged, and proposed what its rule says): the scorecard's timeline names it.
    fn first_incident(&self) -> String {
        let opened = |c: &Value| -> Option<String> {
            c["timeline"].as_array()?.iter().find_map(|m| {
                let text = m["text"].as_str()?;
                let at = text.find("opened INC-")? + "opened ".len();
                Some(text[at..].split_whitespace().next()?.to_owned())
            })
        };
        let card = self.card_when("the script's first alert to be handled", |c| {
            opened(c).is_some()
        });
        let id = opened(&card).unwrap_or_default();
        let (status, _) = self.api.get(&format!("/api/v1/incidents/{id}"));
        assert_eq!(status, 200, "{id}");
        id
    }

    fn measure(card: &Value, name: &str) -> Value {
        card["measures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no measure {name} in {card}"))
    }

    fn flags(card: &Value, kind: &str) -> Vec<Value> {
        card["flags"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["kind"] == kind)
            .cloned()
            .collect()
    }

    /// alice asks for `action` — or, when warroom already proposed it for the alert, takes
    /// that proposal — and approvals follow until it runs: alice's, then bob's.
    fn act(&self, action: &str, inc: &str) -> Value {
        let (status, r) = self.api.command(
            "alice",
            &format!("{action} --reason \"game day\""),
            Some(inc),
        );
        if r["status"] == "executed" {
            return r;
        }
        assert!(status == 200 || status == 409, "{action}: {r}");
        let id = r["request_id"]
            .as_str()
            .or(r["request"].as_str())
            .unwrap_or_else(|| panic!("{r}"))
            .to_owned();
        let mut last = r;
        for person in ["alice", "bob"] {
            let (_, r) = self
                .api
                .command(person, &format!("approve {id}"), Some(inc));
            last = r;
            if last["status"] == "executed" {
                return last;
            }
        }
        panic!("{action} did not run: {last}");
    }
}

#[test]
fn a_fast_team_meets_every_target_and_the_attacker_never_moves() {
    let d = start("payments-breach");
    let inc = d.first_incident();
    d.advance("1m");
    d.api.ok("alice", "ack", Some(&inc));
    d.advance("2m");
    d.act("capture pod payments/api-7f9c", &inc);
    d.act("quarantine pod payments/api-7f9c", &inc);
    // Past the script's 10-minute lateral step: held back, since the pod was isolated.
    d.advance("8m");
    d.card_when("the lateral step to be held back", |c| {
        c["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["text"].as_str().unwrap_or("").starts_with("held back"))
    });
    d.api.ok(
        "alice",
        "incident resolve --confirm contained; api-7f9c kept for forensics",
        Some(&inc),
    );
    let card = d.card_when("the game day to end once its incident is resolved", |c| {
        c["state"] == "ended"
    });
    for (name, seconds) in [
        ("acknowledge", 60),
        ("capture", 180),
        ("contain", 180),
        ("resolve", 660),
    ] {
        let m = Day::measure(&card, name);
        assert_eq!(m["seconds"], seconds, "{name}: {m}");
        assert_eq!(m["met"], true, "{name}: {m}");
    }
    assert!(Day::flags(&card, "lateral").is_empty(), "{card}");
    assert_eq!(card["evidence_first"], true);
    assert!(card["flags"].as_array().unwrap().is_empty(), "{card}");
    // warroom proposed the quarantine when the alert came in; the team's approvals made it
    // run at 3m: the two-person rule's wait.
    let waits = card["waits"].as_array().unwrap();
    assert!(
        waits
            .iter()
            .any(|w| w["action"] == "quarantine pod payments/api-7f9c" && w["seconds"] == 180),
        "{card}"
    );
    let marks = card["timeline"].as_array().unwrap();
    assert!(
        marks.iter().any(|m| m["who"] == "warroom"
            && m["at_seconds"] == 0
            && m["text"]
                .as_str()
                .unwrap()
                .starts_with("warroom proposed quarantine pod payments/api-7f9c")),
        "{card}"
    );

    // Exported: JSON equal to the API's card, Markdown, and an SVG with one mark per event.
    let dir = std::path::PathBuf::from(card["files"].as_str().expect("files written"));
    let kept: Value =
        serde_json::from_slice(&std::fs::read(dir.join("scorecard.json")).unwrap()).unwrap();
    assert_eq!(kept["measures"], card["measures"]);
    let md = std::fs::read_to_string(dir.join("scorecard.md")).unwrap();
    assert!(md.contains("| acknowledge | 1m 00s |"), "{md}");
    let svg = std::fs::read_to_string(dir.join("scorecard.svg")).unwrap();
    assert_svg_has_marks(
        &dir.join("scorecard.svg"),
        card["timeline"].as_array().unwrap().len(),
    );
    assert!(svg.contains("class=\"target\""));

    // The scorecard kept in the ledger left it whole: every chain and record checks.
    let (_, v) = d.api.get("/api/v1/ledger/verify");
    assert_eq!(v["intact"], true, "{v}");
    // Kept in the ledger: the next run of the same scenario is compared with it.
    let first = card;
    let d = d.again("payments-breach");
    d.first_incident();
    let card = d.card();
    assert_eq!(card["previous"].as_array().unwrap().len(), 1, "{card}");
    assert_eq!(card["previous"][0]["started_at"], first["started_at"]);
    assert_eq!(card["previous"][0]["measures"], first["measures"]);
    assert_eq!(Day::measure(&card, "acknowledge")["previous_seconds"], 60);
    assert_eq!(Day::measure(&card, "resolve")["previous_seconds"], 660);
}

/// The SVG is well-formed XML (Python's parser reads it) with exactly `marks` elements of
/// class "mark".
fn assert_svg_has_marks(path: &std::path::Path, marks: usize) {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, xml.etree.ElementTree as E\nroot = E.parse(sys.argv[1]).getroot()\nassert root.tag == '{http://www.w3.org/2000/svg}svg', root.tag\nprint(sum(1 for e in root.iter() if e.get('class') == 'mark'))",
            path.to_str().unwrap(),
        ])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        marks.to_string()
    );
    assert!(marks > 3, "a run has more than three events");
}

#[test]
fn a_slow_team_lets_the_attacker_move_and_the_scorecard_says_when_and_why() {
    let d = start("payments-breach");
    let inc = d.first_incident();
    d.advance("11m");
    let card = d.card_when("the lateral step to fire", |c| {
        !Day::flags(c, "lateral").is_empty()
    });
    let lateral = &Day::flags(&card, "lateral")[0];
    assert_eq!(lateral["at_seconds"], 600, "{lateral}");
    let text = lateral["text"].as_str().unwrap();
    assert!(text.contains("to checkout/"), "{text}");
    assert!(
        text.contains("`quarantine pod payments/api-7f9c` was not done within 10m 00s"),
        "{text}"
    );
    // Not acknowledged within 5 minutes: missed, although the run goes on.
    let ack = Day::measure(&card, "acknowledge");
    assert_eq!(ack["met"], false, "{ack}");
    assert_eq!(ack["seconds"], Value::Null);
    assert_eq!(card["state"], "running");
    // By now the page escalates to its second tier (the sweeper's next pass): erin answers.
    wait_for("erin to be paged", 20, || {
        let r = d.api.ok("erin", "ack", Some(&inc));
        r["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("acknowledged")
            .then_some(())
    });
    let card = d.card_when("the late acknowledgement", |c| {
        Day::measure(c, "acknowledge")["seconds"] == 660
    });
    assert_eq!(Day::measure(&card, "acknowledge")["met"], false);
}

#[test]
fn deleting_before_capturing_is_flagged_and_the_evidence_is_lost() {
    let d = start("payments-breach");
    let inc = d.first_incident();
    d.advance("2m");
    // Someone logs in to the pod and then deletes it with kubectl, straight at the API server.
    let drill = Drill::of(&d.server, "prod-eu");
    let (status, _) = drill.post(
        "/api/v1/namespaces/payments/pods/api-7f9c/exec?command=sh",
        &json!({}),
    );
    assert_eq!(status, 403);
    let (status, r) = drill.delete("/api/v1/namespaces/payments/pods/api-7f9c");
    assert_eq!(status, 200, "{r}");
    let card = d.card_when("the deletion to be scored", |c| {
        !Day::flags(c, "evidence_lost").is_empty()
    });
    let destructive = Day::flags(&card, "destructive_before_capture");
    assert_eq!(destructive.len(), 1, "{card}");
    assert!(
        destructive[0]["text"]
            .as_str()
            .unwrap()
            .contains("delete pod payments/api-7f9c before pod payments/api-7f9c was captured")
    );
    assert_eq!(destructive[0]["at_seconds"], 120);
    assert_eq!(Day::flags(&card, "exec").len(), 1, "{card}");
    assert_eq!(card["evidence_first"], false);
    let lost = &Day::flags(&card, "evidence_lost")[0];
    assert!(
        lost["text"].as_str().unwrap().contains(
            "`delete pod payments/api-7f9c` was done before `capture pod payments/api-7f9c`"
        ),
        "{lost}"
    );
    let _ = inc;
}

/// The fast team of every scenario: acknowledge at 1m, capture and contain at 2m, then
/// past the attacker's next step (held back), resolve. Returns the ended scorecard.
fn fast_team(d: &Day, capture: &str, contain: &str, past: &str) -> Value {
    let inc = d.first_incident();
    d.advance("1m");
    d.api.ok("alice", "ack", Some(&inc));
    d.advance("1m");
    d.act(capture, &inc);
    d.act(contain, &inc);
    d.advance(past);
    d.card_when("the attacker's step to be held back", |c| {
        c["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["text"].as_str().unwrap_or("").starts_with("held back"))
    });
    d.api
        .ok("alice", "incident resolve --confirm contained", Some(&inc));
    let card = d.card_when("the game day to end", |c| c["state"] == "ended");
    for (name, seconds) in [("acknowledge", 60), ("capture", 120), ("contain", 120)] {
        let m = Day::measure(&card, name);
        assert_eq!(m["seconds"], seconds, "{name}: {m}");
        assert_eq!(m["met"], true, "{name}: {m}");
    }
    assert_eq!(Day::measure(&card, "resolve")["met"], true, "{card}");
    assert!(card["flags"].as_array().unwrap().is_empty(), "{card}");
    card
}

#[test]
fn a_fast_team_cordons_the_miners_node_before_it_spreads() {
    let d = start("node-miner");
    let card = fast_team(
        &d,
        "capture pod checkout/web-6d8f4c-q9z4m",
        "cordon node ip-10-0-2-41.ec2.internal",
        "14m",
    );
    assert_eq!(Day::measure(&card, "resolve")["seconds"], 960);
}

#[test]
fn a_slow_team_lets_the_miner_reach_the_other_node() {
    let d = start("node-miner");
    d.first_incident();
    d.advance("16m");
    let card = d.card_when("the miner to spread", |c| {
        c["timeline"].as_array().unwrap().iter().any(|m| {
            let t = m["text"].as_str().unwrap_or("");
            t.starts_with("node ip-10-0-1-23.ec2.internal compromised") && t.contains("opened INC-")
        })
    });
    let lateral = &Day::flags(&card, "lateral")[0];
    assert_eq!(lateral["at_seconds"], 900);
    assert!(
        lateral["text"]
            .as_str()
            .unwrap()
            .contains("`cordon node ip-10-0-2-41.ec2.internal` was not done within 15m 00s"),
        "{lateral}"
    );
}

#[test]
fn a_fast_team_isolates_the_leaked_tokens_pod_and_the_attacker_starts_nothing() {
    let d = start("leaked-token");
    fast_team(
        &d,
        "capture pod payments/api-7f9c",
        "quarantine pod payments/api-7f9c",
        "9m",
    );
    let drill = Drill::of(&d.server, "prod-eu");
    let (status, _) = drill.get("/api/v1/namespaces/payments/pods/debug-x1");
    assert_eq!(status, 404, "the attacker's pod was never created");
}

#[test]
fn a_slow_team_lets_the_leaked_token_start_an_attackers_pod() {
    let d = start("leaked-token");
    d.first_incident();
    d.advance("11m");
    d.card_when("the attacker's pod", |c| {
        !Day::flags(c, "lateral").is_empty()
    });
    let drill = Drill::of(&d.server, "prod-eu");
    wait_for("payments/debug-x1 in the cluster", 20, || {
        let (status, pod) = drill.get("/api/v1/namespaces/payments/pods/debug-x1");
        (status == 200).then_some(pod)
    });
}

#[test]
fn the_other_built_in_game_days_open_incidents_through_the_intake() {
    for scenario in ["node-miner", "leaked-token"] {
        let d = start(scenario);
        let inc = d.first_incident();
        let (_, i) = d.api.get(&format!("/api/v1/incidents/{inc}"));
        assert!(i.to_string().contains("alert.received"), "{scenario}: {i}");
        let card = d.card();
        assert_eq!(card["scenario"], scenario);
        assert!(!card["timeline"].as_array().unwrap().is_empty());
    }
}

#[test]
fn a_broken_script_is_refused_naming_its_file_and_line() {
    let s = Scratch::new();
    let text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\napiVersion: drill.warroom.io/v1\nkind: GameDay\nmetadata: {name: x}\nscript:\n  - at: 0s\n    say: hi\n  - at: 5m\n    unless: quarantine pod shop/ghost\n    say: boo\n";
    let path = s.write("day.yaml", text);
    let out = s
        .run(&["drill", "--scenario", path.to_str().unwrap()])
        .expect_code(2);
    assert!(
        out.stderr()
            .contains("day.yaml:12: unless: pod shop/ghost is not in the scenario"),
        "{}",
        out.stderr()
    );
    let out = s.run(&["drill", "--speed", "0"]).expect_code(2);
    assert!(out.stderr().contains("is not a speed"), "{}", out.stderr());
}

#[test]
fn the_clock_moves_by_hand_only_on_a_manual_drill() {
    let s = Scratch::new();
    let server = Server::start_command(&s, "drill", &[], &[]);
    let api = Api::new(&server.addr);
    let (status, r) = api.post_json("/api/v1/drill/clock", None, r#"{"advance":"5m"}"#);
    assert_eq!(status, 409, "{r}");
    let (status, r) = api.get("/api/v1/drill/scorecard");
    assert_eq!(status, 404, "{r}");
    let d = start("payments-breach");
    let (status, r) = d
        .api
        .post_json("/api/v1/drill/clock", None, r#"{"advance":"soon"}"#);
    assert_eq!(status, 400, "{r}");
    // Past what a timestamp can say (or what chrono can hold): refused, the clock unmoved.
    for far in ["100000y", "1000000y", "10000000000y"] {
        let (status, r) = d.api.post_json(
            "/api/v1/drill/clock",
            None,
            &format!(r#"{{"advance":"{far}"}}"#),
        );
        assert_eq!(status, 400, "{far}: {r}");
        assert!(
            r["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("advance:")),
            "{far}: {r}"
        );
    }
    let (status, r) = d
        .api
        .post_json("/api/v1/drill/clock", None, r#"{"advance":"5m"}"#);
    assert_eq!(status, 200, "{r}");
    assert!(
        r["now"].as_str().is_some_and(|t| t.starts_with("20")),
        "{r}"
    );
}

#[test]
fn a_rehearsal_at_speed_runs_the_script_on_the_scaled_clock() {
    let s = Scratch::new();
    // 600× real time: the script's 10-minute step comes after one real second.
    let server = Server::start_command(
        &s,
        "drill",
        &["--scenario", "payments-breach", "--speed", "600"],
        &[],
    );
    let api = Api::new(&server.addr);
    let real = std::time::Instant::now();
    let card = wait_for("the 10-minute step's alert", 30, || {
        let (_, c) = api.get("/api/v1/drill/scorecard");
        c["timeline"]
            .as_array()
            .is_some_and(|t| {
                t.iter().any(|m| {
                    let text = m["text"].as_str().unwrap_or("");
                    text.starts_with("process in checkout/") && text.contains("opened INC-")
                })
            })
            .then_some(c)
    });
    assert!(
        real.elapsed() < Duration::from_secs(20),
        "{:?}",
        real.elapsed()
    );
    assert_eq!(card["speed"], 600);
    let lateral = Day::flags(&card, "lateral");
    assert_eq!(lateral[0]["at_seconds"], 600, "{card}");
    // The ledger's times are the scaled clock's: the checkout incident opened ten drill
    // minutes after the start, though a second or two of real time passed.
    let second = card["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|m| {
            let t = m["text"].as_str()?;
            t.starts_with("process in checkout/").then(|| {
                t.split("opened ")
                    .nth(1)?
                    .split_whitespace()
                    .next()
                    .map(str::to_owned)
            })?
        })
        .unwrap_or_else(|| panic!("{card}"));
    let (_, i) = api.get(&format!("/api/v1/incidents/{second}"));
    let opened: chrono::DateTime<chrono::Utc> = i["incident"]["opened_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let started: chrono::DateTime<chrono::Utc> =
        card["started_at"].as_str().unwrap().parse().unwrap();
    let drill_seconds = (opened - started).num_seconds();
    // At 600x, a second of real time (the script's tick, a slow sync) is 600 drill seconds;
    // on an unscaled clock the alert would not have come for ten real minutes. Up to five
    // real seconds late is allowed for a machine that stalls.
    assert!(
        (600..3600).contains(&drill_seconds),
        "opened {drill_seconds} s after the start"
    );
}

#[test]
fn a_kubectl_exec_into_the_suspect_pod_is_refused_and_scored_as_a_dont() {
    let d = start("payments-breach");
    d.first_incident();
    let drill = Drill::of(&d.server, "prod-eu");
    let kubeconfig =
        d.s.write("kubeconfig", &warroom_tests::kubeconfig_for(&drill.base));
    let out = std::process::Command::new("kubectl")
        .env("KUBECONFIG", &kubeconfig)
        .args([
            "exec", "-n", "payments", "api-7f9c", "-c", "api", "--", "sh", "-c", "id",
        ])
        .output()
        .expect("kubectl runs (installed by ./scripts/test.sh)");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "exec must be refused: {said}");
    let card = d.card_when("the login attempt on the scorecard", |c| {
        !Day::flags(c, "exec").is_empty()
    });
    let exec = &Day::flags(&card, "exec")[0];
    assert!(
        exec["text"]
            .as_str()
            .unwrap()
            .contains("pod payments/api-7f9c"),
        "{exec} (kubectl said: {said})"
    );
}
