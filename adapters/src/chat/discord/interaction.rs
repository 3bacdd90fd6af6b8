//! A verified interaction body, decoded into what warroom acts on. Every field is untrusted:
//! a body that is not an interaction warroom understands is an error naming what is wrong.

use serde_json::Value;

use super::commands::{ADD_TO_TIMELINE, Complete, command_text, focused};

/// A message chosen with "Add to timeline".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetMessage {
    pub id: String,
    pub author: String,
    pub content: String,
    pub timestamp: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// Discord checking the endpoint: answer PONG.
    Ping,
    /// A slash command, as warroom command text.
    Command(Common, String),
    /// A slash command warroom cannot read (unknown, missing option): say why.
    BadCommand(Common, String),
    /// "Add to timeline" on a message.
    AddToTimeline(Common, TargetMessage),
    /// A button on one of warroom's messages.
    Click(Common, String),
    /// Autocomplete for an option: what kind of thing, and what was typed so far.
    Autocomplete(Common, Complete, String),
}

/// What every interaction carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Common {
    /// The interaction id: what makes a redelivery the same delivery.
    pub id: String,
    /// For the callback and follow-ups (valid 15 minutes).
    pub token: String,
    /// The acting Discord user.
    pub user: String,
    pub channel: Option<String>,
    pub guild: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a Discord interaction warroom reads: {0}")]
pub struct DecodeError(pub String);

fn text(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

pub fn decode(body: &[u8]) -> Result<Incoming, DecodeError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| DecodeError(format!("not JSON: {e}")))?;
    let kind = v["type"]
        .as_u64()
        .ok_or_else(|| DecodeError("no `type`".into()))?;
    if kind == 1 {
        return Ok(Incoming::Ping);
    }
    let common = Common {
        id: text(&v, "/id").ok_or_else(|| DecodeError("no `id`".into()))?,
        token: text(&v, "/token").ok_or_else(|| DecodeError("no `token`".into()))?,
        // In a guild the user is the member's; in a DM it is `user`.
        user: text(&v, "/member/user/id")
            .or_else(|| text(&v, "/user/id"))
            .ok_or_else(|| DecodeError("no `member.user.id` or `user.id`".into()))?,
        channel: text(&v, "/channel_id").or_else(|| text(&v, "/channel/id")),
        guild: text(&v, "/guild_id"),
    };
    let data = &v["data"];
    match kind {
        2 if data["type"] == 3 || data["name"] == ADD_TO_TIMELINE => {
            let target = text(data, "/target_id")
                .ok_or_else(|| DecodeError("a message command without `target_id`".into()))?;
            let m = data
                .pointer(&format!("/resolved/messages/{target}"))
                .ok_or_else(|| DecodeError("the target message is not in `resolved`".into()))?;
            Ok(Incoming::AddToTimeline(
                common,
                TargetMessage {
                    id: target,
                    author: text(m, "/author/id").unwrap_or_default(),
                    content: text(m, "/content").unwrap_or_default(),
                    timestamp: text(m, "/timestamp").unwrap_or_default(),
                },
            ))
        }
        2 => Ok(match command_text(data) {
            Ok(t) => Incoming::Command(common, t),
            Err(why) => Incoming::BadCommand(common, why),
        }),
        3 => {
            let id = text(data, "/custom_id")
                .ok_or_else(|| DecodeError("a component without `custom_id`".into()))?;
            Ok(Incoming::Click(common, id))
        }
        4 => {
            let (_, _, complete, typed) = focused(data)
                .ok_or_else(|| DecodeError("autocomplete without a focused option".into()))?;
            Ok(Incoming::Autocomplete(common, complete, typed))
        }
        other => Err(DecodeError(format!("interaction type {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discords_own_samples_decode() {
        let ping: Value =
            serde_json::from_str(include_str!("fixtures/ping-signature-vector.json")).unwrap();
        assert_eq!(
            decode(ping["body"].as_str().unwrap().as_bytes()),
            Ok(Incoming::Ping)
        );
        // Discord's sample command is not warroom's: decoded, refused with the reason.
        match decode(include_bytes!("fixtures/application-command.json")).unwrap() {
            Incoming::BadCommand(c, why) => {
                assert_eq!(c.user, "53908232506183680");
                assert_eq!(c.id, "786008729715212338");
                assert!(why.contains("/cardsearch"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        match decode(include_bytes!("fixtures/message-component-button.json")).unwrap() {
            Incoming::Click(c, custom) => {
                assert_eq!(c.token, "unique_interaction_token");
                assert!(!custom.is_empty());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_bodies_say_what_is_missing() {
        assert!(decode(b"[]").unwrap_err().0.contains("no `type`"));
        assert!(decode(b"{").unwrap_err().0.contains("not JSON"));
        let no_user = br#"{"type":2,"id":"1","token":"t","data":{"name":"note"}}"#;
        assert!(decode(no_user).unwrap_err().0.contains("user"));
    }
}
