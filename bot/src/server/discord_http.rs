//! `POST /discord/interactions`: Discord's signed interactions (http mode).
//!
//! Guarantees: the Ed25519 signature over timestamp + raw body (bounded to 64 KiB) is checked
//! against the plan's `public_key` before anything is parsed, and the timestamp must be within
//! 5 minutes; a failure is 401 with nothing recorded. PING is answered PONG. Everything after
//! that is the one inbound path's (person mapping, one effect per interaction id, an answer
//! within Discord's 3 seconds).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use warroom_adapters::chat::discord::DiscordVerifier;
use warroom_adapters::chat::discord::interaction::decode;

use super::{AppState, ReadyState};
use crate::discord::DiscordInbound;

/// Discord's side of the server, when the plan configures it in http mode.
pub struct DiscordHttp {
    pub inbound: Arc<DiscordInbound>,
    pub verifier: Arc<DiscordVerifier>,
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/discord/interactions", post(interactions))
        .layer(DefaultBodyLimit::max(64 * 1024))
        .with_state(state)
}

async fn interactions(ReadyState(ready): ReadyState, headers: HeaderMap, body: Bytes) -> Response {
    let Some(discord) = ready.discord.as_ref() else {
        return (
            StatusCode::NOT_FOUND,
            "Discord is not configured in http mode here: the plan needs [communication.discord] (mode = \"http\") with application_id, public_key, bot_token and guild_id",
        )
            .into_response();
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let now = chrono::Utc::now().timestamp();
    if let Err(e) = discord.verifier.check(
        header("x-signature-ed25519"),
        header("x-signature-timestamp"),
        &body,
        now,
    ) {
        tracing::warn!(error = %e, "Discord interaction refused: signature");
        return (
            StatusCode::UNAUTHORIZED,
            format!("invalid request signature: {e}"),
        )
            .into_response();
    }
    match decode(&body) {
        Ok(incoming) => axum::Json(discord.inbound.handle(incoming).await).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}
