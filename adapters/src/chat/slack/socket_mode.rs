//! Socket Mode through slack-morphism: warroom dials out to Slack over a websocket (no public
//! URL needed) and receives the same commands, clicks and events as over HTTP.
//!
//! Guarantees: every envelope goes to the same [`Inbound`] handlers as the HTTP endpoints,
//! and is acknowledged with the handler's answer (a command's ephemeral reply rides on the
//! acknowledgement, as Slack allows). slack-morphism reconnects when Slack asks (`disconnect`)
//! or the socket drops, and pings to detect dead connections.
//! Assumes: an app-level token (`xapp-…`) with `connections:write`. No signature is involved:
//! the socket itself is authenticated by that token.
//! Caveat: Slack may redeliver an envelope that was not acknowledged in time; the handlers
//! dedupe by trigger and event id, as over HTTP.

use std::sync::Arc;

use serde_json::Value;
use slack_morphism::prelude::*;

use super::inbound::{Answer, Inbound};
use super::payloads::{EventEnvelope, SlashCommand, parse_event, parse_interaction_json};
use super::web_api::connector;
use crate::chat::ChatError;

type Connector = SlackClientHyperConnector<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
>;

/// A running Socket Mode connection; dropping it does not stop it, [`SocketMode::stop`] does.
pub struct SocketMode {
    listener: SlackClientSocketModeListener<Connector>,
}

impl SocketMode {
    /// Opens the connection (`apps.connections.open` at `api_base`, then the websocket URL it
    /// returns) and starts delivering to `inbound`.
    pub async fn start(
        api_base: &str,
        app_token: &str,
        inbound: Arc<dyn Inbound>,
    ) -> Result<SocketMode, ChatError> {
        let failed = |message: String| ChatError::Failed {
            platform: "slack",
            message,
        };
        if !app_token.starts_with("xapp-") {
            return Err(failed(
                "Socket Mode needs an app-level token (`xapp-…`) with connections:write".into(),
            ));
        }
        let https = api_base.starts_with("https://");
        let connector =
            Connector::with_connector(connector(https).map_err(|e| failed(e.to_string()))?)
                .with_slack_api_url(api_base.trim_end_matches('/'));
        let client = Arc::new(SlackClient::new(connector));
        let environment = Arc::new(
            SlackClientEventsListenerEnvironment::new(client)
                .with_error_handler(on_error)
                .with_user_state(Handlers(inbound)),
        );
        let callbacks = SlackSocketModeListenerCallbacks::new()
            .with_command_events(on_command)
            .with_interaction_events(on_interaction)
            .with_push_events(on_push);
        // One connection: Slack sends each envelope on one socket anyway, and a second would
        // only matter for zero-downtime reconnects, which the handlers' dedupe makes safe.
        let config = SlackClientSocketModeConfig::new().with_max_connections_count(1);
        let listener = SlackClientSocketModeListener::new(&config, environment, callbacks);
        listener
            .listen_for(&SlackApiToken::new(app_token.to_owned().into()))
            .await
            .map_err(|e| failed(format!("cannot open Socket Mode: {e}")))?;
        listener.start().await;
        Ok(SocketMode { listener })
    }

    pub async fn stop(&self) {
        self.listener.shutdown().await;
    }
}

struct Handlers(Arc<dyn Inbound>);

async fn handlers(state: &SlackClientEventsUserState) -> Option<Arc<dyn Inbound>> {
    state
        .read()
        .await
        .get_user_state::<Handlers>()
        .map(|h| h.0.clone())
}

fn on_error(
    err: Box<dyn std::error::Error + Send + Sync>,
    _client: Arc<SlackClient<Connector>>,
    _state: SlackClientEventsUserState,
) -> http::StatusCode {
    tracing::warn!(error = %err, "Slack Socket Mode delivery not handled");
    // Acknowledged anyway: an envelope warroom cannot read would fail the same way again.
    http::StatusCode::OK
}

async fn on_command(
    event: SlackCommandEvent,
    _client: Arc<SlackClient<Connector>>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    let inbound = handlers(&state).await.ok_or("no handlers")?;
    let command = SlashCommand {
        command: event.command.0,
        text: event.text.unwrap_or_default(),
        user_id: event.user_id.0,
        user_name: String::new(),
        channel_id: event.channel_id.0,
        channel_name: event.channel_name.unwrap_or_default(),
        team_id: event.team_id.0,
        response_url: event.response_url.0.to_string(),
        trigger_id: event.trigger_id.0,
    };
    let text = match inbound.command(command).await {
        Answer::Ephemeral(text) => text,
        Answer::Nothing => String::new(),
    };
    Ok(
        SlackCommandEventResponse::new(SlackMessageContent::new().with_text(text))
            .with_response_type(SlackMessageResponseType::Ephemeral),
    )
}

async fn on_interaction(
    event: SlackInteractionEvent,
    _client: Arc<SlackClient<Connector>>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<SlackInteractionResponse> {
    let inbound = handlers(&state).await.ok_or("no handlers")?;
    // The same parser as the HTTP endpoint reads the payload slack-morphism decoded.
    let json = serde_json::to_vec(&event)?;
    let interaction = parse_interaction_json(&json)?;
    if let Answer::Ephemeral(text) = inbound.interaction(interaction).await {
        // Block actions take no response payload: the answer goes to the log, and the
        // outcome to the channel (the card is updated in place).
        tracing::info!(answer = %text, "Slack click answered");
    }
    Ok(SlackInteractionResponse::Empty)
}

async fn on_push(
    event: SlackPushEventCallback,
    _client: Arc<SlackClient<Connector>>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    let inbound = handlers(&state).await.ok_or("no handlers")?;
    let mut json = serde_json::to_value(&event)?;
    if let Value::Object(map) = &mut json {
        map.insert("type".into(), Value::String("event_callback".into()));
    }
    if let EventEnvelope::Callback(callback) = parse_event(json.to_string().as_bytes())? {
        inbound.event(callback).await;
    }
    Ok(())
}
