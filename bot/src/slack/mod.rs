//! Slack as an inbound platform: setup from the plan, and the handlers shared by the HTTP
//! endpoints and Socket Mode.

mod events;
mod inbound;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use warroom_adapters::chat::Chat;
use warroom_adapters::chat::slack::socket_mode::SocketMode;
use warroom_adapters::chat::slack::{SlackChat, SlackConfig};
use warroom_config::{LoadedPlan, SlackMode};

pub use inbound::SlackInbound;

use crate::engine::Engine;
use crate::platforms::{Connection, FromPlan, Platform, Receiving};
use crate::server::slack_http::SlackHttp;

/// Slack as the plan configures it, before the engine exists.
pub struct SlackSetup {
    pub chat: Arc<SlackChat>,
    /// http mode: verifies each request.
    pub signing_secret: Option<String>,
    /// socket mode: opens the connection.
    pub app_token: Option<String>,
    pub api_base: String,
}

/// `Ok(None)` when the plan has no Slack; `Err` says which setting cannot be used and why.
pub fn setup(plan: &LoadedPlan) -> Result<Option<SlackSetup>, String> {
    let Some(cfg) = &plan.plan.communication.slack else {
        return Ok(None);
    };
    let token = cfg
        .bot_token
        .resolve()
        .map_err(|e| format!("bot_token: {e}"))?;
    let secret = |name: &str, value: &Option<warroom_config::SecretRef>, why: &str| {
        value
            .as_ref()
            .ok_or_else(|| format!("{} mode needs {name} {why}", mode_name(cfg.mode)))?
            .resolve()
            .map_err(|e| format!("{name}: {e}"))
    };
    let (signing_secret, app_token) = match cfg.mode {
        SlackMode::Http => (
            Some(secret(
                "signing_secret",
                &cfg.signing_secret,
                "to verify Slack's requests",
            )?),
            None,
        ),
        SlackMode::Socket => (
            None,
            Some(secret(
                "app_token",
                &cfg.app_token,
                "(an xapp- token with connections:write) to open the socket",
            )?),
        ),
    };
    let mut config = SlackConfig::new(token);
    if let Some(base) = &cfg.api_base_url {
        config.api_base = base.clone();
    }
    if let Ok(ms) = std::env::var("WARROOM_SLACK_SEND_INTERVAL_MS")
        && let Ok(ms) = ms.parse()
    {
        config.send_interval = Duration::from_millis(ms);
    }
    let api_base = config.api_base.clone();
    let people = plan
        .plan
        .people
        .iter()
        .filter_map(|p| p.slack.clone().map(|s| (p.id.clone(), s)))
        .collect();
    let chat = SlackChat::new(config, people).map_err(|e| e.to_string())?;
    Ok(Some(SlackSetup {
        chat: Arc::new(chat),
        signing_secret,
        app_token,
        api_base,
    }))
}

fn mode_name(mode: SlackMode) -> &'static str {
    match mode {
        SlackMode::Http => "http",
        SlackMode::Socket => "socket",
    }
}

/// Slack as one of the plan's platforms.
pub fn platform(plan: &LoadedPlan) -> FromPlan {
    Ok(setup(plan)?.map(|s| Box::new(s) as Box<dyn Platform>))
}

#[async_trait]
impl Platform for SlackSetup {
    fn name(&self) -> &'static str {
        "slack"
    }

    fn chat(&self) -> Arc<dyn Chat> {
        self.chat.clone()
    }

    /// http mode: the endpoints under `/slack/`; socket mode: dial out to Slack and deliver
    /// what comes over the socket to the same handlers.
    async fn start(self: Box<Self>, engine: Arc<Engine>) -> Receiving {
        let inbound = Arc::new(SlackInbound::new(
            engine,
            self.chat.clone(),
            self.signing_secret.clone(),
        ));
        let Some(app_token) = &self.app_token else {
            crate::logging::notice_info(
                "Slack: commands at /slack/commands, buttons at /slack/interactions, events at /slack/events",
            );
            return Receiving {
                http: Some(Arc::new(SlackHttp { inbound })),
                connection: None,
            };
        };
        match SocketMode::start(&self.api_base, app_token, inbound).await {
            Ok(socket) => {
                crate::logging::notice_info(&format!(
                    "Slack: Socket Mode connected through {}",
                    self.api_base
                ));
                Receiving {
                    http: None,
                    connection: Some(Box::new(Socket(socket))),
                }
            }
            Err(why) => {
                crate::logging::notice_warn(&format!("Slack Socket Mode not started: {why}"));
                Receiving::default()
            }
        }
    }
}

/// Socket Mode's connection, closed when warroom stops.
struct Socket(SocketMode);

#[async_trait]
impl Connection for Socket {
    async fn close(&self) {
        self.0.stop().await;
    }
}
