//! A chat platform that takes requests and never answers cannot slow down what warroom
//! promises: commands are still recorded and acknowledged at once over the API and from the
//! other platform, because chat comes after the ledger.

use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use warroom_tests::api::{Api, plan_with};
use warroom_tests::fake_discord::{FakeDiscord, note_interaction, post_signed};
use warroom_tests::fake_slack::FakeSlack;
use warroom_tests::{Scratch, Server};

#[test]
fn a_hung_slack_and_a_hung_discord_delay_no_acknowledgement() {
    let s = Scratch::new();
    let slack = FakeSlack::start();
    let discord = FakeDiscord::start();
    let key = SigningKey::from_bytes(&[13u8; 32]);
    let mut changes = vec![
        ("drill = false", "drill = true".to_owned()),
        ("notify = false", "notify = true".to_owned()),
    ];
    changes.extend(slack.plan_changes());
    changes.extend(discord.plan_changes(&key));
    let refs: Vec<(&str, &str)> = changes.iter().map(|(a, b)| (*a, b.as_str())).collect();
    let plan = plan_with(&refs);
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
    let body = note_interaction(
        &channel,
        "80351110224678912",
        "from discord while it hangs",
        3_100_000_000_000_000_001,
    );
    let t = Instant::now();
    let (_, text) = post_signed(&server.addr, &key, &body).expect("warroom answers");
    let answered = t.elapsed();
    assert!(answered < Duration::from_secs(3), "{answered:?}");
    assert!(text.contains("recorded"), "{text}");
    assert_eq!(api.count(&inc, "note"), 31);
}
