//! `/api/v1`: the command API (what chat can do, scripts can do) and the reads behind the
//! console and the CLI.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::BroadcastStream;
use warroom_commands::clock::timestamp;
use warroom_commands::{IncidentId, PersonId, RequestStatus};

use super::auth::Caller;
use super::{AppState, Ready, ReadyState};
use crate::engine::{Code, Reply};

/// Commands are short; anything bigger is not a command.
const MAX_COMMAND_BODY: usize = 64 * 1024;

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route(
            "/api/v1/command",
            post(command).layer(DefaultBodyLimit::max(MAX_COMMAND_BODY)),
        )
        .route("/api/v1/session", get(session))
        .route("/api/v1/incidents", get(incidents))
        .route("/api/v1/incidents/{id}", get(incident))
        .route("/api/v1/incidents/{id}/export", get(export))
        .route(
            "/api/v1/incidents/{id}/evidence/{evidence}",
            get(super::evidence::artifact),
        )
        .route("/api/v1/ledger/verify", get(verify))
        .route("/api/v1/alerts", get(alerts))
        .route("/api/v1/events", get(events))
        .route("/api/v1/drill/clusters", get(drill_clusters))
        .route(
            "/api/v1/drill/scorecard",
            get(super::gameday::scorecard_json),
        )
        .route(
            "/api/v1/drill/scorecard.md",
            get(super::gameday::scorecard_markdown),
        )
        .route(
            "/api/v1/drill/scorecard.svg",
            get(super::gameday::scorecard_svg),
        )
        .route("/api/v1/drill/clock", post(super::gameday::move_clock))
        .with_state(state)
}

/// A refusal before any work: status and message, answered as `{"ok": false, "message"}`.
pub(super) struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        answer(self.0, self.1)
    }
}

pub(super) fn answer(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(json!({ "ok": false, "message": message.into() })),
    )
        .into_response()
}

fn status_of(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::BadInput => StatusCode::BAD_REQUEST,
        Code::Refused => StatusCode::FORBIDDEN,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::Conflict => StatusCode::CONFLICT,
        Code::Guardrail => StatusCode::UNPROCESSABLE_ENTITY,
        Code::Failed => StatusCode::INTERNAL_SERVER_ERROR,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

#[derive(Deserialize, Default)]
pub(super) struct TokenQuery {
    pub(super) token: Option<String>,
    person: Option<String>,
}

/// The caller of every read, the event stream included: the token only from `Authorization`.
/// A token in the URL is refused, not ignored, so whoever put it there learns why: browsers,
/// proxies and shell history keep URLs, and a link copied into chat would carry it.
fn caller(state: &Ready, headers: &HeaderMap, q: &TokenQuery) -> Result<Caller, ApiError> {
    if q.token.is_some() {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "a token in the URL is refused (browsers, proxies and shell history keep URLs): send it as `Authorization: Bearer TOKEN`".to_owned(),
        ));
    }
    state
        .tokens
        .caller(headers)
        .map_err(|m| ApiError(StatusCode::UNAUTHORIZED, m))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandBody {
    #[serde(default)]
    person: String,
    text: String,
    #[serde(default)]
    incident: Option<String>,
}

async fn command(
    ReadyState(state): ReadyState,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let caller = match caller(&state, &headers, &q) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    // Every refusal is the documented `{"ok": false, "message"}`, the size limit's too.
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return answer(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "command body over {} KiB: long text belongs in evidence, not in a command",
                    MAX_COMMAND_BODY / 1024
                ),
            );
        }
        Err(e) => return answer(e.status(), e.body_text()),
    };
    let body: CommandBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return answer(
                StatusCode::BAD_REQUEST,
                format!(
                    "the body must be JSON {{\"person\": \"PERSON-ID\", \"text\": \"COMMAND\", \"incident\": \"INC-… (optional)\"}}: {e}"
                ),
            );
        }
    };
    let person = match (&caller, body.person.trim()) {
        (Caller::Drill, "") => {
            return answer(
                StatusCode::FORBIDDEN,
                "drill mode: say who you are with \"person\": \"PERSON-ID\" (one of the plan's people)",
            );
        }
        (Caller::Drill, p) => PersonId::from(p),
        (Caller::Person(me), "") => me.clone(),
        (Caller::Person(me), p) if p == me.as_str() => me.clone(),
        (Caller::Person(me), p) => {
            return answer(
                StatusCode::FORBIDDEN,
                format!("this token acts as {me}, not {p}"),
            );
        }
        (Caller::LocalReader, _) => {
            return answer(
                StatusCode::FORBIDDEN,
                "the local read token cannot run commands; use a person's token",
            );
        }
    };
    let incident = match body
        .incident
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(text) => match text.parse::<IncidentId>() {
            Ok(id) => Some(id),
            Err(e) => return answer(StatusCode::BAD_REQUEST, e.to_string()),
        },
    };
    let reply: Reply = state.engine.handle(&person, &body.text, incident).await;
    (status_of(reply.code), axum::Json(reply)).into_response()
}

async fn session(
    ReadyState(state): ReadyState,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    // The session says whether a token is needed, so it answers everyone.
    let who = match caller(&state, &headers, &q) {
        Err(e) if e.0 == StatusCode::BAD_REQUEST => return e.into_response(),
        found => found.ok(),
    };
    let plan = &state.engine.plan.plan;
    // Who is in the plan is for its people, not for anyone who can reach the port.
    let people: Vec<Value> = plan
        .people
        .iter()
        .filter(|_| who.is_some())
        .map(|p| json!({ "id": p.id, "name": p.name, "roles": p.roles }))
        .collect();
    axum::Json(json!({
        "drill": state.tokens.is_drill(),
        "plan": plan.meta.name,
        // Times are shown in the plan's zone, with the zone named; UTC on hover.
        "timezone": plan.meta.timezone.name(),
        "plan_version": state.engine.plan.digest,
        "people": people,
        "you": match who { Some(Caller::Person(p)) => Some(p.to_string()), _ => None },
    }))
    .into_response()
}

/// Alert intake counts, and the latest alerts no rule met (recorded, not paged).
async fn alerts(
    ReadyState(state): ReadyState,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    if let Err(r) = caller(&state, &headers, &q) {
        return r.into_response();
    }
    axum::Json(json!({
        "counts": state.engine.alert_counts(),
        "not_actionable": state.engine.unmatched_alerts(),
    }))
    .into_response()
}

async fn incidents(
    ReadyState(state): ReadyState,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    if let Err(r) = caller(&state, &headers, &q) {
        return r.into_response();
    }
    match state.engine.ledger.incidents() {
        Ok(all) => {
            let list: Vec<Value> = all
                .iter()
                .map(|i| {
                    let mut v = serde_json::to_value(i).unwrap_or(Value::Null);
                    let pending = i
                        .requests
                        .iter()
                        .filter(|r| r.status == RequestStatus::Pending)
                        .count();
                    if let Some(o) = v.as_object_mut() {
                        o.insert("pending".into(), json!(pending));
                    }
                    v
                })
                .collect();
            axum::Json(json!({ "incidents": list })).into_response()
        }
        Err(e) => answer(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Who calls, about which incident: the two checks every incident read starts with.
pub(super) fn caller_and_incident(
    state: &Ready,
    headers: &HeaderMap,
    q: &TokenQuery,
    id: &str,
) -> Result<(Caller, IncidentId), ApiError> {
    Ok((caller(state, headers, q)?, parse_id(id)?))
}

fn parse_id(text: &str) -> Result<IncidentId, ApiError> {
    text.parse::<IncidentId>()
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.to_string()))
}

pub(super) fn ledger_error(e: warroom_ledger::LedgerError) -> Response {
    match e {
        warroom_ledger::LedgerError::NoSuchIncident(_) => {
            answer(StatusCode::NOT_FOUND, e.to_string())
        }
        other => answer(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
    }
}

async fn incident(
    ReadyState(state): ReadyState,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    let (caller, id) = match caller_and_incident(&state, &headers, &q, &id) {
        Ok(found) => found,
        Err(r) => return r.into_response(),
    };
    let ledger = &state.engine.ledger;
    let (record, entries, evidence) = match (
        ledger.incident(&id),
        ledger.timeline(&id),
        ledger.evidence(&id),
    ) {
        (Ok(r), Ok(t), Ok(e)) => (r, t, e),
        (Err(e), ..) | (_, Err(e), _) | (.., Err(e)) => return ledger_error(e),
    };
    let viewer = match caller {
        Caller::Person(p) => Some(p),
        Caller::Drill => q.person.map(PersonId::from),
        Caller::LocalReader => None,
    };
    let timeline: Vec<Value> = entries
        .iter()
        .map(|e| {
            let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
            let (describe, changes) = e
                .event()
                .map(|ev| (ev.describe(), ev.changes()))
                .unwrap_or_else(|_| (e.kind.clone(), Vec::new()));
            if let Some(o) = v.as_object_mut() {
                o.insert("describe".into(), json!(describe));
                if !changes.is_empty() {
                    o.insert("changes".into(), json!(changes));
                }
            }
            v
        })
        .collect();
    let channel = state
        .console
        .channel_info(&id)
        .map(|(name, topic, members)| json!({ "name": name, "topic": topic, "members": members }));
    // Who may still approve each pending request: the console offers the buttons to them
    // only, and names them to everyone else.
    let plan = &state.engine.plan.plan;
    let deciders: serde_json::Map<String, Value> = record
        .requests
        .iter()
        .filter(|r| r.status == warroom_commands::RequestStatus::Pending)
        .map(|r| {
            let who = warroom_commands::authorize::eligible_approvers(plan, r);
            let roles = warroom_commands::authorize::approver_roles(plan, r.spec.action);
            (
                r.id().to_owned(),
                json!({ "people": who, "roles": roles, "missing": r.approvals_missing() }),
            )
        })
        .collect();
    let board = warroom_commands::containment::board(&record);
    axum::Json(json!({
        "incident": record,
        "deciders": deciders,
        "board": board,
        "channel": channel,
        "messages": state.console.messages(&id, viewer.as_ref()),
        "timeline": timeline,
        "evidence": evidence,
    }))
    .into_response()
}

async fn export(
    ReadyState(state): ReadyState,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    let (caller, id) = match caller_and_incident(&state, &headers, &q, &id) {
        Ok(found) => found,
        Err(r) => return r.into_response(),
    };
    let by = match caller {
        Caller::Person(p) => format!("person:{p}"),
        Caller::LocalReader => headers
            .get("x-warroom-actor")
            .and_then(|v| v.to_str().ok())
            .filter(|a| a.starts_with("cli:") && a.len() < 100)
            .unwrap_or("cli:unknown")
            .to_owned(),
        Caller::Drill => "warroom".to_owned(),
    };
    match state
        .engine
        .ledger
        .export(&id, timestamp(state.engine.clock().now()), by)
    {
        Ok(e) => axum::Json(e).into_response(),
        Err(e) => ledger_error(e),
    }
}

#[derive(Deserialize)]
struct VerifyQuery {
    #[serde(default)]
    skip_evidence: bool,
}

/// The one verify running through the API, released when its work ends.
struct VerifyRunning;

static VERIFYING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

impl VerifyRunning {
    fn take() -> Option<VerifyRunning> {
        use std::sync::atomic::Ordering;
        VERIFYING
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| VerifyRunning)
    }
}

impl Drop for VerifyRunning {
    fn drop(&mut self) {
        VERIFYING.store(false, std::sync::atomic::Ordering::Release);
    }
}

async fn verify(
    ReadyState(state): ReadyState,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
    Query(v): Query<VerifyQuery>,
) -> Response {
    if let Err(r) = caller(&state, &headers, &q) {
        return r.into_response();
    }
    // One at a time: a verify re-reads every entry and re-hashes every artifact (from S3
    // too), so a reader repeating it could saturate the disk and the blocking pool.
    let Some(one) = VerifyRunning::take() else {
        let mut r = answer(
            StatusCode::TOO_MANY_REQUESTS,
            "a verify is already running (one runs at a time: it re-hashes every artifact); retry after 5 s".to_owned(),
        );
        r.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("5"),
        );
        return r;
    };
    let ledger = state.engine.ledger.clone();
    let store = state.evidence.clone();
    // The turn is held by the work itself: a caller that hangs up does not free it early.
    let run = move || {
        let _one = one;
        let evidence = (!v.skip_evidence).then_some(store.as_ref());
        crate::verify::run(&ledger, evidence, &mut |_, _| {})
    };
    match tokio::task::spawn_blocking(run).await {
        Ok(Ok(report)) => axum::Json(report).into_response(),
        Ok(Err(e)) => answer(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => answer(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn events(
    ReadyState(state): ReadyState,
    axum::extract::State(app): axum::extract::State<Arc<super::AppState>>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    // The console reads the stream with fetch, which sends the header; a browser's
    // EventSource cannot, and a token in its URL is refused like everywhere else.
    if let Err(e) = caller(&state, &headers, &q) {
        return e.into_response();
    }
    let changes = BroadcastStream::new(state.changes.subscribe()).map(|change| {
        // A lagging page missed some changes: tell it to re-read everything.
        let data = match change {
            Ok(c) => json!({ "incident": c.incident }),
            Err(_) => json!({ "incident": null }),
        };
        Some(SseEvent::default().event("changed").data(data.to_string()))
    });
    // On shutdown the stream says so and ends: the page shows "disconnected" at once and
    // reconnects when warroom is back; the process does not wait for browsers.
    let stopping = tokio_stream::wrappers::WatchStream::new(app.stopping.subscribe())
        .filter(|s| *s)
        .map(|_| None);
    let stream = changes
        .merge(stopping)
        .take_while(Option::is_some)
        .map(|e| Ok::<_, Infallible>(e.unwrap_or_default()));
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// Drill mode: the simulated clusters' API servers, for people who want to look with
/// kubectl (`kubectl --server URL get pods -A`) and for drills that change the world.
async fn drill_clusters(ReadyState(state): ReadyState) -> Response {
    if !state.tokens.is_drill() {
        return answer(
            StatusCode::NOT_FOUND,
            "simulated clusters exist only in drill mode",
        );
    }
    let clusters: Vec<Value> = state
        .drills
        .iter()
        .map(|(name, h)| json!({ "name": name, "url": h.url() }))
        .collect();
    axum::Json(json!({ "clusters": clusters })).into_response()
}

#[cfg(test)]
mod tests {
    use super::VerifyRunning;

    #[test]
    fn one_verify_runs_at_a_time_and_its_turn_ends_with_its_work() {
        let first = VerifyRunning::take().expect("the first verify runs");
        assert!(VerifyRunning::take().is_none(), "a second waits its turn");
        // Ended on another thread (the blocking pool's), the turn is free again.
        std::thread::spawn(move || drop(first)).join().unwrap();
        let again = VerifyRunning::take();
        assert!(again.is_some());
    }
}
