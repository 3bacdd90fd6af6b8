//! Chat platforms, behind one trait: the engine posts, updates, invites and asks for
//! approvals the same way on the console, Slack and Discord.

pub mod console;
pub mod discord;
pub mod drill;
pub mod slack;

#[cfg(test)]
mod fuzz_tests;

use async_trait::async_trait;
use serde::Serialize;
use warroom_commands::{IncidentId, PersonId};

/// A channel on one platform.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ChannelRef {
    pub platform: &'static str,
    pub id: String,
    pub name: String,
}

/// A message on one platform, so it can be updated in place later.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct MessageRef {
    pub platform: &'static str,
    pub channel: String,
    pub id: String,
}

/// An approval card: what will change, who asked and why, and the buttons while it is open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalCard {
    pub incident: IncidentId,
    pub request: String,
    pub title: String,
    pub lines: Vec<String>,
    /// `pending`, `approved`, `executed`, `denied`, … (the request's status).
    pub status: String,
    /// Approve and Deny are offered only while the request is open.
    pub open: bool,
    /// Who may still approve it (empty once it is decided): chat platforms mention them so
    /// the right people are pulled in, and the console enables the buttons only for them.
    pub deciders: Vec<warroom_config::PersonId>,
}

impl ApprovalCard {
    /// The card as plain text, for platforms (and logs) without rich layout.
    pub fn text(&self) -> String {
        let mut out = format!("{}\n", self.title);
        for line in &self.lines {
            out.push_str(line);
            out.push('\n');
        }
        out.push_str(&format!("status: {}", self.status));
        if self.open {
            out.push_str(&format!(
                "\n[Approve] `approve {}`   [Deny] `deny {}`",
                self.request, self.request
            ));
        }
        out
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("{platform}: no channel `{channel}`")]
    NoChannel {
        platform: &'static str,
        channel: String,
    },
    #[error("{platform}: no message `{message}`")]
    NoMessage {
        platform: &'static str,
        message: String,
    },
    #[error("{platform}: no account known for `{person}`")]
    NoAccount {
        platform: &'static str,
        person: PersonId,
    },
    #[error("{platform}: {message}")]
    Failed {
        platform: &'static str,
        message: String,
    },
}

/// One chat platform. Implementations queue and retry as their platform needs; a returned
/// error means the platform did not take the message.
#[async_trait]
pub trait Chat: Send + Sync {
    fn platform(&self) -> &'static str;

    /// Create the incident's channel, or join it if it exists, and set its topic.
    async fn ensure_channel(
        &self,
        incident: &IncidentId,
        name: &str,
        topic: &str,
    ) -> Result<ChannelRef, ChatError>;

    async fn invite(&self, channel: &ChannelRef, people: &[PersonId]) -> Result<(), ChatError>;

    async fn post(&self, channel: &ChannelRef, text: &str) -> Result<MessageRef, ChatError>;

    async fn update(&self, message: &MessageRef, text: &str) -> Result<(), ChatError>;

    async fn direct_message(&self, person: &PersonId, text: &str) -> Result<(), ChatError>;

    /// A reply only `person` sees.
    async fn ephemeral(
        &self,
        channel: &ChannelRef,
        person: &PersonId,
        text: &str,
    ) -> Result<(), ChatError>;

    async fn approval_card(
        &self,
        channel: &ChannelRef,
        card: &ApprovalCard,
    ) -> Result<MessageRef, ChatError>;

    async fn update_card(&self, message: &MessageRef, card: &ApprovalCard)
    -> Result<(), ChatError>;

    /// A page to one person: a direct message, with an Acknowledge button where the
    /// platform has buttons (the text says how to acknowledge otherwise). `key` is the same
    /// on every attempt of this delivery; with `look_first`, a platform that can search the
    /// conversation does, and answers `Ok(true)` without posting when the message is there.
    async fn page(
        &self,
        person: &PersonId,
        incident: &IncidentId,
        text: &str,
        key: &str,
        look_first: bool,
    ) -> Result<bool, ChatError> {
        let _ = (incident, key, look_first);
        self.direct_message(person, text).await.map(|()| false)
    }

    /// Post in an existing channel found by its name (a team's channel), joining it when
    /// needed. Platforms without such channels ignore it.
    async fn announce_in(&self, _channel: &str, _text: &str) -> Result<(), ChatError> {
        Ok(())
    }

    /// Pin a message (the incident summary) where the platform has pins; others ignore it.
    async fn pin(&self, _message: &MessageRef) -> Result<(), ChatError> {
        Ok(())
    }
}
