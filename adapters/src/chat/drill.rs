//! A chat platform used during a drill that the plan lets notify people (`[drill] notify`):
//! every message it sends starts with `DRILL —`, so nobody mistakes an exercise for an
//! incident.

use std::sync::Arc;

use async_trait::async_trait;
use warroom_commands::{IncidentId, PersonId};

use super::{ApprovalCard, ChannelRef, Chat, ChatError, MessageRef};

pub const DRILL_PREFIX: &str = "DRILL — ";

pub struct DrillChat(pub Arc<dyn Chat>);

fn mark(text: &str) -> String {
    if text.starts_with(DRILL_PREFIX) {
        text.to_owned()
    } else {
        format!("{DRILL_PREFIX}{text}")
    }
}

fn mark_card(card: &ApprovalCard) -> ApprovalCard {
    ApprovalCard {
        title: mark(&card.title),
        ..card.clone()
    }
}

#[async_trait]
impl Chat for DrillChat {
    fn platform(&self) -> &'static str {
        self.0.platform()
    }

    async fn ensure_channel(
        &self,
        incident: &IncidentId,
        name: &str,
        topic: &str,
    ) -> Result<ChannelRef, ChatError> {
        self.0.ensure_channel(incident, name, &mark(topic)).await
    }

    async fn invite(&self, channel: &ChannelRef, people: &[PersonId]) -> Result<(), ChatError> {
        self.0.invite(channel, people).await
    }

    async fn post(&self, channel: &ChannelRef, text: &str) -> Result<MessageRef, ChatError> {
        self.0.post(channel, &mark(text)).await
    }

    async fn update(&self, message: &MessageRef, text: &str) -> Result<(), ChatError> {
        self.0.update(message, &mark(text)).await
    }

    async fn direct_message(&self, person: &PersonId, text: &str) -> Result<(), ChatError> {
        self.0.direct_message(person, &mark(text)).await
    }

    async fn ephemeral(
        &self,
        channel: &ChannelRef,
        person: &PersonId,
        text: &str,
    ) -> Result<(), ChatError> {
        self.0.ephemeral(channel, person, &mark(text)).await
    }

    async fn approval_card(
        &self,
        channel: &ChannelRef,
        card: &ApprovalCard,
    ) -> Result<MessageRef, ChatError> {
        self.0.approval_card(channel, &mark_card(card)).await
    }

    async fn update_card(
        &self,
        message: &MessageRef,
        card: &ApprovalCard,
    ) -> Result<(), ChatError> {
        self.0.update_card(message, &mark_card(card)).await
    }

    async fn page(
        &self,
        person: &PersonId,
        incident: &IncidentId,
        text: &str,
        key: &str,
        look_first: bool,
    ) -> Result<bool, ChatError> {
        self.0
            .page(person, incident, &mark(text), key, look_first)
            .await
    }

    async fn announce_in(&self, channel: &str, text: &str) -> Result<(), ChatError> {
        self.0.announce_in(channel, &mark(text)).await
    }

    async fn pin(&self, message: &MessageRef) -> Result<(), ChatError> {
        self.0.pin(message).await
    }
}
