//! A standby passes every request but its own health and metrics to the leader, as received.
//!
//! Guarantees: a standby never acts on a request; it sends each one to the address the leader
//! published on the lease exactly once — method, path, query, headers (but hop-by-hop ones)
//! and body byte for byte, so Slack's and Discord's signatures still verify on the leader —
//! and streams the leader's answer back (event streams included). It never retries: a
//! request whose answer was lost is retried by its sender, and the leader's own dedup (Slack
//! retries, Discord interaction ids, alert fingerprints, idempotency keys) folds the repeat.
//! A request already forwarded once (`x-warroom-forwarded-by`) is not forwarded again, so two
//! standbys that each think the other leads cannot loop. Assumes the leader's published
//! address is reachable from the standby (pod to pod). Caveat: the leader sees the standby as
//! the peer; the original client's address travels in `x-forwarded-for`, which the leader
//! does not trust for anything.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::Response;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::AppState;
use super::api::answer;

/// Set on a forwarded request: the standby that sent it.
pub const FORWARDED_BY: &str = "x-warroom-forwarded-by";

/// Paths about this replica itself: never forwarded.
const OWN: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// Headers that belong to one connection, not to the request.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

fn client() -> &'static Client<HttpConnector, Body> {
    static CLIENT: OnceLock<Client<HttpConnector, Body>> = OnceLock::new();
    CLIENT.get_or_init(|| {
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(Duration::from_secs(2)));
        http.set_nodelay(true);
        Client::builder(TokioExecutor::new()).build(http)
    })
}

pub async fn to_leader(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if state.ready.get().is_some() || OWN.contains(&req.uri().path()) {
        return next.run(req).await;
    }
    let standby = state
        .standby
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    // Starting, or no leader known: the handlers answer 503 with the reason.
    let Some(standby) = standby else {
        return next.run(req).await;
    };
    let Some(leader) = standby.leader.clone() else {
        return next.run(req).await;
    };
    if let Some(by) = req.headers().get(FORWARDED_BY) {
        return answer(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "this replica is a {} too (the request came from {}); the lease is changing hands: retry in a moment",
                standby.why,
                by.to_str().unwrap_or("another replica")
            ),
        );
    }
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let (mut parts, body) = req.into_parts();
    let target = format!(
        "{}{}",
        leader.trim_end_matches('/'),
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    parts.uri = match target.parse::<Uri>() {
        Ok(u) => u,
        Err(e) => {
            return answer(
                StatusCode::BAD_GATEWAY,
                format!("the leader published an unusable address `{leader}`: {e}"),
            );
        }
    };
    for h in HOP_BY_HOP {
        parts.headers.remove(h);
    }
    if let Ok(v) = HeaderValue::from_str(&standby.identity) {
        parts
            .headers
            .insert(HeaderName::from_static(FORWARDED_BY), v);
    }
    if let Some(peer) = peer {
        let chain = match parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
        {
            Some(before) => format!("{before}, {peer}"),
            None => peer,
        };
        if let Ok(v) = HeaderValue::from_str(&chain) {
            parts.headers.insert("x-forwarded-for", v);
        }
    }
    let path = parts.uri.path().to_owned();
    match client().request(Request::from_parts(parts, body)).await {
        Ok(resp) => {
            tracing::debug!(%path, %leader, status = resp.status().as_u16(), "forwarded to the leader");
            let (mut parts, body) = resp.into_parts();
            for h in HOP_BY_HOP {
                parts.headers.remove(h);
            }
            Response::from_parts(parts, Body::new(body))
        }
        Err(e) => answer(
            StatusCode::BAD_GATEWAY,
            format!(
                "this replica is a {}; the leader did not answer ({e}); retry in a moment",
                standby.why
            ),
        ),
    }
}
