//! What Slack sends warroom, whichever way it arrives (signed HTTP or Socket Mode): the
//! handlers behind both are this one trait, so the two modes cannot drift apart.

use async_trait::async_trait;

use super::payloads::{EventCallback, Interaction, SlashCommand};

/// The immediate answer to a command or a click (Slack shows it to the sender only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Ephemeral(String),
    /// Acknowledge without a message.
    Nothing,
}

/// Handles verified deliveries. Each method returns within Slack's 3-second window and
/// finishes longer work in the background.
#[async_trait]
pub trait Inbound: Send + Sync + 'static {
    async fn command(&self, command: SlashCommand) -> Answer;
    async fn interaction(&self, interaction: Interaction) -> Answer;
    /// Events are acknowledged empty; what they cause is posted to the channel.
    async fn event(&self, event: EventCallback);
}
