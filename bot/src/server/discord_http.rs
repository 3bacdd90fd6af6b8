//! `POST /discord/interactions`: Discord's signed interactions (http mode).
//!
//! Guarantees: the Ed25519 signature over timestamp + raw body (bounded to 64 KiB) is checked
//! against the plan's `public_key` before anything is parsed, and the timestamp must be within
//! 5 minutes; a failure is 401 with nothing recorded. PING is answered PONG. Everything after
//! that is the one inbound path's (person mapping, one effect per interaction id, an answer
//! within Discord's 3 seconds).

use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use warroom_adapters::chat::discord::DiscordVerifier;
use warroom_adapters::chat::discord::interaction::decode;

use crate::discord::DiscordInbound;
use crate::platforms::HttpReceiver;

/// Discord's endpoint (http mode).
pub struct DiscordHttp {
    pub inbound: Arc<DiscordInbound>,
    pub verifier: Arc<DiscordVerifier>,
}

#[async_trait]
impl HttpReceiver for DiscordHttp {
    async fn receive(&self, endpoint: &str, headers: &HeaderMap, body: Bytes) -> Response {
        if endpoint != "interactions" {
            return (
                StatusCode::NOT_FOUND,
                format!(
                    "/discord/{endpoint} is not warroom's Discord endpoint (/discord/interactions)"
                ),
            )
                .into_response();
        }
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let now = chrono::Utc::now().timestamp();
        if let Err(e) = self.verifier.check(
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
            Ok(incoming) => axum::Json(self.inbound.handle(incoming).await).into_response(),
            Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
        }
    }
}
