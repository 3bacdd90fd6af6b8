//! Slack over HTTP: requests signed exactly as Slack signs them, into a running warroom whose
//! Slack Web API is a local stand-in that records calls.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warroom_adapters::chat::slack::signature::sign;
use warroom_tests::api::{Api, plan_with};
use warroom_tests::fake_slack::{FakeSlack, form_encode};
use warroom_tests::{Scratch, Server};

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const ALICE: &str = "U024BE7LH";
const BOB: &str = "U024BE7LJ";

struct Slack {
    _s: Scratch,
    _server: Server,
    api: Api,
    fake: FakeSlack,
    base: String,
}

fn start() -> Slack {
    let s = Scratch::new();
    let fake = FakeSlack::start();
    let plan = plan_with(&[
        ("drill = false", "drill = true"),
        (
            "signing_secret = { file = \"/run/secrets/slack-signing-secret\" }",
            "signing_secret = { env = \"SLACK_SIGNING_SECRET\" }",
        ),
        (
            "# api_base_url = \"https://slack.com/api\"",
            &format!("api_base_url = \"{}\"", fake.base),
        ),
    ]);
    let file = s.write("plan.toml", &plan);
    let server = Server::start_with_env(
        &s,
        &["--config", file.to_str().unwrap()],
        &[
            ("SLACK_BOT_TOKEN", "xoxb-test-token"),
            ("SLACK_SIGNING_SECRET", SECRET),
            ("WARROOM_SLACK_SEND_INTERVAL_MS", "10"),
        ],
    );
    let api = Api::new(&server.addr);
    let base = format!("http://{}", server.addr);
    Slack {
        _s: s,
        _server: server,
        api,
        fake,
        base,
    }
}

fn now() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string()
}

/// POST a form body signed with `secret` at `timestamp`: (status, body text, elapsed).
fn post_signed(
    base: &str,
    path: &str,
    body: &str,
    secret: &str,
    timestamp: &str,
) -> (u16, String, Duration) {
    let signature = sign(secret.as_bytes(), timestamp, body.as_bytes());
    let t = Instant::now();
    let mut resp = warroom_tests::agent()
        .post(&format!("{base}{path}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", timestamp)
        .header("x-slack-signature", &signature)
        .send(body)
        .unwrap();
    let status = resp.status().as_u16();
    (
        status,
        resp.body_mut().read_to_string().unwrap_or_default(),
        t.elapsed(),
    )
}

fn command(user: &str, command: &str, text: &str, channel: &str, trigger: &str) -> String {
    format!(
        "token=x&team_id=T1&team_domain=northwind&channel_id={channel}&channel_name=x&user_id={user}&user_name=x&command={}&text={}&response_url={}&trigger_id={trigger}",
        form_encode(command),
        form_encode(text),
        form_encode("https://hooks.slack.com/commands/T1/1/x")
    )
}

fn click(user: &str, action: &str, value: &str, trigger: &str) -> String {
    let payload = json!({
        "type": "block_actions",
        "user": { "id": user, "username": "x", "team_id": "T1" },
        "team": { "id": "T1" },
        "trigger_id": trigger,
        "container": { "type": "message", "message_ts": "1764200000.000100", "channel_id": "C0INCIDENT" },
        "channel": { "id": "C0INCIDENT" },
        "message": { "ts": "1764200000.000100" },
        "response_url": "https://hooks.slack.com/actions/T1/1/x",
        "actions": [{ "type": "button", "action_id": action, "block_id": "approval", "value": value }]
    });
    format!("payload={}", form_encode(&payload.to_string()))
}

fn text_of(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["text"].as_str().map(str::to_owned))
        .unwrap_or_else(|| body.to_owned())
}

#[test]
fn a_slash_command_and_a_second_persons_button_click_quarantine_the_pod() {
    let sl = start();
    let (status, body, took) = post_signed(
        &sl.base,
        "/slack/commands",
        &command(
            ALICE,
            "/incident",
            "open \"Shell in payments api\" --severity sev1",
            "C0GENERAL",
            "t1",
        ),
        SECRET,
        &now(),
    );
    assert_eq!(status, 200, "{body}");
    assert!(took < Duration::from_secs(3), "acknowledged in {took:?}");
    let opened = text_of(&body);
    assert!(opened.contains("opened INC-"), "{opened}");
    let inc = opened
        .split_whitespace()
        .find(|w| w.starts_with("INC-"))
        .unwrap()
        .to_owned();
    assert!(
        !sl.fake.calls_to("conversations.create").is_empty(),
        "the incident channel was created: {:?}",
        sl.fake.calls()
    );

    // Typed in the incident's channel: the channel says which incident.
    let (status, body, _) = post_signed(
        &sl.base,
        "/slack/commands",
        &command(
            ALICE,
            "/quarantine",
            "pod payments/api-7f9c --reason \"shell spawned\"",
            "C0INCIDENT",
            "t2",
        ),
        SECRET,
        &now(),
    );
    assert_eq!(status, 200);
    assert!(text_of(&body).contains("R1 opened"), "{body}");
    let card_posted = || {
        sl.fake
            .calls_to("chat.postMessage")
            .iter()
            .any(|b| b.contains("warroom_approve") && b.contains(&format!("{inc}/R1")))
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !card_posted() {
        assert!(
            Instant::now() < deadline,
            "no approval card: {:?}",
            sl.fake.calls()
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // alice's own click is refused; bob's runs it.
    let (status, body, _) = post_signed(
        &sl.base,
        "/slack/interactions",
        &click(ALICE, "warroom_approve", &format!("{inc}/R1"), "c1"),
        SECRET,
        &now(),
    );
    assert_eq!(status, 200);
    assert!(text_of(&body).contains("cannot approve"), "{body}");
    let (status, body, took) = post_signed(
        &sl.base,
        "/slack/interactions",
        &click(BOB, "warroom_approve", &format!("{inc}/R1"), "c2"),
        SECRET,
        &now(),
    );
    assert_eq!(status, 200);
    assert!(took < Duration::from_secs(3));
    assert!(text_of(&body).contains("approved by bob"), "{body}");
    assert_eq!(sl.api.request(&inc, "R1")["status"], "executed");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sl
        .fake
        .calls_to("chat.update")
        .iter()
        .any(|b| b.contains("executed"))
    {
        assert!(
            Instant::now() < deadline,
            "the card was not updated: {:?}",
            sl.fake.calls_to("chat.update")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The same click delivered again: one effect.
    let (_, body, _) = post_signed(
        &sl.base,
        "/slack/interactions",
        &click(BOB, "warroom_approve", &format!("{inc}/R1"), "c2"),
        SECRET,
        &now(),
    );
    assert!(text_of(&body).contains("already received"), "{body}");
    let approvals = sl
        .api
        .kinds(&inc)
        .iter()
        .filter(|k| *k == "request.approved")
        .count();
    assert_eq!(approvals, 1);
}

#[test]
fn bad_signatures_old_timestamps_and_unknown_users_are_refused_and_record_nothing() {
    let sl = start();
    let body = command(ALICE, "/incident", "open \"x\"", "C0GENERAL", "t9");
    let (status, text, _) =
        post_signed(&sl.base, "/slack/commands", &body, "not-the-secret", &now());
    assert_eq!(status, 401, "{text}");
    let old = (now().parse::<i64>().unwrap() - 600).to_string();
    let (status, text, _) = post_signed(&sl.base, "/slack/commands", &body, SECRET, &old);
    assert_eq!(status, 401, "{text}");
    let (status, text, _) = post_signed(
        &sl.base,
        "/slack/commands",
        &command("U999NOBODY", "/incident", "open \"x\"", "C0GENERAL", "t10"),
        SECRET,
        &now(),
    );
    assert_eq!(status, 200);
    assert!(
        text_of(&text).contains("not a person in warroom's response plan"),
        "{text}"
    );
    let (_, list) = sl.api.get("/api/v1/incidents");
    assert_eq!(list["incidents"], json!([]), "nothing recorded");
    // A command delivered twice opens one incident.
    let once = command(ALICE, "/incident", "open \"twice\"", "C0GENERAL", "t11");
    post_signed(&sl.base, "/slack/commands", &once, SECRET, &now());
    let (_, again, _) = post_signed(&sl.base, "/slack/commands", &once, SECRET, &now());
    assert!(text_of(&again).contains("already received"), "{again}");
    let (_, list) = sl.api.get("/api/v1/incidents");
    assert_eq!(list["incidents"].as_array().unwrap().len(), 1);
}

#[test]
fn the_events_url_answers_slacks_challenge_when_signed() {
    let sl = start();
    let body = r#"{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let (status, text, _) = post_signed(&sl.base, "/slack/events", body, SECRET, &now());
    assert_eq!(status, 200, "{text}");
    assert!(
        text.contains("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"),
        "{text}"
    );
    let (status, _, _) = post_signed(&sl.base, "/slack/events", body, "wrong", &now());
    assert_eq!(status, 401);
    // Every slash command of the manifest is a verb warroom knows.
    let manifest =
        std::fs::read_to_string(warroom_tests::repo_root().join("deploy/slack/manifest.yaml"))
            .unwrap();
    for line in manifest.lines().filter(|l| l.contains("command: /")) {
        let verb = line
            .split("command: /")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .trim();
        let (status, reply, _) = post_signed(
            &sl.base,
            "/slack/commands",
            &command(
                ALICE,
                &format!("/{verb}"),
                "",
                "C0GENERAL",
                &format!("m-{verb}"),
            ),
            SECRET,
            &now(),
        );
        assert_eq!(status, 200, "{verb}");
        assert!(
            !text_of(&reply).contains("unknown command"),
            "/{verb}: {reply}"
        );
    }
}
