//! What Slack sends us: slash commands, button clicks (interactions) and Events API
//! callbacks, parsed into typed values.
//!
//! Assumes: the request's signature was verified first ([`super::signature::verify`]) and the
//! body size was bounded by the HTTP layer. Even then the content is untrusted text: ids are
//! looked up, never believed (a Slack user id is mapped to a person in the plan by the caller).
//! Fields Slack adds later are ignored; a missing required field is an error that names it.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A payload we cannot use, with where in it and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {}", located(.at, .reason))]
pub struct PayloadError {
    /// Which kind of payload, e.g. `slash command`.
    pub what: &'static str,
    /// Path of the offending part, e.g. `event.item`; empty for the top level.
    pub at: String,
    pub reason: String,
}

fn located(at: &str, reason: &str) -> String {
    if at.is_empty() {
        reason.to_owned()
    } else {
        format!("at `{at}`: {reason}")
    }
}

impl PayloadError {
    fn new(what: &'static str, at: impl Into<String>, reason: impl Into<String>) -> Self {
        PayloadError {
            what,
            at: at.into(),
            reason: reason.into(),
        }
    }
}

const SLASH: &str = "slash command";
const INTERACTION: &str = "interaction";
const EVENT: &str = "event";

// ---------------------------------------------------------------------------------------
// Slash commands: an `application/x-www-form-urlencoded` body.

/// A slash command, e.g. `/warroom quarantine pod payments/api-7f9c`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SlashCommand {
    /// The command typed, with its slash: `/warroom`.
    pub command: String,
    /// Everything after the command; empty when nothing was typed.
    #[serde(default)]
    pub text: String,
    /// Who ran it. The only identity to use; `user_name` is display text anyone can change.
    pub user_id: String,
    #[serde(default)]
    pub user_name: String,
    pub channel_id: String,
    #[serde(default)]
    pub channel_name: String,
    pub team_id: String,
    /// Where delayed replies go (valid 30 minutes, 5 replies).
    pub response_url: String,
    pub trigger_id: String,
}

pub fn parse_slash_command(body: &[u8]) -> Result<SlashCommand, PayloadError> {
    let command: SlashCommand = serde_urlencoded::from_bytes(body)
        .map_err(|e| PayloadError::new(SLASH, "", e.to_string()))?;
    non_empty(SLASH, "command", &command.command)?;
    non_empty(SLASH, "user_id", &command.user_id)?;
    non_empty(SLASH, "channel_id", &command.channel_id)?;
    Ok(command)
}

// ---------------------------------------------------------------------------------------
// Interactions: a form body whose `payload` field is JSON.

/// An interaction; only button clicks in messages are acted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interaction {
    BlockActions(BlockActions),
    /// A kind we do not handle (`view_submission`, `shortcut`, …): acknowledge and ignore.
    Other {
        kind: String,
    },
}

/// A click on an interactive element (our Approve/Deny buttons).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockActions {
    /// Who clicked: authorize this person before anything is consumed.
    pub user_id: String,
    pub team_id: Option<String>,
    /// The element clicked (Slack sends one per payload; the first is taken).
    pub action: BlockAction,
    /// The message holding the element; `None` when the click came from a modal or the
    /// app home rather than a message.
    pub channel_id: Option<String>,
    pub message_ts: Option<String>,
    pub response_url: Option<String>,
    pub trigger_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockAction {
    pub action_id: String,
    pub block_id: String,
    /// The button's value; buttons may have none.
    pub value: Option<String>,
}

#[derive(Deserialize)]
struct RawBlockActions {
    user: RawId,
    #[serde(default)]
    team: Option<RawId>,
    actions: Vec<RawAction>,
    #[serde(default)]
    container: Option<RawContainer>,
    #[serde(default)]
    channel: Option<RawId>,
    #[serde(default)]
    message: Option<RawMessage>,
    #[serde(default)]
    response_url: Option<String>,
    trigger_id: String,
}

#[derive(Deserialize)]
struct RawId {
    id: String,
}

#[derive(Deserialize)]
struct RawAction {
    action_id: String,
    block_id: String,
    #[serde(default)]
    value: Option<String>,
}

#[derive(Deserialize)]
struct RawContainer {
    #[serde(default)]
    message_ts: Option<String>,
    #[serde(default)]
    channel_id: Option<String>,
}

#[derive(Deserialize)]
struct RawMessage {
    ts: String,
}

#[derive(Deserialize)]
struct PayloadField {
    payload: String,
}

/// Parses an interaction request body (`payload=<url-encoded JSON>`).
pub fn parse_interaction(body: &[u8]) -> Result<Interaction, PayloadError> {
    let form: PayloadField = serde_urlencoded::from_bytes(body)
        .map_err(|e| PayloadError::new(INTERACTION, "", e.to_string()))?;
    parse_interaction_json(form.payload.as_bytes())
}

/// Parses the JSON inside an interaction's `payload` field.
pub fn parse_interaction_json(json: &[u8]) -> Result<Interaction, PayloadError> {
    let value = json_value(INTERACTION, json)?;
    let kind = type_of(INTERACTION, "", &value)?;
    if kind != "block_actions" {
        return Ok(Interaction::Other { kind });
    }
    let raw: RawBlockActions = typed(INTERACTION, "", &value)?;
    let Some(action) = raw.actions.into_iter().next() else {
        return Err(PayloadError::new(
            INTERACTION,
            "actions",
            "no action in the list",
        ));
    };
    non_empty(INTERACTION, "user.id", &raw.user.id)?;
    non_empty(INTERACTION, "actions[0].action_id", &action.action_id)?;
    let (container_channel, container_ts) = match raw.container {
        Some(c) => (c.channel_id, c.message_ts),
        None => (None, None),
    };
    Ok(Interaction::BlockActions(BlockActions {
        user_id: raw.user.id,
        team_id: raw.team.map(|t| t.id),
        action: BlockAction {
            action_id: action.action_id,
            block_id: action.block_id,
            value: action.value,
        },
        channel_id: container_channel.or(raw.channel.map(|c| c.id)),
        message_ts: container_ts.or(raw.message.map(|m| m.ts)),
        response_url: raw.response_url,
        trigger_id: raw.trigger_id,
    }))
}

// ---------------------------------------------------------------------------------------
// Events API: a JSON body.

/// The outer envelope of an Events API request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventEnvelope {
    /// Sent once when the request URL is configured: answer with the challenge.
    UrlVerification {
        challenge: String,
    },
    Callback(EventCallback),
    /// Another envelope type (e.g. `app_rate_limited`): acknowledge and ignore.
    Other {
        kind: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventCallback {
    /// Unique per event; Slack retries with the same id, so dedupe on it.
    pub event_id: String,
    pub team_id: Option<String>,
    pub event: Event,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    AppMention(AppMention),
    ReactionAdded(ReactionAdded),
    /// An event type we do not handle.
    Other {
        kind: String,
    },
}

/// Someone wrote `@warroom …`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AppMention {
    pub user: String,
    /// Includes the mention itself, e.g. `<@U0LAN0Z89> status`.
    pub text: String,
    pub channel: String,
    pub ts: String,
    /// Set when the mention is in a thread.
    #[serde(default)]
    pub thread_ts: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReactionAdded {
    /// Who reacted.
    pub user: String,
    /// The emoji name without colons, e.g. `white_check_mark`.
    pub reaction: String,
    pub item: ReactionItem,
    /// Author of the item; absent for some items.
    #[serde(default)]
    pub item_user: Option<String>,
    pub event_ts: String,
}

/// What was reacted to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReactionItem {
    Message {
        channel: String,
        ts: String,
    },
    /// A file or file comment.
    Other {
        kind: String,
    },
}

#[derive(Deserialize)]
struct RawUrlVerification {
    challenge: String,
}

#[derive(Deserialize)]
struct RawCallback {
    event_id: String,
    #[serde(default)]
    team_id: Option<String>,
    event: Value,
}

#[derive(Deserialize)]
struct RawMessageItem {
    channel: String,
    ts: String,
}

impl<'de> Deserialize<'de> for ReactionItem {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let value = Value::deserialize(d)?;
        let kind = match value.get("type") {
            Some(Value::String(kind)) => kind.clone(),
            Some(_) => return Err(D::Error::custom("`type` is not a string")),
            None => return Err(D::Error::missing_field("type")),
        };
        if kind != "message" {
            return Ok(ReactionItem::Other { kind });
        }
        let item = RawMessageItem::deserialize(&value).map_err(D::Error::custom)?;
        Ok(ReactionItem::Message {
            channel: item.channel,
            ts: item.ts,
        })
    }
}

/// Parses an Events API request body.
pub fn parse_event(body: &[u8]) -> Result<EventEnvelope, PayloadError> {
    let value = json_value(EVENT, body)?;
    match type_of(EVENT, "", &value)?.as_str() {
        "url_verification" => {
            let raw: RawUrlVerification = typed(EVENT, "", &value)?;
            Ok(EventEnvelope::UrlVerification {
                challenge: raw.challenge,
            })
        }
        "event_callback" => {
            let raw: RawCallback = typed(EVENT, "", &value)?;
            non_empty(EVENT, "event_id", &raw.event_id)?;
            let event = match type_of(EVENT, "event", &raw.event)?.as_str() {
                "app_mention" => Event::AppMention(typed(EVENT, "event", &raw.event)?),
                "reaction_added" => Event::ReactionAdded(typed(EVENT, "event", &raw.event)?),
                other => Event::Other {
                    kind: other.to_owned(),
                },
            };
            Ok(EventEnvelope::Callback(EventCallback {
                event_id: raw.event_id,
                team_id: raw.team_id,
                event,
            }))
        }
        other => Ok(EventEnvelope::Other {
            kind: other.to_owned(),
        }),
    }
}

// ---------------------------------------------------------------------------------------

fn json_value(what: &'static str, json: &[u8]) -> Result<Value, PayloadError> {
    serde_json::from_slice(json)
        .map_err(|e| PayloadError::new(what, "", format!("not valid JSON: {e}")))
}

/// The `type` field of the object at `at`.
fn type_of(what: &'static str, at: &str, value: &Value) -> Result<String, PayloadError> {
    match value.get("type") {
        Some(Value::String(kind)) => Ok(kind.clone()),
        Some(_) => Err(PayloadError::new(what, join(at, "type"), "not a string")),
        None if value.is_object() => Err(PayloadError::new(what, at, "missing field `type`")),
        None => Err(PayloadError::new(what, at, "not a JSON object")),
    }
}

/// Deserialises `value` (found at `at`), reporting the path of any bad or missing field.
fn typed<T: DeserializeOwned>(
    what: &'static str,
    at: &str,
    value: &Value,
) -> Result<T, PayloadError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.path().to_string();
        let inner = if inner == "." { String::new() } else { inner };
        PayloadError::new(what, join(at, &inner), e.into_inner().to_string())
    })
}

fn join(outer: &str, inner: &str) -> String {
    match (outer.is_empty(), inner.is_empty()) {
        (true, _) => inner.to_owned(),
        (false, true) => outer.to_owned(),
        (false, false) => format!("{outer}.{inner}"),
    }
}

fn non_empty(what: &'static str, field: &str, value: &str) -> Result<(), PayloadError> {
    if value.trim().is_empty() {
        return Err(PayloadError::new(what, field, "empty"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slacks_example_slash_command_parses() {
        let c = parse_slash_command(include_bytes!("fixtures/slash-command.form")).unwrap();
        assert_eq!(c.command, "/webhook-collect");
        assert_eq!(c.text, "");
        assert_eq!(c.user_id, "U2CERLKJA");
        assert_eq!(c.user_name, "roadrunner");
        assert_eq!(c.channel_id, "G8PSS9T3V");
        assert_eq!(c.channel_name, "foobar");
        assert_eq!(c.team_id, "T1DC2JH3J");
        assert_eq!(
            c.response_url,
            "https://hooks.slack.com/commands/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN"
        );
        assert_eq!(
            c.trigger_id,
            "398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
        );
    }

    #[test]
    fn slash_command_text_is_decoded_and_bad_forms_name_the_field() {
        let body = b"command=%2Fwarroom&text=quarantine+pod+payments%2Fapi-7f9c&user_id=U1&channel_id=C1&team_id=T1&response_url=https%3A%2F%2Fx&trigger_id=1.2.3";
        let c = parse_slash_command(body).unwrap();
        assert_eq!(c.text, "quarantine pod payments/api-7f9c");
        assert_eq!(c.user_name, "");

        let missing = parse_slash_command(b"command=%2Fwarroom&text=x").unwrap_err();
        assert!(missing.to_string().contains("user_id"), "{missing}");
        let empty = parse_slash_command(
            b"command=%2Fw&user_id=&channel_id=C1&team_id=T1&response_url=x&trigger_id=1",
        )
        .unwrap_err();
        assert_eq!(empty.at, "user_id");
        let twice = parse_slash_command(
            b"command=%2Fw&user_id=U1&user_id=U2&channel_id=C1&team_id=T1&response_url=x&trigger_id=1",
        )
        .unwrap_err();
        assert!(twice.to_string().contains("user_id"), "{twice}");
        assert!(parse_slash_command(b"").is_err());
        assert!(parse_slash_command(b"\xff\xfe%%%").is_err());
    }

    #[test]
    fn block_actions_from_bolts_test_form_parse() {
        let i = parse_interaction(include_bytes!("fixtures/block-actions.form")).unwrap();
        let Interaction::BlockActions(a) = i else {
            panic!("not block actions: {i:?}");
        };
        assert_eq!(a.user_id, "W111");
        assert_eq!(a.team_id.as_deref(), Some("T111"));
        assert_eq!(
            a.action,
            BlockAction {
                action_id: "a".into(),
                block_id: "b".into(),
                value: Some("click_me_123".into()),
            }
        );
        assert_eq!(a.channel_id.as_deref(), Some("C111"));
        assert_eq!(a.message_ts.as_deref(), Some("111.222"));
        assert_eq!(
            a.response_url.as_deref(),
            Some("https://hooks.slack.com/actions/T111/111/random-value")
        );
        assert_eq!(a.trigger_id, "111.222.valid");
        let same = parse_interaction_json(include_bytes!("fixtures/block-actions.payload.json"));
        assert_eq!(same, Ok(Interaction::BlockActions(a)));
    }

    #[test]
    fn block_actions_fall_back_to_channel_and_message_and_report_missing_fields() {
        let json = br#"{"type":"block_actions","user":{"id":"U1"},"trigger_id":"t",
            "channel":{"id":"C9"},"message":{"ts":"9.9"},
            "actions":[{"action_id":"warroom_approve","block_id":"b","value":"v","extra":1}]}"#;
        let Ok(Interaction::BlockActions(a)) = parse_interaction_json(json) else {
            panic!("did not parse");
        };
        assert_eq!(a.channel_id.as_deref(), Some("C9"));
        assert_eq!(a.message_ts.as_deref(), Some("9.9"));
        assert_eq!(a.response_url, None);

        let no_user = br#"{"type":"block_actions","trigger_id":"t","actions":[]}"#;
        let e = parse_interaction_json(no_user).unwrap_err();
        assert!(e.to_string().contains("`user`"), "{e}");
        let no_action_id = br#"{"type":"block_actions","user":{"id":"U1"},"trigger_id":"t",
            "actions":[{"block_id":"b"}]}"#;
        let e = parse_interaction_json(no_action_id).unwrap_err();
        assert_eq!(e.at, "actions[0]");
        assert!(e.reason.contains("action_id"), "{e}");
        let no_actions =
            br#"{"type":"block_actions","user":{"id":"U1"},"trigger_id":"t","actions":[]}"#;
        assert_eq!(
            parse_interaction_json(no_actions).unwrap_err().at,
            "actions"
        );
        let wrong_type =
            br#"{"type":"block_actions","user":{"id":7},"trigger_id":"t","actions":[]}"#;
        assert_eq!(
            parse_interaction_json(wrong_type).unwrap_err().at,
            "user.id"
        );
    }

    #[test]
    fn other_interactions_and_malformed_forms() {
        assert_eq!(
            parse_interaction_json(br#"{"type":"view_submission"}"#),
            Ok(Interaction::Other {
                kind: "view_submission".into()
            })
        );
        assert!(
            parse_interaction(b"nopayload=1")
                .unwrap_err()
                .to_string()
                .contains("payload")
        );
        assert!(parse_interaction(b"payload=%7Bnot+json").is_err());
        assert!(parse_interaction(b"payload=%5B%5D").is_err());
        assert!(parse_interaction_json(br#"{"type":3}"#).is_err());
        assert!(parse_interaction_json(b"").is_err());
    }

    #[test]
    fn url_verification_and_app_mention_from_real_samples() {
        assert_eq!(
            parse_event(include_bytes!("fixtures/url-verification.json")),
            Ok(EventEnvelope::UrlVerification {
                challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P".into()
            })
        );
        let e = parse_event(include_bytes!("fixtures/app-mention.json")).unwrap();
        assert_eq!(
            e,
            EventEnvelope::Callback(EventCallback {
                event_id: "Ev111".into(),
                team_id: Some("T111".into()),
                event: Event::AppMention(AppMention {
                    user: "W222".into(),
                    text: "<@W111> Hi there!".into(),
                    channel: "C111".into(),
                    ts: "1595926230.009600".into(),
                    thread_ts: None,
                }),
            })
        );
    }

    #[test]
    fn reaction_added_on_messages_and_files() {
        // Shape as in Slack's reaction_added reference.
        let body = br#"{"type":"event_callback","event_id":"Ev2","team_id":"T1","event":{
            "type":"reaction_added","user":"U024BE7LH","reaction":"thumbsup",
            "item_user":"U0G9QF9C6","item":{"type":"message","channel":"C0G9QF9GZ","ts":"1360782400.498405"},
            "event_ts":"1360782804.083113"}}"#;
        let EventEnvelope::Callback(c) = parse_event(body).unwrap() else {
            panic!("not a callback");
        };
        assert_eq!(
            c.event,
            Event::ReactionAdded(ReactionAdded {
                user: "U024BE7LH".into(),
                reaction: "thumbsup".into(),
                item: ReactionItem::Message {
                    channel: "C0G9QF9GZ".into(),
                    ts: "1360782400.498405".into()
                },
                item_user: Some("U0G9QF9C6".into()),
                event_ts: "1360782804.083113".into(),
            })
        );
        let file = br#"{"type":"event_callback","event_id":"Ev3","event":{
            "type":"reaction_added","user":"U1","reaction":"eyes",
            "item":{"type":"file","file":"F1"},"event_ts":"1.2"}}"#;
        let EventEnvelope::Callback(c) = parse_event(file).unwrap() else {
            panic!("not a callback");
        };
        assert!(matches!(
            c.event,
            Event::ReactionAdded(ReactionAdded { item: ReactionItem::Other { ref kind }, .. }) if kind == "file"
        ));
    }

    #[test]
    fn malformed_events_say_what_is_missing_where() {
        let no_channel = br#"{"type":"event_callback","event_id":"Ev1","event":{
            "type":"reaction_added","user":"U1","reaction":"x","item":{"type":"message","ts":"1"},"event_ts":"1"}}"#;
        let e = parse_event(no_channel).unwrap_err();
        assert_eq!(e.at, "event.item");
        assert!(e.reason.contains("channel"), "{e}");

        let no_text = br#"{"type":"event_callback","event_id":"Ev1","event":{"type":"app_mention","user":"U1","channel":"C1","ts":"1"}}"#;
        let e = parse_event(no_text).unwrap_err();
        assert_eq!(e.at, "event");
        assert!(e.to_string().contains("missing field `text`"), "{e}");

        let no_event_type = br#"{"type":"event_callback","event_id":"Ev1","event":{}}"#;
        assert_eq!(parse_event(no_event_type).unwrap_err().at, "event");
        let no_id = br#"{"type":"event_callback","event":{"type":"app_mention"}}"#;
        assert!(
            parse_event(no_id)
                .unwrap_err()
                .to_string()
                .contains("event_id")
        );
        let no_challenge = br#"{"type":"url_verification"}"#;
        assert!(
            parse_event(no_challenge)
                .unwrap_err()
                .to_string()
                .contains("challenge")
        );
        assert!(parse_event(b"[1,2]").is_err());
        assert!(parse_event(b"{").is_err());
        assert_eq!(
            parse_event(br#"{"type":"app_rate_limited","minute_rate_limited":1}"#),
            Ok(EventEnvelope::Other {
                kind: "app_rate_limited".into()
            })
        );
        let other_event =
            br#"{"type":"event_callback","event_id":"Ev1","event":{"type":"message","text":"hi"}}"#;
        assert!(matches!(
            parse_event(other_event),
            Ok(EventEnvelope::Callback(EventCallback {
                event: Event::Other { .. },
                ..
            }))
        ));
    }
}
