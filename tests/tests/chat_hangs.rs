//! A chat platform that takes requests and never answers cannot slow down what warroom
//! promises: commands are still recorded and acknowledged at once over the API and from the
//! other platform, because chat comes after the ledger.

use std::time::{Duration, Instant};

use ed25519_dalek::{Signer, SigningKey};
use serde_json::json;
use warroom_tests::api::{Api, plan_with};
use warroom_tests::fake_discord::FakeDiscord;
use warroom_tests::fake_slack::FakeSlack;
use warroom_tests::{Scratch, Server};

#[test]
fn a_hung_slack_and_a_hung_discord_delay_no_acknowledgement() {
    let s = Scratch::new();
    let slack = FakeSlack::start();
    let discord = FakeDiscord::start();
    let key = SigningKey::from_bytes(&[13u8; 32]);
    let public = hex::encode(key.verifying_key().to_bytes());
    let plan = plan_with(&[
        ("drill = false", "drill = true"),
        ("notify = false", "notify = true"),
        (
            "signing_secret = { file = \"/run/secrets/slack-signing-secret\" }",
            "signing_secret = { env = \"SLACK_SIGNING_SECRET\" }",
        ),
        (
            "# api_base_url = \"https://slack.com/api\"",
            &format!("api_base_url = \"{}\"", slack.base),
        ),
        (
            "public_key = \"8d2c6b1f0e4a7c3d5b9e1f2a4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d\"",
            &format!("public_key = \"{public}\""),
        ),
        (
            "guild_id = \"1123456789012345678\"",
            &format!(
                "guild_id = \"1123456789012345678\"\napi_base_url = \"{}\"",
                discord.base
            ),
        ),
    ]);
    let plan = s.write("plan.toml", &plan);
    let server = Server::start_with_env(
        &s,
        &["--config", plan.to_str().unwrap()],
        &[
            ("SLACK_BOT_TOKEN", "xoxb-test"),
            ("SLACK_SIGNING_SECRET", "hung-test-slack-signing-secret"),
            ("DISCORD_BOT_TOKEN", "discord-test"),
        ],
    );
    let api = Api::new(&server.addr);
    let inc = api.open_incident("chat hangs");
    // Both platforms take every post from now on and never answer.
    slack.hang_posts();
    discord.hang_posts();
    let mut took = Vec::new();
    for i in 0..30 {
        let t = Instant::now();
        api.ok("carol", &format!("note while chat hangs {i}"), Some(&inc));
        took.push(t.elapsed());
    }
    took.sort();
    let p99 = took[took.len() - 1];
    eprintln!("with Slack and Discord hung: slowest of 30 acknowledgements {p99:?}");
    assert!(p99 < Duration::from_millis(500), "{p99:?}");
    assert_eq!(api.count(&inc, "note"), 30);
    // An interaction from Discord is answered within Discord's 3 s, and recorded, while
    // Discord's own API hangs.
    let channel = api.incident(&inc)["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "chat.channel" && e["data"]["platform"] == "discord")
        .and_then(|e| e["data"]["channel"].as_str().map(str::to_owned))
        .expect("the incident's Discord channel");
    let body = json!({
        "type": 2, "id": "3100000000000000001", "application_id": "1187654321098765432",
        "token": "tok", "guild_id": "1123456789012345678", "channel_id": channel, "version": 1,
        "member": { "user": { "id": "80351110224678912", "username": "alice" }, "roles": [], "permissions": "0" },
        "data": { "id": "1", "name": "note", "type": 1,
            "options": [{ "type": 3, "name": "text", "value": "from discord while it hangs" }] },
    })
    .to_string();
    let ts = warroom_tests::unix_now().to_string();
    let signature = hex::encode(key.sign(format!("{ts}{body}").as_bytes()).to_bytes());
    let t = Instant::now();
    let mut r = warroom_tests::agent()
        .post(&format!("http://{}/discord/interactions", server.addr))
        .header("content-type", "application/json")
        .header("x-signature-ed25519", &signature)
        .header("x-signature-timestamp", &ts)
        .send(&body)
        .unwrap();
    let answered = t.elapsed();
    let text = r.body_mut().read_to_string().unwrap();
    assert!(answered < Duration::from_secs(3), "{answered:?}");
    assert!(text.contains("recorded"), "{text}");
    assert_eq!(api.count(&inc, "note"), 31);
}
