//! Discord over HTTP: interactions signed with an Ed25519 key exactly as Discord signs them
//! (its public key in the test plan), into a running warroom whose Discord REST API is a local
//! stand-in that records calls.

use std::time::{Duration, Instant};

use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};
use warroom_tests::api::{Api, incident_id_in, plan_with};
use warroom_tests::fake_discord::{
    FakeDiscord, content, incident_open_options, quarantine_options, wait,
};
use warroom_tests::fake_slack::FakeSlack;
use warroom_tests::{Scratch, Server};

const APP: &str = "1187654321098765432";
const GUILD: &str = "1123456789012345678";
const CATEGORY: &str = "1123456789012340001";
const GENERAL: &str = "1123456789012340002";
const ALICE: &str = "80351110224678912";
const BOB: &str = "80351110224678913";
const ALICE_SLACK: &str = "U024BE7LH";
const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

struct Discord {
    _s: Scratch,
    server: Server,
    api: Api,
    fake: FakeDiscord,
    slack: FakeSlack,
    key: SigningKey,
    next: std::cell::Cell<u64>,
}

fn start() -> Discord {
    let s = Scratch::new();
    let fake = FakeDiscord::start();
    let slack = FakeSlack::start();
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let mut changes = vec![
        ("drill = false", "drill = true".to_owned()),
        ("notify = false", "notify = true".to_owned()),
    ];
    changes.extend(fake.plan_changes(&key));
    changes.extend(slack.plan_changes());
    let refs: Vec<(&str, &str)> = changes.iter().map(|(a, b)| (*a, b.as_str())).collect();
    let plan = plan_with(&refs);
    s.write("plan.toml", &plan);
    let server = serve(&s);
    let api = Api::new(&server.addr);
    Discord {
        _s: s,
        server,
        api,
        fake,
        slack,
        key,
        next: std::cell::Cell::new(3_000_000_000_000_000_000),
    }
}

fn serve(s: &Scratch) -> Server {
    let file = s.path().join("plan.toml");
    Server::start_with_env(
        s,
        &["--config", file.to_str().unwrap()],
        &[
            ("DISCORD_BOT_TOKEN", "discord-test-token"),
            ("SLACK_BOT_TOKEN", "xoxb-test-token"),
            ("SLACK_SIGNING_SECRET", SLACK_SECRET),
            ("WARROOM_SLACK_SEND_INTERVAL_MS", "10"),
        ],
    )
}

impl Discord {
    /// POST the body signed as Discord signs it (Ed25519 over timestamp + body).
    fn post_raw(&self, body: &str, timestamp: i64, tamper: bool) -> (u16, String, Duration) {
        let ts = timestamp.to_string();
        let signature = hex::encode(self.key.sign(format!("{ts}{body}").as_bytes()).to_bytes());
        let sent = if tamper {
            body.replacen('a', "b", 1)
        } else {
            body.to_owned()
        };
        let t = Instant::now();
        let mut resp = warroom_tests::agent()
            .post(&format!("http://{}/discord/interactions", self.server.addr))
            .header("content-type", "application/json")
            .header("x-signature-ed25519", &signature)
            .header("x-signature-timestamp", &ts)
            .send(sent)
            .unwrap();
        let status = resp.status().as_u16();
        (
            status,
            resp.body_mut().read_to_string().unwrap_or_default(),
            t.elapsed(),
        )
    }

    fn post(&self, body: &Value) -> Value {
        let (status, text, took) =
            self.post_raw(&body.to_string(), warroom_tests::unix_now(), false);
        assert_eq!(status, 200, "{text}");
        assert!(took < Duration::from_secs(3), "answered in {took:?}");
        serde_json::from_str(&text).unwrap()
    }

    fn id(&self) -> String {
        let n = self.next.get() + 1;
        self.next.set(n);
        n.to_string()
    }

    /// A slash command as Discord sends it from a guild channel.
    fn command(&self, user: &str, channel: &str, name: &str, options: Value) -> Value {
        json!({
            "type": 2, "id": self.id(), "application_id": APP, "token": format!("tok-{}", self.id()),
            "guild_id": GUILD, "channel_id": channel, "version": 1,
            "member": { "user": { "id": user, "username": "u" }, "roles": [], "permissions": "0" },
            "data": { "id": "1", "name": name, "type": 1, "options": options },
        })
    }

    fn click(&self, user: &str, channel: &str, custom_id: &str) -> Value {
        json!({
            "type": 3, "id": self.id(), "application_id": APP, "token": format!("tok-{}", self.id()),
            "guild_id": GUILD, "channel_id": channel, "version": 1,
            "member": { "user": { "id": user, "username": "u" }, "roles": [], "permissions": "0" },
            "message": { "id": "1", "channel_id": channel },
            "data": { "custom_id": custom_id, "component_type": 2 },
        })
    }

    /// alice asks to quarantine payments/api-7f9c in `channel`: the Approve button's id and
    /// the card Discord got.
    fn ask_quarantine(&self, inc: &str, channel: &str) -> (String, Value) {
        let asked = self.post(&self.command(ALICE, channel, "quarantine", quarantine_options()));
        assert!(content(&asked).contains("R1 opened"), "{asked}");
        let approve = format!("warroom:approve:{inc}/R1");
        let card = wait("the approval card", || {
            self.fake
                .messages_in(channel)
                .into_iter()
                .find(|m| m["components"][0]["components"][0]["custom_id"] == approve.as_str())
        });
        (approve, card)
    }

    fn open_incident(&self) -> (String, String) {
        let opened = self.post(&self.command(ALICE, GENERAL, "incident", incident_open_options()));
        assert_eq!(opened["type"], 4, "{opened}");
        assert_eq!(opened["data"]["flags"], 64, "answered only to the person");
        let text = opened["data"]["content"].as_str().unwrap();
        assert!(text.contains("opened INC-"), "{text}");
        let inc = incident_id_in(text);
        let channel = wait("the incident channel", || {
            self.fake.channel_named("shell-in-payments-api")
        });
        (inc, channel["id"].as_str().unwrap().to_owned())
    }
}

#[test]
fn ping_is_pong_and_bad_signatures_stale_timestamps_and_replays_are_refused() {
    let d = start();
    let ping = json!({ "type": 1, "id": "1", "application_id": APP, "token": "t", "version": 1 });
    assert_eq!(d.post(&ping), json!({ "type": 1 }));
    let note = d.command(ALICE, GENERAL, "help", json!([]));
    // One changed byte: 401, nothing done.
    let (status, text, _) = d.post_raw(&note.to_string(), warroom_tests::unix_now(), true);
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("invalid request signature"), "{text}");
    // Signed, but six minutes old.
    let (status, text, _) = d.post_raw(&note.to_string(), warroom_tests::unix_now() - 360, false);
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("5 minutes"), "{text}");
    // No signature at all.
    let mut resp = warroom_tests::agent()
        .post(&format!("http://{}/discord/interactions", d.server.addr))
        .header("content-type", "application/json")
        .send(note.to_string())
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert!(
        resp.body_mut()
            .read_to_string()
            .unwrap()
            .contains("missing")
    );
    // A replayed interaction (same id, signed anew) has one effect.
    let (inc, channel) = d.open_incident();
    let noted = d.command(
        ALICE,
        &channel,
        "note",
        json!([{ "type": 3, "name": "text", "value": "pod isolated by hand" }]),
    );
    assert!(content(&d.post(&noted)).contains("recorded"));
    assert_eq!(content(&d.post(&noted)), "already received; handled once");
    assert_eq!(d.api.count(&inc, "note"), 1);
    // Someone who is not in the plan: refused, saying what to add, nothing recorded.
    let stranger = d.command(
        "99999999999999999",
        &channel,
        "note",
        json!([{ "type": 3, "name": "text", "value": "hello" }]),
    );
    let refused = content(&d.post(&stranger));
    assert!(refused.contains("people.discord"), "{refused}");
    assert_eq!(d.api.count(&inc, "note"), 1);
    // A command warroom does not know: said so.
    let unknown = d.command(ALICE, &channel, "nuke", json!([]));
    assert!(content(&d.post(&unknown)).contains("not one of warroom's commands"));
}

#[test]
fn a_quarantine_asked_by_alice_is_approved_by_bobs_click_and_the_card_is_edited_in_place() {
    let d = start();
    let (inc, channel) = d.open_incident();
    // The channel: under the category, hidden from @everyone, the bot and responders allowed.
    let created = d.fake.channel_named("shell-in-payments-api").unwrap();
    assert_eq!(created["parent_id"], CATEGORY);
    let overwrites = created["permission_overwrites"].as_array().unwrap();
    let everyone = overwrites.iter().find(|o| o["id"] == GUILD).unwrap();
    assert_eq!(
        everyone["deny"],
        (1u64 << 10).to_string(),
        "VIEW_CHANNEL denied"
    );
    assert!(overwrites.iter().any(|o| o["id"] == APP && o["type"] == 1));
    let allowed: Vec<String> = d
        .fake
        .calls()
        .into_iter()
        .filter(|(m, p, _)| {
            m == "PUT" && p.starts_with(&format!("/channels/{channel}/permissions/"))
        })
        .map(|(_, p, _)| p.rsplit('/').next().unwrap().to_owned())
        .collect();
    assert!(
        allowed.contains(&ALICE.to_owned()) && allowed.contains(&BOB.to_owned()),
        "{allowed:?}"
    );
    assert!(
        wait("the pinned summary", || {
            d.fake
                .calls()
                .into_iter()
                .find(|(m, p, _)| m == "PUT" && p.contains(&format!("/channels/{channel}/pins/")))
        })
        .1
        .contains("/pins/")
    );
    // alice asks in the incident's channel.
    let (approve, card) = d.ask_quarantine(&inc, &channel);
    assert!(card["embeds"][0]["title"].as_str().is_some(), "{card}");
    let card_id = card["id"].as_str().unwrap().to_owned();
    // alice's own click is refused; bob's runs it.
    let own = d.post(&d.click(ALICE, &channel, &approve));
    assert_eq!(
        content(&own),
        "alice asked for R1 and cannot approve it: a second person must"
    );
    let click = d.click(BOB, &channel, &approve);
    let approved = d.post(&click);
    assert!(content(&approved).contains("approved by bob"), "{approved}");
    assert_eq!(d.api.request(&inc, "R1")["status"], "executed");
    // The same card, edited in place: executed, no buttons.
    wait("the card to show executed", || {
        let now = d
            .fake
            .messages()
            .into_iter()
            .find(|m| m["id"] == card_id.as_str())?;
        let footer = now["embeds"][0]["footer"]["text"].as_str()?.to_owned();
        (footer.contains("executed") && now["components"] == json!([])).then_some(())
    });
    // Bob's click delivered again: one effect.
    assert_eq!(content(&d.post(&click)), "already received; handled once");
    assert_eq!(d.api.count(&inc, "request.approved"), 1);
}

#[test]
fn a_page_dm_is_acknowledged_with_its_button() {
    let d = start();
    let (inc, channel) = d.open_incident();
    let paged = d.post(&d.command(
        ALICE,
        &channel,
        "page",
        json!([{ "type": 3, "name": "target", "value": "bob" },
               { "type": 3, "name": "text", "value": "need a second pair of eyes" }]),
    ));
    assert!(content(&paged).contains("recorded"), "{paged}");
    let dm = wait("bob's DM", || {
        d.fake.messages().into_iter().find(|m| {
            m["content"]
                .as_str()
                .is_some_and(|c| c.contains("need a second pair of eyes"))
                && m["channel_id"].as_str().is_some_and(|c| c.starts_with('9'))
        })
    });
    let ack = dm["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(ack.starts_with(&format!("warroom:ack:{inc}#")), "{ack}");
    let outbox = d.api.incident(&inc)["incident"]["outbox"].clone();
    wait("the Discord delivery recorded", || {
        (d.api.incident(&inc)["incident"]["outbox"]["P1/discord/bob"]["state"] == "delivered")
            .then_some(())
    });
    assert!(outbox.get("P1/discord/bob").is_some(), "{outbox}");
    let acked = d.post(&d.click(BOB, dm["channel_id"].as_str().unwrap(), &ack));
    assert!(content(&acked).contains("acknowledged"), "{acked}");
    assert_eq!(d.api.count(&inc, "page.acknowledged"), 1);
}

#[test]
fn a_request_made_on_slack_cannot_be_approved_by_the_same_persons_discord_account() {
    let d = start();
    let (inc, channel) = d.open_incident();
    // alice asks on Slack, in the incident's Slack channel.
    let body = format!(
        "command=%2Fquarantine&text={}&user_id={ALICE_SLACK}&user_name=alice&channel_id=C0INCIDENT&team_id=T1&trigger_id=slack-t1&response_url={}",
        warroom_tests::fake_slack::form_encode("pod payments/api-7f9c --reason \"shell spawned\""),
        warroom_tests::fake_slack::form_encode(&d.slack.response_url("t1"))
    );
    let ts = warroom_tests::unix_now().to_string();
    let sig = warroom_adapters::chat::slack::signature::sign(
        SLACK_SECRET.as_bytes(),
        &ts,
        body.as_bytes(),
    );
    let mut resp = warroom_tests::agent()
        .post(&format!("http://{}/slack/commands", d.server.addr))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", &ts)
        .header("x-slack-signature", &sig)
        .send(body)
        .unwrap();
    let text = resp.body_mut().read_to_string().unwrap();
    assert!(text.contains("R1 opened"), "{text}");
    let approve = format!("warroom:approve:{inc}/R1");
    wait("the Discord card", || {
        d.fake
            .messages_in(&channel)
            .into_iter()
            .find(|m| m["components"][0]["components"][0]["custom_id"] == approve.as_str())
    });
    // alice's Discord account is alice: refused.
    let own = d.post(&d.click(ALICE, &channel, &approve));
    assert_eq!(
        content(&own),
        "alice asked for R1 and cannot approve it: a second person must"
    );
    assert_eq!(d.api.count(&inc, "request.approved"), 0);
    // bob on Discord approves; the Slack card follows.
    let approved = d.post(&d.click(BOB, &channel, &approve));
    assert!(content(&approved).contains("approved by bob"), "{approved}");
    wait("the Slack card to show executed", || {
        d.slack
            .calls_to("chat.update")
            .into_iter()
            .find(|b| b.contains("executed"))
    });
}

#[test]
fn register_overwrites_the_commands_and_says_what_changed() {
    let d = start();
    let run = || {
        let out =
            d._s.command(&["--config", "plan.toml", "discord", "register"])
                .env("DISCORD_BOT_TOKEN", "discord-test-token")
                .output()
                .unwrap();
        warroom_tests::Outcome(out).expect_code(0).stdout()
    };
    let first = run();
    assert!(first.contains("added     quarantine"), "{first}");
    assert!(first.contains("added     Add to timeline"), "{first}");
    assert!(
        first.contains(&format!("registered in guild {GUILD}")),
        "{first}"
    );
    let second = run();
    assert!(second.contains("unchanged quarantine"), "{second}");
    assert!(!second.contains("added "), "{second}");
    let puts = d.fake.calls_to(
        "PUT",
        &format!("/applications/{APP}/guilds/{GUILD}/commands"),
    );
    assert_eq!(puts.len(), 2);
    assert!(
        puts[0]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "approve")
    );
}

#[test]
fn posts_through_429s_all_arrive_in_order_and_a_long_one_comes_with_the_whole_text_attached() {
    let d = start();
    d.fake.add_channel("1123456789012349999", "incidents");
    let (inc, channel) = d.open_incident();
    d.fake.rate_limit_every(3);
    for i in 0..12 {
        let noted = d.post(&d.command(
            ALICE,
            &channel,
            "status-update",
            json!([{ "type": 3, "name": "text", "value": format!("step {i:02} done") }]),
        ));
        assert!(content(&noted).contains("recorded"), "{noted}");
    }
    let posted = wait("all twelve updates in the channel", || {
        let found: Vec<String> = d
            .fake
            .messages_in(&channel)
            .into_iter()
            .filter_map(|m| m["content"].as_str().map(str::to_owned))
            .filter(|c| c.contains("step "))
            .collect();
        (found.len() == 12).then_some(found)
    });
    for (i, text) in posted.iter().enumerate() {
        assert!(
            text.contains(&format!("step {i:02} done")),
            "out of order: {posted:#?}"
        );
    }
    assert_eq!(d.api.count(&inc, "status.update"), 12);
    // The stakeholder channel gets every status update too.
    wait("the stakeholder channel's updates", || {
        let n = d
            .fake
            .messages_in("1123456789012349999")
            .into_iter()
            .filter(|m| {
                m["content"]
                    .as_str()
                    .is_some_and(|c| c.contains("status: step"))
            })
            .count();
        (n == 12).then_some(())
    });
    // Over Discord's 2,000 characters: the first lines, and the whole text attached.
    d.fake.rate_limit_every(0);
    let long: String = (0..120)
        .map(|i| format!("line {i:03} of the capture "))
        .collect();
    let long_update = d.post(&d.command(
        ALICE,
        &channel,
        "status-update",
        json!([{ "type": 3, "name": "text", "value": long }]),
    ));
    assert!(content(&long_update).contains("recorded"), "{long_update}");
    let attached = wait("the long message", || {
        d.fake
            .calls()
            .into_iter()
            .find(|(m, p, b)| m == "POST" && p.ends_with("/messages") && b.contains("message.txt"))
    });
    assert!(
        attached.2.contains("(the whole text is attached)"),
        "{}",
        attached.2
    );
    assert!(
        attached.2.contains("line 119 of the capture"),
        "the file holds the whole text"
    );
}

#[test]
fn after_a_kill_the_channels_and_cards_come_from_the_ledger_and_the_next_decision_edits_them() {
    let mut d = start();
    let (inc, channel) = d.open_incident();
    let (approve, card) = d.ask_quarantine(&inc, &channel);
    wait("the Slack card", || {
        d.slack
            .calls_to("chat.postMessage")
            .into_iter()
            .find(|b| b.contains("warroom_approve"))
    });
    wait("the card recorded", || {
        let cards = d.api.incident(&inc)["incident"]["cards"]["R1"].clone();
        (cards.get("discord").is_some() && cards.get("slack").is_some()).then_some(())
    });
    let created = |d: &Discord| {
        d.fake
            .calls_to("POST", &format!("/guilds/{GUILD}/channels"))
            .len()
    };
    let slack_created = |d: &Discord| d.slack.calls_to("conversations.create").len();
    let (before, slack_before) = (created(&d), slack_created(&d));
    // SIGKILL in the middle of the incident; a new process knows nothing in memory.
    let _ = d.server.child.kill();
    let _ = d.server.child.wait();
    d.server = serve(&d._s);
    d.api = Api::new(&d.server.addr);
    // A command typed in the incident's channel still belongs to it.
    let update = d.post(&d.command(
        ALICE,
        &channel,
        "status-update",
        json!([{ "type": 3, "name": "text", "value": "isolating" }]),
    ));
    assert!(content(&update).contains("recorded"), "{update}");
    // bob approves: the same cards are edited on both platforms; no channel is made anew.
    let approved = d.post(&d.click(BOB, &channel, &approve));
    assert!(content(&approved).contains("approved by bob"), "{approved}");
    let card_id = card["id"].as_str().unwrap().to_owned();
    wait("the same Discord card to show executed", || {
        d.fake.calls().into_iter().find(|(m, p, b)| {
            m == "PATCH"
                && p == &format!("/channels/{channel}/messages/{card_id}")
                && b.contains("executed")
        })
    });
    wait("the Slack card to show executed", || {
        d.slack
            .calls_to("chat.update")
            .into_iter()
            .find(|b| b.contains("executed"))
    });
    assert_eq!(created(&d), before, "no second Discord channel");
    assert_eq!(slack_created(&d), slack_before, "no second Slack channel");
    let new_cards = d
        .fake
        .messages_in(&channel)
        .into_iter()
        .filter(|m| {
            m["embeds"][0]["footer"]["text"]
                .as_str()
                .is_some_and(|f| f.starts_with("R1"))
        })
        .count();
    assert_eq!(new_cards, 1, "the card was edited, not posted again");
}

#[test]
fn add_to_timeline_records_the_message_with_its_author_and_autocomplete_offers_requests_and_pods() {
    let d = start();
    let (inc, channel) = d.open_incident();
    let message = json!({
        "type": 2, "id": d.id(), "application_id": APP, "token": "tok-pin",
        "guild_id": GUILD, "channel_id": channel, "version": 1,
        "member": { "user": { "id": BOB, "username": "bob" }, "roles": [], "permissions": "0" },
        "data": {
            "id": "2", "name": "Add to timeline", "type": 3, "target_id": "1300000000000000001",
            "resolved": { "messages": { "1300000000000000001": {
                "id": "1300000000000000001", "channel_id": channel,
                "author": { "id": ALICE, "username": "alice" },
                "content": "egress to 203.0.113.9 stopped after the policy", "timestamp": "2026-12-01T02:05:00.000000+00:00"
            }}}
        },
    });
    let pinned = d.post(&message);
    assert!(content(&pinned).contains("recorded"), "{pinned}");
    assert_eq!(content(&d.post(&message)), "already received; handled once");
    let entry = d.api.incident(&inc)["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "message.pinned")
        .cloned()
        .unwrap();
    assert_eq!(entry["data"]["platform"], "discord");
    assert_eq!(entry["data"]["author"], "person:alice");
    assert_eq!(entry["actor"], "person:bob");
    assert_eq!(
        entry["data"]["posted_at"],
        "2026-12-01T02:05:00.000000+00:00"
    );
    assert_eq!(
        entry["data"]["permalink"],
        format!("https://discord.com/channels/{GUILD}/{channel}/1300000000000000001")
    );
    // Autocomplete: the open request ids of this channel's incident, and the drill's pods.
    d.ask_quarantine(&inc, &channel);
    let ask = |name: &str, options: Value| {
        let mut body = d.command(ALICE, &channel, name, options);
        body["type"] = json!(4);
        d.post(&body)
    };
    let requests = ask(
        "approve",
        json!([{ "type": 3, "name": "request", "value": "R", "focused": true }]),
    );
    assert_eq!(requests["type"], 8, "{requests}");
    assert_eq!(requests["data"]["choices"][0]["value"], "R1", "{requests}");
    let pods = ask(
        "capture",
        json!([{ "type": 1, "name": "pod", "options": [
            { "type": 3, "name": "target", "value": "payments/api", "focused": true }]}]),
    );
    let offered: Vec<&str> = pods["data"]["choices"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["value"].as_str())
        .collect();
    assert!(offered.contains(&"payments/api-7f9c"), "{pods}");
    // Someone in the guild but not in the plan is offered nothing: not the cluster's
    // inventory, not the incident's requests.
    let stranger = |name: &str, options: Value| {
        let mut body = d.command("80351110224678999", &channel, name, options);
        body["type"] = json!(4);
        d.post(&body)
    };
    for (name, options) in [
        (
            "capture",
            json!([{ "type": 1, "name": "pod", "options": [
                { "type": 3, "name": "target", "value": "", "focused": true }]}]),
        ),
        (
            "approve",
            json!([{ "type": 3, "name": "request", "value": "", "focused": true }]),
        ),
    ] {
        let offered = stranger(name, options);
        assert_eq!(offered["type"], 8, "{offered}");
        assert_eq!(offered["data"]["choices"], json!([]), "{name}: {offered}");
    }
}
