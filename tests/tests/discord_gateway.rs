//! Discord in gateway mode: warroom's serenity client connects to a local websocket server
//! playing Discord's gateway (HELLO, IDENTIFY, READY, heartbeats, dispatches) while a local
//! stand-in records its REST calls. Interactions arrive as INTERACTION_CREATE and are answered
//! through their callback; 📌 arrives as MESSAGE_REACTION_ADD; `@warroom` as MESSAGE_CREATE.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warroom_tests::api::{Api, incident_id_in, plan_with};
use warroom_tests::fake_discord::{
    FakeDiscord, content, incident_open_options, quarantine_options, wait,
};
use warroom_tests::fake_gateway::FakeGateway;
use warroom_tests::{Scratch, Server};

const APP: &str = "1187654321098765432";
const GUILD: &str = "1123456789012345678";
const GENERAL: &str = "1123456789012340002";
const ALICE: &str = "80351110224678912";
const BOB: &str = "80351110224678913";
const STRANGER: &str = "99999999999999999";

struct Gateway {
    _s: Scratch,
    server: Server,
    api: Api,
    fake: FakeDiscord,
    gateway: FakeGateway,
    next: std::cell::Cell<u64>,
}

fn start() -> Gateway {
    let s = Scratch::new();
    let fake = FakeDiscord::start();
    let gateway = FakeGateway::start(APP, GUILD);
    let plan = plan_with(&[
        ("drill = false", "drill = true"),
        ("notify = false", "notify = true"),
        (
            "mode = \"http\"                   # interactions at /discord/interactions (\"gateway\": connect out)",
            "mode = \"gateway\"",
        ),
        (
            "guild_id = \"1123456789012345678\"",
            &format!(
                "guild_id = \"{GUILD}\"\napi_base_url = \"{}\"\ngateway_url = \"{}\"",
                fake.base, gateway.url
            ),
        ),
    ]);
    assert!(
        plan.contains("mode = \"gateway\""),
        "the plan switched modes"
    );
    s.write("plan.toml", &plan);
    let file = s.path().join("plan.toml");
    let server = Server::start_with_env(
        &s,
        &["--config", file.to_str().unwrap()],
        &[("DISCORD_BOT_TOKEN", "discord-test-token")],
    );
    let api = Api::new(&server.addr);
    Gateway {
        _s: s,
        server,
        api,
        fake,
        gateway,
        next: std::cell::Cell::new(4_000_000_000_000_000_000),
    }
}

fn member(user: &str) -> Value {
    json!({
        "user": { "id": user, "username": format!("u{user}"), "discriminator": "0", "global_name": null, "avatar": null },
        "roles": [], "joined_at": "2026-01-05T10:00:00.000000+00:00", "deaf": false, "mute": false,
        "flags": 0, "pending": false, "permissions": "2248473465835073", "nick": null, "avatar": null
    })
}

impl Gateway {
    fn id(&self) -> String {
        let n = self.next.get() + 1;
        self.next.set(n);
        n.to_string()
    }

    /// What every interaction from a guild channel carries, as the gateway dispatches it.
    fn interaction(&self, kind: u8, user: &str, channel: &str, data: Value) -> Value {
        json!({
            "type": kind, "id": self.id(), "application_id": APP, "token": format!("tok-{}", self.id()),
            "guild_id": GUILD, "channel_id": channel, "version": 1,
            "channel": { "id": channel, "type": 0 },
            "member": member(user), "locale": "en-US", "guild_locale": "en-US",
            "app_permissions": "2248473465835073", "entitlements": [],
            "authorizing_integration_owners": { "0": GUILD }, "context": 0,
            "attachment_size_limit": 10485760,
            "data": data,
        })
    }

    /// A slash command.
    fn command(&self, user: &str, channel: &str, name: &str, options: Value) -> Value {
        let data = json!({ "id": "1310000000000000001", "name": name, "type": 1, "options": options, "guild_id": GUILD });
        self.interaction(2, user, channel, data)
    }

    /// A button click on `message`.
    fn click(&self, user: &str, channel: &str, message: &Value, custom_id: &str) -> Value {
        let data = json!({ "custom_id": custom_id, "component_type": 2 });
        let mut click = self.interaction(3, user, channel, data);
        click["message"] = json!({
            "id": message["id"], "channel_id": channel, "type": 0, "content": "",
            "author": { "id": APP, "username": "warroom", "discriminator": "0", "avatar": null, "bot": true },
            "timestamp": "2026-12-01T02:10:00.000000+00:00", "edited_timestamp": null,
            "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
            "attachments": [], "embeds": [], "pinned": false, "flags": 0, "components": []
        });
        click
    }

    /// Dispatches the interaction and returns the callback warroom answered it with.
    fn interact(&self, interaction: &Value) -> Value {
        let id = interaction["id"].as_str().unwrap().to_owned();
        let token = interaction["token"].as_str().unwrap().to_owned();
        let path = format!("/interactions/{id}/{token}/callback");
        let before = self.fake.calls_to("POST", &path).len();
        let sent = Instant::now();
        self.gateway.dispatch("INTERACTION_CREATE", interaction);
        let answers = wait("the interaction's callback", || {
            let found = self.fake.calls_to("POST", &path);
            (found.len() > before).then_some(found)
        });
        assert!(
            sent.elapsed() < Duration::from_secs(3),
            "answered within Discord's 3 seconds"
        );
        answers[answers.len() - 1].clone()
    }

    fn reaction(&self, user: &str, channel: &str, message: &str) {
        self.gateway.dispatch(
            "MESSAGE_REACTION_ADD",
            &json!({
                "user_id": user, "channel_id": channel, "message_id": message, "guild_id": GUILD,
                "member": member(user), "emoji": { "id": null, "name": "📌" },
                "burst": false, "type": 0, "message_author_id": BOB
            }),
        );
    }

    fn mention(&self, user: &str, channel: &str, text: &str) -> String {
        let id = self.id();
        self.gateway.dispatch(
            "MESSAGE_CREATE",
            &json!({
                "id": id, "channel_id": channel, "guild_id": GUILD, "type": 0,
                "content": format!("<@{APP}> {text}"),
                "author": { "id": user, "username": format!("u{user}"), "discriminator": "0", "avatar": null },
                "member": member(user),
                "timestamp": "2026-12-01T02:15:00.000000+00:00", "edited_timestamp": null,
                "tts": false, "mention_everyone": false,
                "mentions": [{ "id": APP, "username": "warroom", "discriminator": "0", "avatar": null, "bot": true }],
                "mention_roles": [], "attachments": [], "embeds": [], "pinned": false, "flags": 0,
                "components": []
            }),
        );
        id
    }

    fn open_incident(&self) -> (String, String) {
        let opened =
            self.interact(&self.command(ALICE, GENERAL, "incident", incident_open_options()));
        let text = content(&opened);
        assert!(text.contains("opened INC-"), "{opened}");
        let inc = incident_id_in(&text);
        let channel = wait("the incident channel", || {
            self.fake.channel_named("shell-in-payments-api")
        });
        (inc, channel["id"].as_str().unwrap().to_owned())
    }
}

#[test]
fn over_the_gateway_commands_clicks_pins_and_mentions_take_the_same_path() {
    let g = start();
    // warroom identified itself with the bot token and the intents it needs.
    let identify = g
        .gateway
        .identify(Duration::from_secs(20))
        .expect("warroom connected and identified");
    // serenity sends the token as it sends it over REST ("Bot …"); Discord accepts both.
    let token = identify["d"]["token"].as_str().unwrap();
    assert!(
        token.trim_start_matches("Bot ") == "discord-test-token",
        "{token}"
    );
    let intents = identify["d"]["intents"].as_u64().unwrap();
    for (bit, name) in [
        (0, "GUILDS"),
        (9, "GUILD_MESSAGES"),
        (10, "GUILD_MESSAGE_REACTIONS"),
        (15, "MESSAGE_CONTENT"),
    ] {
        assert!(intents & (1 << bit) != 0, "{name} asked for: {intents}");
    }

    let (inc, channel) = g.open_incident();
    // alice asks for a quarantine; the card is posted with its buttons.
    let asked = g.interact(&g.command(ALICE, &channel, "quarantine", quarantine_options()));
    assert!(content(&asked).contains("R1 opened"), "{asked}");
    assert_eq!(asked["data"]["flags"], 64, "answered only to the person");
    let approve = format!("warroom:approve:{inc}/R1");
    let card = wait("the approval card", || {
        g.fake
            .messages_in(&channel)
            .into_iter()
            .find(|m| m["components"][0]["components"][0]["custom_id"] == approve.as_str())
    });
    // alice's own click is refused; bob's runs it on the drill cluster.
    let own = g.interact(&g.click(ALICE, &channel, &card, &approve));
    assert_eq!(
        content(&own),
        "alice asked for R1 and cannot approve it: a second person must"
    );
    let click = g.click(BOB, &channel, &card, &approve);
    let approved = g.interact(&click);
    assert!(content(&approved).contains("approved by bob"), "{approved}");
    assert_eq!(g.api.request(&inc, "R1")["status"], "executed");
    // The same INTERACTION_CREATE again (a resumed session replays it): one effect.
    let again = g.interact(&click);
    assert_eq!(content(&again), "already received; handled once");
    assert_eq!(g.api.count(&inc, "request.approved"), 1);

    // 📌 on bob's message, three times (and once by a stranger): one timeline entry with the
    // message's own author, time and link; alice is the actor.
    let said = g
        .fake
        .add_message(&channel, BOB, "egress to 203.0.113.9 blocked at 02:14");
    for _ in 0..3 {
        g.reaction(ALICE, &channel, &said);
    }
    g.reaction(STRANGER, &channel, &said);
    let record = g.api.wait_until(&inc, "the 📌 entry", |i| {
        i["timeline"]
            .as_array()
            .is_some_and(|t| t.iter().any(|e| e["kind"] == "message.pinned"))
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(g.api.count(&inc, "message.pinned"), 1);
    let entry = record["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "message.pinned")
        .unwrap()
        .clone();
    assert_eq!(entry["actor"], "person:alice", "{entry}");
    assert_eq!(entry["data"]["author"], "person:bob");
    assert_eq!(
        entry["data"]["posted_at"],
        "2026-12-01T02:14:07.123000+00:00"
    );
    assert_eq!(
        entry["data"]["text"],
        "egress to 203.0.113.9 blocked at 02:14"
    );
    assert_eq!(
        entry["data"]["permalink"],
        format!("https://discord.com/channels/{GUILD}/{channel}/{said}").as_str()
    );

    // `@warroom note …` in the incident channel: recorded, answered as a reply.
    let asked_by_mention = g.mention(BOB, &channel, "note rotated the api keys");
    let reply = wait("the reply to the mention", || {
        g.fake
            .messages_in(&channel)
            .into_iter()
            .find(|m| m["message_reference"]["message_id"] == asked_by_mention.as_str())
    });
    assert!(
        reply["content"].as_str().unwrap().contains("recorded"),
        "{reply}"
    );
    g.api.wait_until(&inc, "bob's note", |i| {
        i["timeline"].as_array().is_some_and(|t| {
            t.iter()
                .any(|e| e["kind"] == "note" && e["actor"] == "person:bob")
        })
    });
    // A stranger's command over the gateway: refused, saying what to add, nothing recorded.
    let notes = g.api.count(&inc, "note");
    let refused = g.interact(&g.command(
        STRANGER,
        &channel,
        "note",
        json!([{ "type": 3, "name": "text", "value": "hello" }]),
    ));
    assert!(content(&refused).contains("people.discord"), "{refused}");
    assert_eq!(g.api.count(&inc, "note"), notes);

    // Interactions are not taken over HTTP in gateway mode: said, with what to change.
    let mut resp = warroom_tests::agent()
        .post(&format!("http://{}/discord/interactions", g.server.addr))
        .header("content-type", "application/json")
        .send("{\"type\":1}")
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    let said = resp.body_mut().read_to_string().unwrap();
    assert!(said.contains("gateway mode"), "{said}");
}
