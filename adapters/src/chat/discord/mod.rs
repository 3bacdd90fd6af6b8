//! Discord: interactions over HTTP (Ed25519-signed) or the gateway (serenity's client) decoded into warroom's commands and
//! clicks, application command definitions, and the REST side (serenity's `Http`).

pub mod commands;
pub mod discord_chat;
pub mod gateway;
pub mod interaction;
pub mod rest;
pub mod signature;

pub use discord_chat::DiscordChat;
pub use rest::DiscordRest;
pub use signature::{DiscordVerifier, SignatureError};
