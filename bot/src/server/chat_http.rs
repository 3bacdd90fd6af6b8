//! `/slack/<endpoint>` and `/discord/<endpoint>`: each chat platform's signed requests, handed
//! to the platform the plan started (bodies bounded to 64 KiB before anyone reads them).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use super::{AppState, ReadyState};
use crate::platforms::not_receiving;

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/slack/{endpoint}", post(slack))
        .route("/discord/{endpoint}", post(discord))
        .layer(DefaultBodyLimit::max(64 * 1024))
        .with_state(state)
}

async fn slack(ready: ReadyState, endpoint: Path<String>, h: HeaderMap, body: Bytes) -> Response {
    receive("slack", ready, &endpoint, &h, body).await
}

async fn discord(ready: ReadyState, endpoint: Path<String>, h: HeaderMap, body: Bytes) -> Response {
    receive("discord", ready, &endpoint, &h, body).await
}

async fn receive(
    platform: &str,
    ReadyState(ready): ReadyState,
    endpoint: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    match ready.platforms.http.get(platform) {
        Some(receiver) => receiver.receive(endpoint, headers, body).await,
        None => (StatusCode::NOT_FOUND, not_receiving(platform)).into_response(),
    }
}
