//! Slack in Socket Mode: warroom dials out; a local websocket server plays Slack's side
//! (hello, envelopes, acknowledgements) and a local Web API stand-in records what warroom
//! posts. The same commands, clicks and events as over HTTP, through the same handlers.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warroom_tests::api::{Api, incident_id_in, plan_with};
use warroom_tests::fake_slack::FakeSlack;
use warroom_tests::fake_socket::FakeSocket;
use warroom_tests::{Scratch, Server};

const ALICE: &str = "U024BE7LH";
const BOB: &str = "U024BE7LJ";
const ACK_WITHIN: Duration = Duration::from_secs(3);

struct SocketSlack {
    _s: Scratch,
    _server: Server,
    api: Api,
    fake: FakeSlack,
    socket: FakeSocket,
}

fn start() -> SocketSlack {
    let s = Scratch::new();
    let fake = FakeSlack::start();
    let socket = FakeSocket::start();
    fake.set_socket_url(&socket.url);
    let plan = plan_with(&[
        ("drill = false", "drill = true"),
        ("notify = false", "notify = true"),
        ("mode = \"http\"", "mode = \"socket\""),
        (
            "signing_secret = { file = \"/run/secrets/slack-signing-secret\" }",
            "",
        ),
        (
            "# app_token = { env = \"SLACK_APP_TOKEN\" }",
            "app_token = { env = \"SLACK_APP_TOKEN\" }",
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
            ("SLACK_APP_TOKEN", "xapp-1-A1-test"),
            ("WARROOM_SLACK_SEND_INTERVAL_MS", "10"),
        ],
    );
    let api = Api::new(&server.addr);
    // Connected before any timed exchange: readiness does not wait for the socket, and the
    // acknowledgement deadlines measure warroom's answer, not its dialling.
    warroom_tests::wait_for("warroom's Socket Mode connection", 20, || {
        (socket.connections() >= 1).then_some(())
    });
    SocketSlack {
        _s: s,
        _server: server,
        api,
        fake,
        socket,
    }
}

fn slash(envelope: &str, user: &str, command: &str, text: &str, channel: &str) -> Value {
    json!({
        "envelope_id": envelope,
        "type": "slash_commands",
        "accepts_response_payload": true,
        "payload": {
            "token": "x", "team_id": "T1", "team_domain": "northwind",
            "channel_id": channel, "channel_name": "x",
            "user_id": user, "user_name": "x",
            "command": command, "text": text,
            "api_app_id": "A1", "is_enterprise_install": "false",
            "response_url": "https://hooks.slack.com/commands/T1/1/x",
            "trigger_id": format!("trigger-{envelope}")
        }
    })
}

fn click(envelope: &str, user: &str, value: &str) -> Value {
    json!({
        "envelope_id": envelope,
        "type": "interactive",
        "accepts_response_payload": false,
        "payload": {
            "type": "block_actions",
            "user": { "id": user, "username": "x", "name": "x", "team_id": "T1" },
            "api_app_id": "A1",
            "token": "x",
            "container": { "type": "message", "message_ts": "1764200000.000100", "channel_id": "C0INCIDENT", "is_ephemeral": false },
            "trigger_id": format!("trigger-{envelope}"),
            "team": { "id": "T1", "domain": "northwind" },
            "channel": { "id": "C0INCIDENT", "name": "inc" },
            "message": { "type": "message", "ts": "1764200000.000100", "text": "approval" },
            "response_url": "https://hooks.slack.com/actions/T1/1/x",
            "actions": [{
                "type": "button", "action_id": "warroom_approve", "block_id": "approval",
                "text": { "type": "plain_text", "text": "Approve" },
                "value": value, "action_ts": "1764200001.000200"
            }]
        }
    })
}

fn ack_text(ack: &Value) -> String {
    ack["payload"]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn socket_mode_runs_commands_clicks_and_events_through_the_same_handlers() {
    let sl = start();
    // /incident open: the answer rides on the acknowledgement.
    let t = Instant::now();
    let ack = sl
        .socket
        .send(
            &slash(
                "env-1",
                ALICE,
                "/incident",
                "open \"Shell in payments api\"",
                "C0GENERAL",
            ),
            ACK_WITHIN,
        )
        .unwrap();
    assert!(t.elapsed() < ACK_WITHIN);
    let opened = ack_text(&ack);
    assert!(opened.contains("opened INC-"), "{ack}");
    let inc = incident_id_in(&opened);
    assert!(
        sl.fake
            .calls()
            .iter()
            .any(|(m, _)| m == "apps.connections.open"),
        "the socket URL came from apps.connections.open"
    );

    // /quarantine in the incident's channel → card; alice cannot approve her own request.
    let ack = sl
        .socket
        .send(
            &slash(
                "env-2",
                ALICE,
                "/quarantine",
                "pod payments/api-7f9c --reason \"shell spawned\"",
                "C0INCIDENT",
            ),
            ACK_WITHIN,
        )
        .unwrap();
    assert!(ack_text(&ack).contains("R1 opened"), "{ack}");
    let ack = sl
        .socket
        .send(&click("env-3", ALICE, &format!("{inc}/R1")), ACK_WITHIN)
        .unwrap();
    assert_eq!(ack["envelope_id"], "env-3");
    assert_eq!(sl.api.request(&inc, "R1")["status"], "pending");

    // bob's click approves and runs it; a redelivered envelope changes nothing more.
    let bobs = click("env-4", BOB, &format!("{inc}/R1"));
    sl.socket.send(&bobs, ACK_WITHIN).unwrap();
    sl.api.wait_until(&inc, "R1 executed", |i| {
        i["incident"]["requests"][0]["status"] == "executed"
    });
    sl.socket.send(&bobs, ACK_WITHIN).unwrap();
    let approvals = sl.api.count(&inc, "request.approved");
    assert_eq!(approvals, 1);

    // 📌 over the socket lands in the timeline once, however often it is delivered.
    sl.fake.add_message(
        "C0INCIDENT",
        "1764200050.000300",
        BOB,
        "outbound to 203.0.113.9",
    );
    let pin = json!({
        "envelope_id": "env-5",
        "type": "events_api",
        "accepts_response_payload": false,
        "retry_attempt": 0,
        "retry_reason": "",
        "payload": {
            "token": "x", "team_id": "T1", "api_app_id": "A1",
            "type": "event_callback", "event_id": "Ev0SOCKETPIN", "event_time": 1764200100,
            "event": {
                "type": "reaction_added", "user": ALICE, "reaction": "pushpin", "item_user": BOB,
                "item": { "type": "message", "channel": "C0INCIDENT", "ts": "1764200050.000300" },
                "event_ts": "1764200100.000200"
            }
        }
    });
    for _ in 0..3 {
        let ack = sl.socket.send(&pin, ACK_WITHIN).unwrap();
        assert_eq!(ack["envelope_id"], "env-5");
    }
    let record = sl.api.wait_until(&inc, "pinned message", |i| {
        i["timeline"]
            .as_array()
            .is_some_and(|t| t.iter().any(|e| e["kind"] == "message.pinned"))
    });
    std::thread::sleep(Duration::from_millis(300));
    let pinned = sl.api.count(&inc, "message.pinned");
    assert_eq!(pinned, 1, "{record}");
    assert_eq!(sl.socket.connections(), 1);
}

#[test]
fn socket_mode_refuses_people_outside_the_plan_and_records_nothing() {
    let sl = start();
    let ack = sl
        .socket
        .send(
            &slash(
                "env-x",
                "U999NOBODY",
                "/incident",
                "open \"x\"",
                "C0GENERAL",
            ),
            ACK_WITHIN,
        )
        .unwrap();
    assert!(
        ack_text(&ack).contains("not a person in warroom's response plan"),
        "{ack}"
    );
    let (_, list) = sl.api.get("/api/v1/incidents");
    assert_eq!(list["incidents"], json!([]));
}
