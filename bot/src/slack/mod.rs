//! Slack as an inbound platform: setup from the plan, and the handlers shared by the HTTP
//! endpoints and Socket Mode.

mod events;
mod inbound;

use std::sync::Arc;
use std::time::Duration;

use warroom_adapters::chat::slack::socket_mode::SocketMode;
use warroom_adapters::chat::slack::{SlackChat, SlackConfig};
use warroom_config::{LoadedPlan, SlackMode};

pub use inbound::SlackInbound;

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

/// In socket mode, dial out to Slack and deliver to `inbound`.
pub async fn start_socket_mode(
    setup: &SlackSetup,
    inbound: Arc<SlackInbound>,
) -> Result<Option<SocketMode>, String> {
    let Some(app_token) = &setup.app_token else {
        return Ok(None);
    };
    SocketMode::start(&setup.api_base, app_token, inbound)
        .await
        .map(Some)
        .map_err(|e| e.to_string())
}
