//! `/slack/commands`, `/slack/interactions`, `/slack/events`: Slack's signed requests (http
//! mode) into the handlers Socket Mode uses too.
//!
//! Guarantees: the signature (v0 HMAC-SHA256, timestamp within 5 minutes) is checked on the
//! raw body, bounded to 64 KiB, before anything else; a failure is 401 with nothing recorded.
//! Everything after that is [`SlackInbound`]'s (person mapping, one effect per delivery,
//! answer within Slack's window).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use warroom_adapters::chat::slack::inbound::{Answer, Inbound};
use warroom_adapters::chat::slack::payloads::{
    EventEnvelope, parse_event, parse_interaction, parse_slash_command,
};
use warroom_adapters::chat::slack::signature;

use super::{AppState, Ready, ReadyState};
use crate::slack::SlackInbound;

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/slack/commands", post(command))
        .route("/slack/interactions", post(interaction))
        .route("/slack/events", post(events))
        .layer(DefaultBodyLimit::max(64 * 1024))
        .with_state(state)
}

/// A refusal before any work, as Slack will see it.
struct Refused(StatusCode, String);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        (self.0, self.1).into_response()
    }
}

/// The handlers, once the signature checks out.
fn verified(ready: &Ready, headers: &HeaderMap, body: &[u8]) -> Result<Arc<SlackInbound>, Refused> {
    let inbound = ready.slack.clone().ok_or_else(|| {
        Refused(StatusCode::NOT_FOUND, "Slack is not configured: the plan needs [communication.slack] with bot_token and signing_secret that can be read".into())
    })?;
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

async fn command(ReadyState(ready): ReadyState, headers: HeaderMap, body: Bytes) -> Response {
    let inbound = match verified(&ready, &headers, &body) {
        Ok(i) => i,
        Err(r) => return r.into_response(),
    };
    match parse_slash_command(&body) {
        Ok(cmd) => answer(inbound.command(cmd).await),
        Err(e) => bad_payload(e),
    }
}

async fn interaction(ReadyState(ready): ReadyState, headers: HeaderMap, body: Bytes) -> Response {
    let inbound = match verified(&ready, &headers, &body) {
        Ok(i) => i,
        Err(r) => return r.into_response(),
    };
    match parse_interaction(&body) {
        Ok(i) => answer(inbound.interaction(i).await),
        Err(e) => bad_payload(e),
    }
}

/// The URL check Slack makes when the app is set up, and events (each `event_id` acted on
/// once, however often Slack retries it; `X-Slack-Retry-Num` needs no special case).
async fn events(ReadyState(ready): ReadyState, headers: HeaderMap, body: Bytes) -> Response {
    let inbound = match verified(&ready, &headers, &body) {
        Ok(i) => i,
        Err(r) => return r.into_response(),
    };
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
