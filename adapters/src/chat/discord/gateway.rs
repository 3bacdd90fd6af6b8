//! Discord's gateway (`mode = "gateway"`): serenity's client keeps the websocket (HELLO,
//! IDENTIFY, heartbeats, RESUME) for deployments without a public URL. What arrives goes to
//! the same handlers as over HTTP: an interaction is decoded by [`decode`] from its JSON and
//! answered through its callback; a 📌 reaction is "Add to timeline"; `@warroom <command>` in a
//! channel runs the command and replies to the message.
//!
//! Guarantees: nothing is acted on here: every event is handed to [`GatewayEvents`], which
//! authorizes and claims it exactly as the HTTP path does (an interaction redelivered after a
//! RESUME is "already received"). Assumes the bot's application has the Message Content
//! intent enabled (to read a 📌'd message and mention commands). Caveat: serenity hands
//! interactions over as its own types; they are turned back into Discord's JSON to be decoded
//! once, so a field serenity does not model is not seen (warroom reads none such).

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use serde_json::{Value, json};
use serenity::all::{
    Client, Context, EventHandler, GatewayIntents, Interaction, Message, Reaction, ReactionType,
    Ready,
};

use super::DiscordChat;
use super::interaction::{Incoming, TargetMessage, decode};
use crate::chat::ChatError;
use crate::chat::discord::rest::failed;

/// The reaction that adds a message to the incident's timeline.
pub const PIN: &str = "📌";

/// What warroom does with what arrives over the gateway.
#[async_trait]
pub trait GatewayEvents: Send + Sync + 'static {
    /// The callback body for one interaction, as the HTTP path answers it.
    async fn interaction(&self, incoming: Incoming) -> Value;
    /// 📌 on `message` by the Discord user `user`.
    async fn pinned(&self, user: &str, channel: &str, guild: Option<&str>, message: TargetMessage);
    /// `@warroom <text>` by `user` in `channel` (message `id`): the reply.
    async fn mentioned(&self, user: &str, channel: &str, id: &str, text: &str) -> String;
}

/// Guild channels and messages (mentions), reactions (📌), and message content (the 📌'd
/// message's text; a privileged intent, enabled in the developer portal).
pub fn intents() -> GatewayIntents {
    GatewayIntents::GUILDS
        | GatewayIntents::GUILD_MESSAGES
        | GatewayIntents::GUILD_MESSAGE_REACTIONS
        | GatewayIntents::MESSAGE_CONTENT
}

/// A client ready to `start()`: REST through `chat`'s base, the websocket at `gateway_url`
/// when given (else where Discord's `GET /gateway` says).
pub async fn client(
    chat: Arc<DiscordChat>,
    gateway_url: Option<String>,
    events: Arc<dyn GatewayEvents>,
) -> Result<Client, ChatError> {
    let http = chat.rest().gateway_http();
    let handler = Handler {
        chat,
        events,
        me: OnceLock::new(),
    };
    let client = serenity::all::ClientBuilder::new_with_http(http, intents())
        .event_handler(handler)
        .await
        .map_err(|e| failed(format!("Discord gateway client: {e}")))?;
    if let Some(url) = gateway_url {
        *client.ws_url.lock().await = url;
    }
    Ok(client)
}

struct Handler {
    chat: Arc<DiscordChat>,
    events: Arc<dyn GatewayEvents>,
    /// The bot's own user id, from READY: what a mention of warroom looks like.
    me: OnceLock<String>,
}

#[async_trait]
impl EventHandler for Handler {
    async fn ready(&self, _: Context, ready: Ready) {
        let _ = self.me.set(ready.user.id.to_string());
        tracing::info!(user = %ready.user.name, guilds = ready.guilds.len(), "Discord gateway ready");
    }

    async fn interaction_create(&self, _: Context, interaction: Interaction) {
        let incoming = match as_discord_json(&interaction)
            .and_then(|raw| decode(&raw).map_err(|e| e.to_string()))
        {
            Ok(i) => i,
            Err(e) => {
                tracing::warn!(error = %e, "Discord interaction over the gateway not understood");
                return;
            }
        };
        let Some((id, token)) = callback_of(&incoming) else {
            return;
        };
        let answer = self.events.interaction(incoming).await;
        if let Err(e) = self.chat.rest().respond(&id, &token, &answer).await {
            tracing::warn!(error = %e, interaction = %id, "cannot answer the interaction");
        }
    }

    async fn reaction_add(&self, _: Context, reaction: Reaction) {
        if !matches!(&reaction.emoji, ReactionType::Unicode(e) if e == PIN) {
            return;
        }
        let Some(user) = reaction.user_id.map(|u| u.to_string()) else {
            return;
        };
        let channel = reaction.channel_id.to_string();
        let message = reaction.message_id.to_string();
        match self.chat.rest().message(&channel, &message).await {
            Ok(m) => {
                let guild = reaction.guild_id.map(|g| g.to_string());
                self.events
                    .pinned(&user, &channel, guild.as_deref(), target_of(&m, &message))
                    .await
            }
            Err(e) => {
                tracing::warn!(error = %e, channel, message, "📌 message cannot be read; not recorded")
            }
        }
    }

    async fn message(&self, _: Context, message: Message) {
        let Some(me) = self.me.get() else { return };
        if message.author.bot {
            return;
        }
        let Some(text) = command_after_mention(&message.content, me) else {
            return;
        };
        let (channel, id) = (message.channel_id.to_string(), message.id.to_string());
        let reply = self
            .events
            .mentioned(&message.author.id.to_string(), &channel, &id, &text)
            .await;
        let body = json!({
            "content": reply,
            "message_reference": { "message_id": id, "fail_if_not_exists": false },
            "allowed_mentions": { "parse": [] },
        });
        if let Err(e) = self.chat.rest().post(&channel, &body).await {
            tracing::warn!(error = %e, channel, "cannot answer the mention");
        }
    }
}

/// serenity's interaction as Discord's JSON again (serenity leaves out the `type` tag).
fn as_discord_json(interaction: &Interaction) -> Result<Vec<u8>, String> {
    let mut v = serde_json::to_value(interaction).map_err(|e| e.to_string())?;
    v["type"] = json!(u8::from(interaction.kind()));
    serde_json::to_vec(&v).map_err(|e| e.to_string())
}

fn callback_of(incoming: &Incoming) -> Option<(String, String)> {
    match incoming {
        Incoming::Ping => None,
        Incoming::Command(c, _)
        | Incoming::BadCommand(c, _)
        | Incoming::AddToTimeline(c, _)
        | Incoming::Click(c, _)
        | Incoming::Autocomplete(c, _, _) => Some((c.id.clone(), c.token.clone())),
    }
}

/// A message as Discord's REST API returns it.
pub fn target_of(m: &Value, id: &str) -> TargetMessage {
    let text = |p: &str| m.pointer(p).and_then(Value::as_str).unwrap_or_default();
    TargetMessage {
        id: id.to_owned(),
        author: text("/author/id").to_owned(),
        content: text("/content").to_owned(),
        timestamp: text("/timestamp").to_owned(),
    }
}

/// `<@BOT> status` (or `<@!BOT>`) → `status`; `help` for a bare mention; `None` when the
/// message does not start by mentioning the bot.
pub fn command_after_mention(content: &str, me: &str) -> Option<String> {
    let content = content.trim_start();
    let rest = content
        .strip_prefix(&format!("<@{me}>"))
        .or_else(|| content.strip_prefix(&format!("<@!{me}>")))?;
    let text = rest.trim();
    Some(if text.is_empty() {
        "help".to_owned()
    } else {
        text.to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_is_what_follows_the_bots_mention() {
        assert_eq!(
            command_after_mention("<@42> status", "42").as_deref(),
            Some("status")
        );
        assert_eq!(
            command_after_mention("  <@!42>   note hi <@7>", "42").as_deref(),
            Some("note hi <@7>")
        );
        assert_eq!(
            command_after_mention("<@42>", "42").as_deref(),
            Some("help")
        );
        assert_eq!(command_after_mention("hi <@42> status", "42"), None);
        assert_eq!(command_after_mention("<@43> status", "42"), None);
    }

    /// An interaction as today's gateway sends it (Discord's documented samples predate
    /// fields serenity requires, such as `member.flags`).
    fn sent(kind: u8, data: Value) -> Value {
        json!({
            "type": kind, "id": "4000000000000000001", "application_id": "1187654321098765432",
            "token": "tok", "guild_id": "1123456789012345678", "channel_id": "1123456789012340002",
            "version": 1, "locale": "en-US", "guild_locale": "en-US", "entitlements": [],
            "app_permissions": "2248473465835073", "context": 0, "attachment_size_limit": 10485760,
            "member": {
                "user": { "id": "80351110224678912", "username": "alice", "discriminator": "0", "avatar": null },
                "roles": [], "joined_at": "2026-01-05T10:00:00.000000+00:00", "deaf": false,
                "mute": false, "flags": 0, "permissions": "0"
            },
            "message": {
                "id": "5", "channel_id": "1123456789012340002", "type": 0, "content": "",
                "author": { "id": "1187654321098765432", "username": "warroom", "discriminator": "0", "avatar": null, "bot": true },
                "timestamp": "2026-12-01T02:10:00.000000+00:00", "edited_timestamp": null, "tts": false,
                "mention_everyone": false, "mentions": [], "mention_roles": [], "attachments": [],
                "embeds": [], "pinned": false, "flags": 0, "components": []
            },
            "data": data,
        })
    }

    #[test]
    fn interactions_survive_serenitys_types_unchanged() {
        let command = sent(
            2,
            json!({ "id": "1", "name": "quarantine", "type": 1, "options": [
                { "type": 1, "name": "pod", "options": [
                    { "type": 3, "name": "target", "value": "payments/api-7f9c" },
                    { "type": 3, "name": "reason", "value": "shell spawned" }]}]}),
        );
        let button = sent(
            3,
            json!({ "custom_id": "warroom:approve:INC-20261201-0001/R1", "component_type": 2 }),
        );
        for raw in [command, button] {
            let raw = serde_json::to_vec(&raw).unwrap();
            let typed: Interaction = serde_json::from_slice(&raw).expect("serenity reads it");
            let again = as_discord_json(&typed).unwrap();
            let decoded = decode(&again).unwrap();
            assert_eq!(decoded, decode(&raw).unwrap());
            assert!(!matches!(decoded, Incoming::BadCommand(..)), "{decoded:?}");
        }
    }
}
