//! Discord as a chat platform: incident channels under the plan's category that only the
//! incident's responders and the bot can see, messages, approval cards as embeds with
//! Approve / Deny buttons edited in place, pages by direct message with an Acknowledge button.

use std::collections::HashMap;

use async_trait::async_trait;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use warroom_commands::{IncidentId, PersonId};

use super::rest::{DiscordRest, PLATFORM, failed};
use crate::chat::{ApprovalCard, ChannelRef, Chat, ChatError, MessageRef};

/// Discord permission bits warroom sets on incident channels.
pub mod permissions {
    pub const VIEW_CHANNEL: u64 = 1 << 10;
    pub const SEND_MESSAGES: u64 = 1 << 11;
    pub const MANAGE_MESSAGES: u64 = 1 << 13;
    pub const EMBED_LINKS: u64 = 1 << 14;
    pub const ATTACH_FILES: u64 = 1 << 15;
    pub const READ_MESSAGE_HISTORY: u64 = 1 << 16;
    pub const ADD_REACTIONS: u64 = 1 << 6;
    /// What a responder may do in an incident channel.
    pub const RESPONDER: u64 = VIEW_CHANNEL
        | SEND_MESSAGES
        | READ_MESSAGE_HISTORY
        | ADD_REACTIONS
        | ATTACH_FILES
        | EMBED_LINKS;
    /// What the bot needs there (pins need MANAGE_MESSAGES).
    pub const BOT: u64 = RESPONDER | MANAGE_MESSAGES;
}

/// Button ids: `warroom:approve:INC-…/R1`, `warroom:deny:INC-…/R1`, `warroom:ack:INC-…[#key]`.
pub const APPROVE: &str = "warroom:approve:";
pub const DENY: &str = "warroom:deny:";
pub const ACK: &str = "warroom:ack:";

pub struct DiscordChat {
    rest: DiscordRest,
    guild: String,
    category: Option<String>,
    /// The bot's own user id (the application's id for a bot application).
    bot: String,
    /// Plan person → Discord user id, and back.
    accounts: HashMap<PersonId, String>,
}

impl DiscordChat {
    pub fn new(
        rest: DiscordRest,
        guild: String,
        category: Option<String>,
        bot: String,
        accounts: HashMap<PersonId, String>,
    ) -> Self {
        DiscordChat {
            rest,
            guild,
            category,
            bot,
            accounts,
        }
    }

    pub fn rest(&self) -> &DiscordRest {
        &self.rest
    }

    /// The Discord user ids of the people with an account in the plan.
    fn mentions(&self, people: &[PersonId]) -> Vec<&str> {
        people.iter().filter_map(|p| self.account(p).ok()).collect()
    }

    fn account(&self, person: &PersonId) -> Result<&str, ChatError> {
        self.accounts
            .get(person)
            .map(String::as_str)
            .ok_or_else(|| ChatError::NoAccount {
                platform: PLATFORM,
                person: person.clone(),
            })
    }

    async fn post_body(&self, channel: &str, body: Value) -> Result<MessageRef, ChatError> {
        let id = self.rest.post(channel, &body).await?;
        Ok(MessageRef {
            platform: PLATFORM,
            channel: channel.to_owned(),
            id,
        })
    }
}

/// An approval card as Discord shows it: an embed, and while it is open the people who may
/// approve (`mentions`: Discord user ids, pinged) and the buttons.
pub fn card_body(card: &ApprovalCard, mentions: &[&str]) -> Value {
    let color = match card.status.as_str() {
        "pending" => 0xF1C40F,
        "approved" | "executing" => 0x3498DB,
        "executed" => 0x2ECC71,
        _ => 0xE74C3C,
    };
    let mut body = json!({
        "content": "",
        "embeds": [{
            "title": card.title,
            "description": card.lines.join("\n"),
            "color": color,
            "footer": { "text": format!("{} · status: {}", card.request, card.status) },
        }],
        "components": [],
        "allowed_mentions": { "parse": [] },
    });
    if card.open && !mentions.is_empty() {
        let pings: Vec<String> = mentions.iter().map(|id| format!("<@{id}>")).collect();
        body["content"] = json!(format!("Can approve: {}", pings.join(" ")));
        body["allowed_mentions"] = json!({ "users": mentions });
    }
    if card.open {
        let value = format!("{}/{}", card.incident, card.request);
        body["components"] = json!([{
            "type": 1,
            "components": [
                { "type": 2, "style": 3, "label": "Approve", "custom_id": format!("{APPROVE}{value}") },
                { "type": 2, "style": 4, "label": "Deny", "custom_id": format!("{DENY}{value}") },
            ],
        }]);
    }
    body
}

/// The Acknowledge button's id for one page delivery: the key's digest keeps it under
/// Discord's 100 characters and lets a resumed delivery find the message.
pub fn ack_id(incident: &IncidentId, key: &str) -> String {
    let digest = hex::encode(&Sha256::digest(key.as_bytes())[..8]);
    format!("{ACK}{incident}#{digest}")
}

#[async_trait]
impl Chat for DiscordChat {
    fn platform(&self) -> &'static str {
        PLATFORM
    }

    /// Find the incident's channel by name (under the category), or create it: private to
    /// the bot (and, once invited, the responders) through permission overwrites.
    async fn ensure_channel(
        &self,
        _incident: &IncidentId,
        name: &str,
        topic: &str,
    ) -> Result<ChannelRef, ChatError> {
        let existing = self.rest.guild_channels(&self.guild).await?;
        let found = existing.iter().find(|c| {
            c["name"] == name
                && c["type"] == 0
                && (self.category.is_none() || c["parent_id"].as_str() == self.category.as_deref())
        });
        let id = match found {
            Some(c) => c["id"].as_str().unwrap_or_default().to_owned(),
            None => {
                let mut body = json!({
                    "name": name,
                    "type": 0,
                    "topic": topic,
                    "permission_overwrites": [
                        // @everyone's role id is the guild's id.
                        { "id": self.guild, "type": 0, "allow": "0", "deny": permissions::VIEW_CHANNEL.to_string() },
                        { "id": self.bot, "type": 1, "allow": permissions::BOT.to_string(), "deny": "0" },
                    ],
                });
                if let Some(c) = &self.category {
                    body["parent_id"] = json!(c);
                }
                let created = self.rest.create_channel(&self.guild, &body).await?;
                created["id"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| failed("create channel: the answer has no id"))?
            }
        };
        if found.is_some() {
            self.rest
                .edit_channel(&id, &json!({ "topic": topic }))
                .await?;
        }
        Ok(ChannelRef {
            platform: PLATFORM,
            id,
            name: name.to_owned(),
        })
    }

    async fn invite(&self, channel: &ChannelRef, people: &[PersonId]) -> Result<(), ChatError> {
        for p in people {
            // People without a Discord account are reached elsewhere.
            if let Ok(user) = self.account(p) {
                self.rest
                    .allow_member(&channel.id, user, permissions::RESPONDER)
                    .await?;
            }
        }
        Ok(())
    }

    async fn post(&self, channel: &ChannelRef, text: &str) -> Result<MessageRef, ChatError> {
        self.post_body(
            &channel.id,
            json!({ "content": text, "allowed_mentions": { "parse": ["users"] } }),
        )
        .await
    }

    async fn update(&self, message: &MessageRef, text: &str) -> Result<(), ChatError> {
        self.rest
            .edit(&message.channel, &message.id, &json!({ "content": text }))
            .await
    }

    async fn direct_message(&self, person: &PersonId, text: &str) -> Result<(), ChatError> {
        let dm = self.rest.dm_channel(self.account(person)?).await?;
        self.post_body(&dm, json!({ "content": text }))
            .await
            .map(|_| ())
    }

    /// Discord has no ephemeral messages outside an interaction: a direct message.
    async fn ephemeral(
        &self,
        _channel: &ChannelRef,
        person: &PersonId,
        text: &str,
    ) -> Result<(), ChatError> {
        self.direct_message(person, text).await
    }

    async fn approval_card(
        &self,
        channel: &ChannelRef,
        card: &ApprovalCard,
    ) -> Result<MessageRef, ChatError> {
        self.post_body(&channel.id, card_body(card, &self.mentions(&card.deciders)))
            .await
    }

    async fn update_card(
        &self,
        message: &MessageRef,
        card: &ApprovalCard,
    ) -> Result<(), ChatError> {
        self.rest
            .edit(
                &message.channel,
                &message.id,
                &card_body(card, &self.mentions(&card.deciders)),
            )
            .await
    }

    async fn page(
        &self,
        person: &PersonId,
        incident: &IncidentId,
        text: &str,
        key: &str,
        look_first: bool,
    ) -> Result<bool, ChatError> {
        let dm = self.rest.dm_channel(self.account(person)?).await?;
        let button = ack_id(incident, key);
        if look_first {
            let recent = self.rest.recent_messages(&dm).await?;
            let seen = recent.iter().any(|m| {
                m["components"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|row| row["components"].as_array().into_iter().flatten())
                    .any(|b| b["custom_id"] == button.as_str())
            });
            if seen {
                return Ok(true);
            }
        }
        let body = json!({
            "content": text,
            "components": [{
                "type": 1,
                "components": [{ "type": 2, "style": 1, "label": "Acknowledge", "custom_id": button }],
            }],
        });
        self.post_body(&dm, body).await.map(|_| false)
    }

    /// Post in an existing channel of the guild found by name (the stakeholder channel).
    async fn announce_in(&self, channel: &str, text: &str) -> Result<(), ChatError> {
        let name = channel.trim_start_matches('#');
        let all = self.rest.guild_channels(&self.guild).await?;
        let id = all
            .iter()
            .find(|c| c["name"] == name && c["type"] == 0)
            .and_then(|c| c["id"].as_str())
            .ok_or_else(|| ChatError::NoChannel {
                platform: PLATFORM,
                channel: name.to_owned(),
            })?
            .to_owned();
        self.post_body(&id, json!({ "content": text }))
            .await
            .map(|_| ())
    }

    async fn pin(&self, message: &MessageRef) -> Result<(), ChatError> {
        self.rest.pin(&message.channel, &message.id).await
    }
}
