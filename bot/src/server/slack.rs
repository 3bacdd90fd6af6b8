//! `/slack/commands` and `/slack/interactions`: Slack's signed requests into the engine.
//!
//! Guarantees: the signature (v0 HMAC-SHA256, timestamp within 5 minutes) is checked on the
//! raw body before anything else, and a failure is 401 with nothing recorded; the Slack user
//! is mapped to a person of the plan (unknown → refused, saying why); a retried delivery
//! (same trigger id) has one effect. Caveat: the retry memory is in this process only.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use warroom_adapters::chat::slack::buttons::{Decision, approval_click};
use warroom_adapters::chat::slack::payloads::{
    EventEnvelope, Interaction, parse_event, parse_interaction, parse_slash_command,
};
use warroom_adapters::chat::slack::signature;
use warroom_commands::{IncidentId, PersonId};

use super::{AppState, Ready, ReadyState};
use crate::engine::Engine;

/// Slack waits 3 s for the acknowledgement; answer within this and finish later.
const ACK_WITHIN: Duration = Duration::from_millis(2500);
/// Trigger ids remembered to drop redeliveries.
const REMEMBER: usize = 10_000;

pub struct SlackInbound {
    pub engine: Arc<Engine>,
    pub signing_secret: String,
    seen: Mutex<(HashSet<String>, VecDeque<String>)>,
}

impl SlackInbound {
    pub fn new(engine: Arc<Engine>, signing_secret: String) -> Self {
        SlackInbound {
            engine,
            signing_secret,
            seen: Mutex::new((HashSet::new(), VecDeque::new())),
        }
    }

    /// True the first time `key` is seen.
    fn first(&self, key: &str) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if !seen.0.insert(key.to_owned()) {
            return false;
        }
        seen.1.push_back(key.to_owned());
        if seen.1.len() > REMEMBER
            && let Some(old) = seen.1.pop_front()
        {
            seen.0.remove(&old);
        }
        true
    }

    fn person(&self, user_id: &str) -> Option<PersonId> {
        self.engine
            .plan
            .plan
            .person_by_slack(user_id)
            .map(|p| p.id.clone())
    }
}

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

fn inbound_of(ready: &Ready) -> Result<Arc<SlackInbound>, Refused> {
    ready.slack.clone().ok_or_else(|| {
        Refused(StatusCode::NOT_FOUND, "Slack is not configured: the plan needs [communication.slack] with bot_token and signing_secret that can be read".into())
    })
}

fn verified(inbound: &SlackInbound, headers: &HeaderMap, body: &[u8]) -> Result<(), Refused> {
    let now = chrono::Utc::now().timestamp();
    signature::verify(inbound.signing_secret.as_bytes(), headers, body, now).map_err(|e| {
        tracing::warn!(error = %e, "Slack request refused: signature");
        Refused(
            StatusCode::UNAUTHORIZED,
            format!("invalid Slack signature: {e}"),
        )
    })
}

fn ephemeral(text: &str) -> Response {
    axum::Json(json!({ "response_type": "ephemeral", "text": text })).into_response()
}

/// Run the command, answering within Slack's window; a slow one is answered "working on it"
/// and finishes in the background (its outcome is posted to the incident's channel).
async fn run(
    inbound: &Arc<SlackInbound>,
    person: PersonId,
    text: String,
    incident: Option<IncidentId>,
) -> Response {
    let engine = inbound.engine.clone();
    let task = tokio::spawn(async move { engine.handle(&person, &text, incident).await });
    match tokio::time::timeout(ACK_WITHIN, task).await {
        Ok(Ok(reply)) => ephemeral(&reply.message),
        Ok(Err(e)) => ephemeral(&format!(
            "warroom could not finish this ({e}); check the timeline"
        )),
        Err(_) => ephemeral("working on it — the outcome will be posted in the incident's channel"),
    }
}

async fn command(ReadyState(ready): ReadyState, headers: HeaderMap, body: Bytes) -> Response {
    let inbound = match inbound_of(&ready) {
        Ok(i) => i,
        Err(r) => return r.into_response(),
    };
    if let Err(r) = verified(&inbound, &headers, &body) {
        return r.into_response();
    }
    let cmd = match parse_slash_command(&body) {
        Ok(c) => c,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    if !inbound.first(&format!("command:{}", cmd.trigger_id)) {
        return ephemeral("already received; handled once");
    }
    let Some(person) = inbound.person(&cmd.user_id) else {
        tracing::warn!(user = %cmd.user_id, "Slack user not in the plan refused");
        return ephemeral(&format!(
            "Slack user {} is not a person in warroom's response plan, so warroom does not act for it; ask the plan owner to add your Slack member id",
            cmd.user_id
        ));
    };
    // `/quarantine pod …` is `quarantine pod …`; `/warroom X` is `X` (help when empty).
    let verb = cmd.command.trim_start_matches('/');
    let text = match (verb, cmd.text.trim()) {
        ("warroom", "") => "help".to_owned(),
        ("warroom", rest) => rest.to_owned(),
        (verb, rest) => format!("{verb} {rest}"),
    };
    let incident = inbound.engine.incident_of_channel("slack", &cmd.channel_id);
    run(&inbound, person, text, incident).await
}

async fn interaction(ReadyState(ready): ReadyState, headers: HeaderMap, body: Bytes) -> Response {
    let inbound = match inbound_of(&ready) {
        Ok(i) => i,
        Err(r) => return r.into_response(),
    };
    if let Err(r) = verified(&inbound, &headers, &body) {
        return r.into_response();
    }
    let actions = match parse_interaction(&body) {
        Ok(Interaction::BlockActions(a)) => a,
        Ok(_) => return StatusCode::OK.into_response(),
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let click = match approval_click(&actions.action) {
        Ok(Some(c)) => c,
        Ok(None) => return StatusCode::OK.into_response(),
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    // A double click or a redelivery carries the same trigger id: one effect.
    if !inbound.first(&format!("click:{}", actions.trigger_id)) {
        return ephemeral("already received; handled once");
    }
    // Authorized as the clicking person before anything is consumed.
    let Some(person) = inbound.person(&actions.user_id) else {
        return ephemeral(&format!(
            "Slack user {} is not a person in warroom's response plan; the click changes nothing",
            actions.user_id
        ));
    };
    let text = match click.decision {
        Decision::Approve => format!("approve {}", click.request),
        Decision::Deny => format!("deny {}", click.request),
    };
    run(&inbound, person, text, Some(click.incident)).await
}

/// The Events API: the URL check Slack makes when the app is set up, and events
/// (acknowledged once per `event_id`; app mentions and 📌 reactions are not acted on yet).
async fn events(ReadyState(ready): ReadyState, headers: HeaderMap, body: Bytes) -> Response {
    let inbound = match inbound_of(&ready) {
        Ok(i) => i,
        Err(r) => return r.into_response(),
    };
    if let Err(r) = verified(&inbound, &headers, &body) {
        return r.into_response();
    }
    match parse_event(&body) {
        Ok(EventEnvelope::UrlVerification { challenge }) => {
            axum::Json(json!({ "challenge": challenge })).into_response()
        }
        Ok(EventEnvelope::Callback(cb)) => {
            if !inbound.first(&format!("event:{}", cb.event_id)) {
                tracing::debug!(event = %cb.event_id, "Slack event redelivered; already handled");
            }
            StatusCode::OK.into_response()
        }
        Ok(EventEnvelope::Other { .. }) => StatusCode::OK.into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}
