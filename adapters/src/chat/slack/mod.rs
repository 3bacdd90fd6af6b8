//! Slack: verifying and parsing what Slack sends, laying out what we send, and the Web API
//! client behind [`SlackChat`].
//!
//! Inbound: [`signature::verify`] first, then [`payloads`], then the [`inbound::Inbound`]
//! handlers (HTTP and [`socket_mode`] alike); a click on a card is read with
//! [`buttons::approval_click`]. Outbound: [`SlackChat`] implements the `Chat` trait, with
//! messages queued per channel so bursts survive Slack's rate limits.

pub mod blocks;
pub mod buttons;
pub mod inbound;
pub mod names;
pub mod payloads;
mod queue;
pub mod signature;
mod slack_chat;
pub mod socket_mode;
pub mod web_api;

#[cfg(test)]
mod fake_slack;

pub use slack_chat::{SlackChat, SlackConfig, SlackMessage};
