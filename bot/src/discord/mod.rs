//! Discord as an inbound platform: setup from the plan, and what warroom does with a verified
//! interaction (the same path as Slack's).

mod inbound;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use warroom_adapters::chat::Chat;

use warroom_adapters::chat::discord::{DiscordChat, DiscordRest, DiscordVerifier, gateway};
use warroom_config::{DiscordMode, LoadedPlan};

pub use inbound::DiscordInbound;

use crate::engine::Engine;
use crate::platforms::{FromPlan, Platform, Receiving};
use crate::server::discord_http::DiscordHttp;

/// Discord as the plan configures it, before the engine exists.
pub struct DiscordSetup {
    pub chat: Arc<DiscordChat>,
    pub verifier: Arc<DiscordVerifier>,
    pub guild: String,
    /// Gateway mode: `Some(the plan's gateway_url)`; http mode: `None`.
    pub gateway: Option<Option<String>>,
}

/// Discord as one of the plan's platforms.
pub fn platform(plan: &LoadedPlan) -> FromPlan {
    Ok(setup(plan)?.map(|s| Box::new(s) as Box<dyn Platform>))
}

#[async_trait]
impl Platform for DiscordSetup {
    fn name(&self) -> &'static str {
        "discord"
    }

    fn chat(&self) -> Arc<dyn Chat> {
        self.chat.clone()
    }

    /// http mode: `/discord/interactions`; gateway mode: serenity's client connects out.
    async fn start(self: Box<Self>, engine: Arc<Engine>) -> Receiving {
        let inbound = Arc::new(DiscordInbound::new(
            engine,
            self.chat.clone(),
            self.guild.clone(),
        ));
        match &self.gateway {
            None => {
                crate::logging::notice_info("Discord: interactions at /discord/interactions");
                Receiving {
                    http: Some(Arc::new(DiscordHttp {
                        inbound,
                        verifier: self.verifier.clone(),
                    })),
                    connection: None,
                }
            }
            Some(url) => {
                start_gateway(&self, url.clone(), inbound).await;
                Receiving::default()
            }
        }
    }
}

/// Gateway mode: serenity's client connects out and reconnects by itself; its events go to
/// `inbound`, as HTTP interactions do. A client that cannot be built is said at start.
async fn start_gateway(setup: &DiscordSetup, url: Option<String>, inbound: Arc<DiscordInbound>) {
    match gateway::client(setup.chat.clone(), url, inbound).await {
        Ok(mut client) => {
            crate::logging::notice_info("Discord: gateway mode, connecting");
            tokio::spawn(async move {
                if let Err(e) = client.start().await {
                    tracing::error!(error = %e, "Discord gateway stopped");
                    crate::logging::notice_warn(&format!("Discord gateway stopped: {e}"));
                }
            });
        }
        Err(e) => crate::logging::notice_warn(&format!("Discord gateway not started: {e}")),
    }
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
        gateway: (cfg.mode == DiscordMode::Gateway).then(|| cfg.gateway_url.clone()),
    }))
}
