//! Property tests: whatever a chat platform (or someone pretending to be one, once past the
//! signature) sends, the payload decoders answer with a value or an error that says what is
//! wrong — never a panic. Seeds are payloads as Slack and Discord send them, damaged.
//! `PROPTEST_CASES` sets how many cases each runs (256 by default).

use proptest::prelude::*;
use warroom_commands::damage::{Damage, damage};

use super::discord::interaction::decode;
use super::slack::payloads::{parse_event, parse_interaction, parse_slash_command};

const SLASH: &str = "token=x&team_id=T1&team_domain=northwind&channel_id=C0INCIDENT&channel_name=inc&user_id=U024BE7LH&user_name=alice&command=%2Fquarantine&text=pod+payments%2Fapi-7f9c+--reason+shell&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1%2F1%2Fx&trigger_id=13345224609.738474920.8088930838d88f008e0";
const CLICK: &str = "payload=%7B%22type%22%3A%22block_actions%22%2C%22user%22%3A%7B%22id%22%3A%22U024BE7LJ%22%2C%22username%22%3A%22bob%22%2C%22team_id%22%3A%22T1%22%7D%2C%22team%22%3A%7B%22id%22%3A%22T1%22%7D%2C%22trigger_id%22%3A%22t1%22%2C%22container%22%3A%7B%22type%22%3A%22message%22%2C%22message_ts%22%3A%221764200000.000100%22%2C%22channel_id%22%3A%22C0INCIDENT%22%7D%2C%22channel%22%3A%7B%22id%22%3A%22C0INCIDENT%22%7D%2C%22message%22%3A%7B%22ts%22%3A%221764200000.000100%22%7D%2C%22response_url%22%3A%22https%3A%2F%2Fhooks.slack.com%2Factions%2FT1%2F1%2Fx%22%2C%22actions%22%3A%5B%7B%22type%22%3A%22button%22%2C%22action_id%22%3A%22warroom_approve%22%2C%22block_id%22%3A%22approval%22%2C%22value%22%3A%22INC-20261201-0001%2FR1%22%7D%5D%7D";
const EVENT: &str = r#"{"token":"x","team_id":"T1","api_app_id":"A1","type":"event_callback","event_id":"Ev1","event_time":1764200000,"event":{"type":"reaction_added","user":"U024BE7LK","reaction":"pushpin","item":{"type":"message","channel":"C0INCIDENT","ts":"1764200000.000100"},"event_ts":"1764200001.000200"}}"#;
const DISCORD: &str = r#"{"type":2,"id":"3000000000000000001","application_id":"1187654321098765432","token":"tok","guild_id":"1123456789012345678","channel_id":"1123456789012340002","version":1,"member":{"user":{"id":"80351110224678912","username":"alice"},"roles":[],"permissions":"0"},"data":{"id":"1","name":"quarantine","type":1,"options":[{"type":3,"name":"target","value":"pod payments/api-7f9c"},{"type":3,"name":"reason","value":"shell"}]}}"#;

fn input(seeds: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    let damaged = (
        proptest::sample::select(seeds),
        0usize..4,
        0usize..2048,
        0usize..2048,
        proptest::collection::vec(any::<u8>(), 0..16),
    )
        .prop_map(|(seed, how, at, to, bytes)| {
            damage(seed.as_bytes(), Damage::nth(how), at, to, &bytes)
        });
    prop_oneof![proptest::collection::vec(any::<u8>(), 0..512), damaged]
}

proptest! {
    #[test]
    fn slack_slash_commands_never_panic(body in input(&[SLASH])) {
        if let Err(e) = parse_slash_command(&body) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn slack_interactions_never_panic(body in input(&[CLICK])) {
        if let Err(e) = parse_interaction(&body) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn slack_events_never_panic(body in input(&[EVENT])) {
        if let Err(e) = parse_event(&body) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn discord_interactions_never_panic(body in input(&[DISCORD])) {
        if let Err(e) = decode(&body) {
            prop_assert!(!e.to_string().is_empty());
        }
    }
}

#[test]
fn the_seeds_themselves_decode() {
    assert!(parse_slash_command(SLASH.as_bytes()).is_ok());
    assert!(parse_interaction(CLICK.as_bytes()).is_ok());
    assert!(parse_event(EVENT.as_bytes()).is_ok());
    assert!(decode(DISCORD.as_bytes()).is_ok());
}
