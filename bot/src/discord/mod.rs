//! Discord as an inbound platform: setup from the plan, and what warroom does with a verified
//! interaction (the same path as Slack's).

mod inbound;

use std::collections::HashMap;
use std::sync::Arc;

use warroom_adapters::chat::discord::{DiscordChat, DiscordRest, DiscordVerifier};
use warroom_config::LoadedPlan;

pub use inbound::DiscordInbound;

/// Discord as the plan configures it, before the engine exists.
pub struct DiscordSetup {
    pub chat: Arc<DiscordChat>,
    pub verifier: Arc<DiscordVerifier>,
    pub guild: String,
}

/// The REST client alone (for `warroom discord register`).
pub fn rest(plan: &LoadedPlan) -> Result<(DiscordRest, Option<String>), String> {
    let cfg = plan
        .plan
        .communication
        .discord
        .as_ref()
        .ok_or("the plan has no [communication.discord]")?;
    let token = cfg
        .bot_token
        .resolve()
        .map_err(|e| format!("bot_token: {e}"))?;
    let rest = DiscordRest::new(cfg.api_base_url.as_deref(), &token, &cfg.application_id)?;
    Ok((rest, cfg.guild_id.clone()))
}

/// `Ok(None)` when the plan has no Discord; `Err` says which setting cannot be used and why.
pub fn setup(plan: &LoadedPlan) -> Result<Option<DiscordSetup>, String> {
    let Some(cfg) = &plan.plan.communication.discord else {
        return Ok(None);
    };
    let verifier = DiscordVerifier::new(&cfg.public_key).map_err(|e| format!("public_key: {e}"))?;
    let guild = cfg
        .guild_id
        .clone()
        .ok_or("guild_id: incident channels are created in a server; set the server's id")?;
    let (rest, _) = rest(plan)?;
    let accounts: HashMap<_, _> = plan
        .plan
        .people
        .iter()
        .filter_map(|p| p.discord.clone().map(|d| (p.id.clone(), d)))
        .collect();
    let chat = DiscordChat::new(
        rest,
        guild.clone(),
        cfg.incident_category.clone(),
        cfg.application_id.clone(),
        accounts,
    );
    Ok(Some(DiscordSetup {
        chat: Arc::new(chat),
        verifier: Arc::new(verifier),
        guild,
    }))
}
