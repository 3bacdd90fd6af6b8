//! Slack over HTTP: requests signed exactly as Slack signs them, into a running warroom whose
//! Slack Web API is a local stand-in that records calls.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warroom_adapters::chat::slack::signature::sign;
use warroom_tests::api::{Api, incident_id_in, plan_with};
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
    start_with(&[])
}

/// warroom with Slack in http mode against a fresh stand-in, plus plan `changes`.
fn start_with(changes: &[(&str, &str)]) -> Slack {
    let s = Scratch::new();
    let fake = FakeSlack::start();
    let mut base_changes = vec![
        ("drill = false", "drill = true".to_owned()),
        ("notify = false", "notify = true".to_owned()),
    ];
    base_changes.extend(fake.plan_changes());
    let mut all: Vec<(&str, &str)> = base_changes.iter().map(|(a, b)| (*a, b.as_str())).collect();
    all.extend_from_slice(changes);
    let plan = plan_with(&all);
    let file = s.write("plan.toml", &plan);
    let server = Server::start_with_env(
        &s,
        &["--config", file.to_str().unwrap()],
        &[
            ("SLACK_BOT_TOKEN", "xoxb-test-token"),
            ("SLACK_SIGNING_SECRET", SECRET),
            ("WARROOM_SLACK_SEND_INTERVAL_MS", "10"),
            ("WARROOM_FALCO_TOKEN", "falco-t"),
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
    post_signed_with(base, path, body, secret, timestamp, &[])
}

/// As [`post_signed`], with extra headers (e.g. Slack's retry headers).
fn post_signed_with(
    base: &str,
    path: &str,
    body: &str,
    secret: &str,
    timestamp: &str,
    headers: &[(&str, &str)],
) -> (u16, String, Duration) {
    let signature = sign(secret.as_bytes(), timestamp, body.as_bytes());
    let content_type = if body.starts_with('{') {
        "application/json"
    } else {
        "application/x-www-form-urlencoded"
    };
    let t = Instant::now();
    let mut request = warroom_tests::agent()
        .post(&format!("{base}{path}"))
        .header("content-type", content_type)
        .header("x-slack-request-timestamp", timestamp)
        .header("x-slack-signature", &signature);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let mut resp = request.send(body).unwrap();
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
    let inc = incident_id_in(&opened);
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

    // The card pulls in the people who may approve (bob, carol, dave, erin, grace), by
    // mention, and not alice, who asked; it says what the change will be.
    let card = sl
        .fake
        .calls_to("chat.postMessage")
        .into_iter()
        .find(|b| b.contains("warroom_approve"))
        .unwrap();
    assert!(
        card.contains("*Can approve:* <@U024BE7LJ> <@U024BE7LK> <@U024BE7LM> <@U024BE7LN>")
            && !card.contains("<@U024BE7LH>"),
        "{card}"
    );
    assert!(card.contains("plan of change: will label"), "{card}");

    // alice's own click is refused; bob's runs it.
    let (status, body, _) = post_signed(
        &sl.base,
        "/slack/interactions",
        &click(ALICE, "warroom_approve", &format!("{inc}/R1"), "c1"),
        SECRET,
        &now(),
    );
    assert_eq!(status, 200);
    assert_eq!(
        text_of(&body),
        "alice asked for R1 and cannot approve it: a second person must"
    );
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
    let approvals = sl.api.count(&inc, "request.approved");
    assert_eq!(approvals, 1);

    // The channel's pinned board says what is contained and how to undo it, and follows the
    // incident: a release edits the same message.
    sl.wait_for_call("chat.postMessage", "the board", |b| {
        b.contains("contained now (1):") && b.contains("release pod payments/api-7f9c")
    });
    sl.wait_for_call("pins.add", "the board pinned", |_| true);
    sl.api.ok(
        "alice",
        "release pod payments/api-7f9c --reason \"rebuilt\"",
        Some(&inc),
    );
    sl.api.ok("bob", "approve R2", Some(&inc));
    sl.wait_for_call("chat.update", "the board edited in place", |b| {
        b.contains("nothing contained")
    });
    let boards = sl
        .fake
        .calls_to("chat.postMessage")
        .iter()
        .filter(|b| b.contains("contained now") || b.contains("nothing contained"))
        .count();
    assert_eq!(
        boards, 1,
        "one board message, edited, not a new one per change"
    );
}

#[test]
fn bad_signatures_old_timestamps_and_unknown_users_are_refused_and_record_nothing() {
    let sl = start();
    let body = command(ALICE, "/incident", "open \"x\"", "C0GENERAL", "t9");
    let (status, text, _) =
        post_signed(&sl.base, "/slack/commands", &body, "not-the-secret", &now());
    assert_eq!(status, 401, "{text}");
    assert_eq!(
        text,
        "invalid Slack signature: signature does not match the request"
    );
    let old = (now().parse::<i64>().unwrap() - 600).to_string();
    let (status, text, _) = post_signed(&sl.base, "/slack/commands", &body, SECRET, &old);
    assert_eq!(status, 401, "{text}");
    assert!(
        text.starts_with("invalid Slack signature: request timestamp is 60")
            && text.ends_with("s from now (limit 300 s): stale or replayed"),
        "{text}"
    );
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

impl Slack {
    fn post(&self, path: &str, body: &str) -> (u16, String, Duration) {
        post_signed(&self.base, path, body, SECRET, &now())
    }

    /// A slash command whose `response_url` points at the stand-in.
    fn command(&self, user: &str, cmd: &str, text: &str, channel: &str, trigger: &str) -> String {
        command(user, cmd, text, channel, trigger).replace(
            &form_encode("https://hooks.slack.com/commands/T1/1/x"),
            &form_encode(&self.fake.response_url(trigger)),
        )
    }

    /// Opens an incident from Slack; its channel is the stand-in's `C0INCIDENT`.
    fn open_incident(&self) -> String {
        let (status, body, _) = self.post(
            "/slack/commands",
            &self.command(
                ALICE,
                "/incident",
                "open \"Shell in payments api\"",
                "C0GENERAL",
                "open-1",
            ),
        );
        assert_eq!(status, 200, "{body}");
        let text = text_of(&body);
        incident_id_in(&text)
    }

    fn wait_for_call(&self, method: &str, what: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(found) = self.fake.calls_to(method).into_iter().find(|b| check(b)) {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: no matching {method} in {:?}",
                self.fake.calls()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn reaction_event(event_id: &str, user: &str, channel: &str, ts: &str) -> String {
    json!({
        "token": "x",
        "team_id": "T1",
        "api_app_id": "A1",
        "type": "event_callback",
        "event_id": event_id,
        "event_time": 1764200100,
        "event": {
            "type": "reaction_added",
            "user": user,
            "reaction": "pushpin",
            "item_user": BOB,
            "item": { "type": "message", "channel": channel, "ts": ts },
            "event_ts": "1764200100.000200"
        }
    })
    .to_string()
}

#[test]
fn the_incident_summary_is_pinned_and_the_channel_topic_set() {
    let sl = start();
    let inc = sl.open_incident();
    let topic = sl.wait_for_call("conversations.setTopic", "topic", |b| b.contains(&inc));
    assert!(topic.contains("Shell in payments api"), "{topic}");
    sl.wait_for_call("pins.add", "summary pinned", |b| b.contains("C0INCIDENT"));
    let summary = sl.wait_for_call("chat.postMessage", "summary", |b| {
        b.contains(&format!("{inc} opened by alice"))
    });
    assert!(summary.contains("chain head"), "{summary}");
}

#[test]
fn a_pushpin_reaction_adds_the_message_to_the_timeline_once_with_its_author_time_and_permalink() {
    let sl = start();
    let inc = sl.open_incident();
    sl.fake.add_message(
        "C0INCIDENT",
        "1764200050.000300",
        BOB,
        "egress to 203.0.113.9:4444 seen from api-7f9c",
    );
    let event = reaction_event("Ev0PIN1", ALICE, "C0INCIDENT", "1764200050.000300");
    // Slack redelivers an event it thinks was missed, with the same event_id.
    for retry in ["", "1", "2"] {
        let headers: Vec<(&str, &str)> = if retry.is_empty() {
            vec![]
        } else {
            vec![
                ("x-slack-retry-num", retry),
                ("x-slack-retry-reason", "http_timeout"),
            ]
        };
        let (status, body, took) =
            post_signed_with(&sl.base, "/slack/events", &event, SECRET, &now(), &headers);
        assert_eq!(status, 200, "{body}");
        assert!(took < Duration::from_secs(3));
    }
    let record = sl.api.wait_until(&inc, "the pinned message", |i| {
        i["timeline"]
            .as_array()
            .is_some_and(|t| t.iter().any(|e| e["kind"] == "message.pinned"))
    });
    let pinned: Vec<&Value> = record["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "message.pinned")
        .collect();
    assert_eq!(pinned.len(), 1, "three deliveries, one entry: {pinned:?}");
    let data = &pinned[0]["data"];
    assert_eq!(data["author"], "person:bob");
    assert_eq!(data["posted_at"], "2025-11-26T23:34:10.000300Z");
    assert_eq!(
        data["text"],
        "egress to 203.0.113.9:4444 seen from api-7f9c"
    );
    assert_eq!(data["channel"], "C0INCIDENT");
    assert!(
        data["permalink"].as_str().unwrap().starts_with("https://"),
        "{data}"
    );
    assert_eq!(pinned[0]["actor"], "person:alice", "who pinned it");
    // Other reactions, and pins by people outside the plan, record nothing.
    let other = reaction_event("Ev0PIN2", "U999NOBODY", "C0INCIDENT", "1764200050.000300");
    sl.post("/slack/events", &other);
    let thumbs = reaction_event("Ev0PIN3", ALICE, "C0INCIDENT", "1764200050.000300")
        .replace("pushpin", "thumbsup");
    sl.post("/slack/events", &thumbs);
    std::thread::sleep(Duration::from_millis(500));
    let count = sl.api.count(&inc, "message.pinned");
    assert_eq!(count, 1);
}

#[test]
fn a_mention_runs_the_command_and_answers_in_the_thread() {
    let sl = start();
    let inc = sl.open_incident();
    let event = json!({
        "type": "event_callback", "team_id": "T1", "api_app_id": "A1",
        "event_id": "Ev0MENTION", "event_time": 1764200100,
        "event": {
            "type": "app_mention", "user": BOB, "channel": "C0INCIDENT",
            "text": "<@U0BOT> note attacker IP 203.0.113.9", "ts": "1764200060.000400"
        }
    })
    .to_string();
    let (status, _, _) = sl.post("/slack/events", &event);
    assert_eq!(status, 200);
    let reply = sl.wait_for_call("chat.postMessage", "answer in the thread", |b| {
        b.contains("\"thread_ts\":\"1764200060.000400\"")
    });
    assert!(reply.contains("recorded"), "{reply}");
    let record = sl.api.incident(&inc);
    assert!(
        record["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "note"
                && e["data"]["text"] == "attacker IP 203.0.113.9"
                && e["actor"] == "person:bob"),
        "{record}"
    );
}

#[test]
fn a_slash_command_redelivered_three_times_has_one_effect() {
    let sl = start();
    let inc = sl.open_incident();
    let body = sl.command(
        ALICE,
        "/note",
        "pod restarted twice at 02:10",
        "C0INCIDENT",
        "retry-1",
    );
    let mut answers = Vec::new();
    for retry in ["", "1", "2"] {
        let headers: Vec<(&str, &str)> = if retry.is_empty() {
            vec![]
        } else {
            vec![("x-slack-retry-num", retry)]
        };
        let (status, reply, _) =
            post_signed_with(&sl.base, "/slack/commands", &body, SECRET, &now(), &headers);
        assert_eq!(status, 200);
        answers.push(text_of(&reply));
    }
    assert!(answers[0].starts_with("recorded: Note"), "{answers:?}");
    assert_eq!(answers[1], "already received; handled once");
    assert_eq!(answers[2], "already received; handled once");
    let notes = sl.api.count(&inc, "note");
    assert_eq!(notes, 1);
}

#[test]
fn a_click_on_an_expired_card_is_refused_and_approves_nothing() {
    let sl = start_with(&[("pending_ttl = \"15m\"", "pending_ttl = \"1s\"")]);
    let inc = sl.open_incident();
    let (_, body, _) = sl.post(
        "/slack/commands",
        &sl.command(
            ALICE,
            "/quarantine",
            "pod payments/api-7f9c --reason \"shell\"",
            "C0INCIDENT",
            "q-1",
        ),
    );
    assert!(text_of(&body).contains("R1 opened"), "{body}");
    // The sweeper expires it and the card says so.
    sl.wait_for_call("chat.update", "card shows expiry", |b| {
        b.contains("expired")
    });
    let (status, body, _) = sl.post(
        "/slack/interactions",
        &click(BOB, "warroom_approve", &format!("{inc}/R1"), "late-click"),
    );
    assert_eq!(status, 200);
    let answer = text_of(&body);
    assert!(
        answer.contains("R1") && answer.contains("expired"),
        "{answer}"
    );
    let kinds = sl.api.kinds(&inc);
    assert!(!kinds.iter().any(|k| k == "request.approved"), "{kinds:?}");
    assert!(!kinds.iter().any(|k| k == "request.executing"), "{kinds:?}");
    assert_eq!(sl.api.request(&inc, "R1")["status"], "expired");
}

#[test]
fn thirty_posts_to_one_channel_in_a_burst_through_429s_all_arrive_in_order() {
    let sl = start();
    let inc = sl.open_incident();
    sl.fake.rate_limit_every(7);
    for n in 0..30 {
        let (status, body, took) = sl.post(
            "/slack/commands",
            &sl.command(
                ALICE,
                "/status-update",
                &format!("burst update {n:02}"),
                "C0INCIDENT",
                &format!("b-{n}"),
            ),
        );
        assert_eq!(status, 200, "{body}");
        assert!(took < Duration::from_secs(3), "acknowledged in {took:?}");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let delivered = loop {
        let seen: Vec<u32> = sl
            .fake
            .calls_to("chat.postMessage")
            .iter()
            .filter_map(|b| {
                let at = b.find("burst update ")? + "burst update ".len();
                b.get(at..at + 2)?.parse().ok()
            })
            .collect();
        if seen.len() >= 30 || Instant::now() > deadline {
            break seen;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        delivered,
        (0..30).collect::<Vec<u32>>(),
        "all delivered, in order, once"
    );
    assert_eq!(
        sl.api
            .kinds(&inc)
            .iter()
            .filter(|k| *k == "status.update")
            .count(),
        30
    );
}

#[test]
fn a_slow_command_is_acknowledged_at_once_and_its_answer_follows_on_the_response_url() {
    let sl = start();
    let inc = sl.open_incident();
    // Every call to the cluster now takes 1 s: looking up the target outlasts Slack's window.
    let drill = warroom_tests::drill::Drill::of(&sl._server, "prod-eu");
    drill.post("/drill/latency", &json!({ "ms": 1000, "reads": true }));
    let (status, body, took) = sl.post(
        "/slack/commands",
        &sl.command(
            ALICE,
            "/quarantine",
            "pod payments/api-7f9c --reason \"shell\"",
            "C0INCIDENT",
            "slow-q",
        ),
    );
    assert_eq!(status, 200);
    assert!(took < Duration::from_secs(3), "acknowledged in {took:?}");
    assert!(text_of(&body).starts_with("working on it"), "{body}");
    let followed = sl.wait_for_call("hooks/slow-q", "follow-up", |_| true);
    assert!(followed.contains("R1 opened"), "{followed}");
    assert!(
        followed.contains("\"response_type\":\"ephemeral\""),
        "{followed}"
    );
    drill.post("/drill/latency", &json!({ "ms": 0 }));
    assert_eq!(sl.api.request(&inc, "R1")["status"], "pending");
}

#[test]
fn a_page_reaches_slack_with_an_acknowledge_button_that_acknowledges() {
    let sl = start();
    let inc = sl.open_incident();
    let (_, body, _) = sl.post(
        "/slack/commands",
        &sl.command(
            ALICE,
            "/page",
            "bob need a second pair of eyes",
            "C0INCIDENT",
            "page-1",
        ),
    );
    assert!(text_of(&body).contains("recorded"), "{body}");
    let dm = sl.wait_for_call("chat.postMessage", "the page DM", |b| {
        b.contains("warroom_ack") && b.contains("D0DIRECT")
    });
    assert!(dm.contains(&format!("\"value\":\"{inc}\"")), "{dm}");
    assert_eq!(
        sl.api.incident(&inc)["incident"]["unacknowledged"],
        json!(["bob"])
    );
    let payload = json!({
        "type": "block_actions",
        "user": { "id": BOB, "username": "bob", "team_id": "T1" },
        "team": { "id": "T1" },
        "trigger_id": "ack-click-1",
        "container": { "type": "message", "message_ts": "1764200000.000100", "channel_id": "D0DIRECT" },
        "response_url": sl.fake.response_url("ack-click-1"),
        "actions": [{ "type": "button", "action_id": "warroom_ack", "block_id": "warroom_page", "value": inc }]
    });
    let (status, body, _) = sl.post(
        "/slack/interactions",
        &format!("payload={}", form_encode(&payload.to_string())),
    );
    assert_eq!(status, 200);
    assert!(text_of(&body).contains("acknowledged"), "{body}");
    assert_eq!(sl.api.count(&inc, "page.acknowledged"), 1);
    assert!(
        sl.api.incident(&inc)["incident"]
            .get("unacknowledged")
            .is_none()
    );
}

#[test]
fn an_alert_opens_a_slack_channel_pages_with_a_button_and_tells_the_team_channel() {
    let sl = start();
    sl.fake.add_channel("C0SECOPS", "security-ops");
    let falco = r#"{"rule":"Terminal shell in container","priority":"Warning","output":"A shell was spawned in a container with an attached terminal","output_fields":{"k8s.ns.name":"payments","k8s.pod.name":"api-7f9c","user.name":"root"}}"#;
    let mut resp = warroom_tests::agent()
        .post(&format!("{}/alerts/falco", sl.base))
        .header("authorization", "Bearer falco-t")
        .header("content-type", "application/json")
        .send(falco)
        .unwrap();
    let answer: Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(answer["alerts"][0]["result"], "opened", "{answer}");
    let inc = answer["alerts"][0]["incident"].as_str().unwrap().to_owned();
    sl.wait_for_call("conversations.create", "the incident channel", |b| {
        b.contains("shell-was-spawned") || b.contains("inc-")
    });
    let team = sl.wait_for_call("chat.postMessage", "the team channel", |b| {
        b.contains("C0SECOPS") && b.contains("opened for an alert")
    });
    assert!(team.contains(&inc), "{team}");
    sl.wait_for_call("chat.postMessage", "a page with a button", |b| {
        b.contains("warroom_ack") && b.contains(&inc)
    });
    sl.wait_for_call("chat.postMessage", "the proposals", |b| {
        b.contains("Proposed for this alert")
    });
}

#[test]
fn a_drill_contacts_nobody_outside_unless_the_plan_says_so_and_then_says_drill() {
    // notify off (the example's default): the drill stays on this machine.
    let quiet = start_with(&[("notify = true", "notify = false")]);
    let inc = quiet.api.open_incident("practice run");
    quiet.api.ok("alice", "page security-incident", Some(&inc));
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        quiet.fake.calls().is_empty(),
        "a quiet drill called Slack: {:?}",
        quiet.fake.calls()
    );
    // notify on: Slack is used, and every message starts with the drill marker.
    let loud = start();
    let inc = loud.api.open_incident("practice run");
    loud.api.ok("alice", "page security-incident", Some(&inc));
    let deadline = Instant::now() + Duration::from_secs(10);
    let posts = loop {
        let posts = loud.fake.calls_to("chat.postMessage");
        if posts.len() >= 3 || Instant::now() > deadline {
            break posts;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        posts.len() >= 3,
        "summary, paging notice and DMs: {posts:?}"
    );
    for body in &posts {
        let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        let text = v["text"].as_str().unwrap_or(body);
        assert!(text.starts_with("DRILL — "), "{text}");
    }
}

#[test]
fn two_incidents_with_one_title_get_channels_of_their_own_and_commands_stay_in_theirs() {
    let sl = start();
    // Two alerts with one summary on one day: under `inc-{date}-{slug}` both incidents
    // would be given one channel, and a command typed there could act on the other one.
    let first = sl.api.open_incident("Pod is crash looping");
    let second = sl.api.open_incident("Pod is crash looping");
    let channel_of = |inc: &str| -> (String, String) {
        let body = sl
            .api
            .wait_until(inc, "its Slack channel to be recorded", |b| {
                b["incident"]["channels"]["slack"].is_array()
            });
        let ch = &body["incident"]["channels"]["slack"];
        (
            ch[0].as_str().unwrap().to_owned(),
            ch[1].as_str().unwrap().to_owned(),
        )
    };
    let (c1, n1) = channel_of(&first);
    let (c2, n2) = channel_of(&second);
    assert_ne!(c1, c2, "{first} in {n1}, {second} in {n2}");
    let number = second.rsplit('-').next().unwrap();
    assert_eq!(n2, format!("{n1}-{number}"));
    // The first one's channel kept its topic: the second never joined it.
    let topics = sl.fake.calls_to("conversations.setTopic");
    assert!(
        !topics
            .iter()
            .any(|t| t.contains(&c1) && t.contains(&second)),
        "{topics:?}"
    );
    // A note typed in each channel lands in that channel's incident only.
    for (channel, inc, text) in [
        (&c2, &second, "restarted by the node drain"),
        (&c1, &first, "image pull back-off"),
    ] {
        let (status, body, _) = sl.post(
            "/slack/commands",
            &sl.command(ALICE, "/note", text, channel, &format!("n-{channel}")),
        );
        assert_eq!(status, 200, "{body}");
        assert!(text_of(&body).starts_with("recorded: Note"), "{body}");
        let notes = |i: &str| -> Vec<String> {
            sl.api.incident(i)["timeline"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["kind"] == "note")
                .map(|e| e["data"]["text"].as_str().unwrap_or_default().to_owned())
                .collect()
        };
        assert!(
            notes(inc).iter().any(|n| n == text),
            "{inc}: {:?}",
            notes(inc)
        );
        let other = if inc == &first { &second } else { &first };
        assert!(!notes(other).iter().any(|n| n == text), "{other}");
    }
}
