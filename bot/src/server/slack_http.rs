//! `/slack/commands`, `/slack/interactions`, `/slack/events`: Slack's signed requests (http
//! mode) into the handlers Socket Mode uses too.
//!
//! Guarantees: the signature (v0 HMAC-SHA256, timestamp within 5 minutes) is checked on the
//! raw body, bounded to 64 KiB, before anything else; a failure is 401 with nothing recorded.
//! Everything after that is [`SlackInbound`]'s (person mapping, one effect per delivery,
//! answer within Slack's window).

use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use warroom_adapters::chat::slack::inbound::{Answer, Inbound};
use warroom_adapters::chat::slack::payloads::{
    EventEnvelope, parse_event, parse_interaction, parse_slash_command,
};
use warroom_adapters::chat::slack::signature;

use crate::platforms::HttpReceiver;
use crate::slack::SlackInbound;

/// Slack's endpoints (http mode).
pub struct SlackHttp {
    pub inbound: Arc<SlackInbound>,
}

#[async_trait]
impl HttpReceiver for SlackHttp {
    async fn receive(&self, endpoint: &str, headers: &HeaderMap, body: Bytes) -> Response {
        let inbound = match verified(&self.inbound, headers, &body) {
            Ok(i) => i,
            Err(r) => return r.into_response(),
        };
        match endpoint {
            "commands" => command(inbound, body).await,
            "interactions" => interaction(inbound, body).await,
            "events" => events(inbound, body).await,
            other => (
                StatusCode::NOT_FOUND,
                format!("/slack/{other} is not one of warroom's Slack endpoints (commands, interactions, events)"),
            )
                .into_response(),
        }
    }
}

/// A refusal before any work, as Slack will see it.
struct Refused(StatusCode, String);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        (self.0, self.1).into_response()
    }
}

/// The handlers, once the signature checks out.
fn verified<'a>(
    inbound: &'a SlackInbound,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<&'a SlackInbound, Refused> {
    let Some(secret) = &inbound.signing_secret else {
        return Err(Refused(
            StatusCode::NOT_FOUND,
            "Slack runs in Socket Mode here: requests come over the socket, not to this URL".into(),
        ));
    };
    let now = chrono::Utc::now().timestamp();
    signature::verify(secret.as_bytes(), headers, body, now).map_err(|e| {
        tracing::warn!(error = %e, "Slack request refused: signature");
        Refused(
            StatusCode::UNAUTHORIZED,
            format!("invalid Slack signature: {e}"),
        )
    })?;
    Ok(inbound)
}

fn answer(a: Answer) -> Response {
    match a {
        Answer::Ephemeral(text) => {
            axum::Json(json!({ "response_type": "ephemeral", "text": text })).into_response()
        }
        Answer::Nothing => StatusCode::OK.into_response(),
    }
}

fn bad_payload(e: impl std::fmt::Display) -> Response {
    (StatusCode::BAD_REQUEST, e.to_string()).into_response()
}

async fn command(inbound: &SlackInbound, body: Bytes) -> Response {
    match parse_slash_command(&body) {
        Ok(cmd) => answer(inbound.command(cmd).await),
        Err(e) => bad_payload(e),
    }
}

async fn interaction(inbound: &SlackInbound, body: Bytes) -> Response {
    match parse_interaction(&body) {
        Ok(i) => answer(inbound.interaction(i).await),
        Err(e) => bad_payload(e),
    }
}

/// The URL check Slack makes when the app is set up, and events (each `event_id` acted on
/// once, however often Slack retries it; `X-Slack-Retry-Num` needs no special case).
async fn events(inbound: &SlackInbound, body: Bytes) -> Response {
    match parse_event(&body) {
        Ok(EventEnvelope::UrlVerification { challenge }) => {
            axum::Json(json!({ "challenge": challenge })).into_response()
        }
        Ok(EventEnvelope::Callback(cb)) => {
            inbound.event(cb).await;
            StatusCode::OK.into_response()
        }
        Ok(EventEnvelope::Other { .. }) => StatusCode::OK.into_response(),
        Err(e) => bad_payload(e),
    }
}
