//! `POST /alerts/alertmanager`, `/alerts/falco`, `/alerts/events/v2`, `/alerts/guardduty`:
//! alerts into incidents.
//!
//! Guarantees: a request is authenticated (bearer token, HMAC of timestamp and body within 5
//! minutes, or — Events API v2 — its routing key, as `[alerts.intake.<source>]` says) before
//! its body is read as an alert;
//! bodies over 1 MiB are 413, unreadable ones 400 naming the field; in each case nothing is
//! recorded. An intake the plan does not configure refuses everything (401), saying how to
//! configure it.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use warroom_commands::alert::{
    Alert, AlertError, parse_alertmanager, parse_events_v2, parse_falco, parse_guardduty,
};
use warroom_config::{IntakeCredentials, LoadedPlan};

use super::api::answer;
use super::auth::{bearer, secrets_match};
use super::{AppState, ReadyState};

/// Alertmanager batches of a few hundred alerts fit comfortably.
pub const MAX_ALERT_BODY: usize = 1024 * 1024;
pub const SIGNATURE_HEADER: &str = "x-warroom-signature";
/// Unix seconds, signed with the body so a captured request cannot be replayed later.
pub const TIMESTAMP_HEADER: &str = "x-warroom-timestamp";
/// How far a signed request's timestamp may be from now, either way.
pub const MAX_SKEW_SECS: i64 = 5 * 60;

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/alerts/alertmanager", post(alertmanager))
        .route("/alerts/falco", post(falco))
        .route("/alerts/events/v2", post(events_v2))
        .route("/alerts/guardduty", post(guardduty))
        .layer(DefaultBodyLimit::max(MAX_ALERT_BODY))
        .with_state(state)
}

/// The plan's intake credentials with their secrets read, per source.
#[derive(Default)]
pub struct IntakeKeys {
    alertmanager: Option<Keys>,
    falco: Option<Keys>,
    events_v2: Option<Keys>,
    guardduty: Option<Keys>,
}

#[derive(Default)]
struct Keys {
    token: Option<String>,
    hmac: Option<String>,
    routing_key: Option<String>,
    /// The plan's credentials for this source that could not be read, and why.
    unreadable: Vec<String>,
}

impl IntakeKeys {
    /// Reads every configured secret. A credential that cannot be read is named in the
    /// returned problems and not used; a source with no readable credential stays closed.
    pub fn from_plan(plan: &LoadedPlan) -> (IntakeKeys, Vec<String>) {
        let intake = &plan.plan.alerts.intake;
        let mut problems = Vec::new();
        let mut read = |name: &str, c: &Option<IntakeCredentials>| -> Option<Keys> {
            let c = c.as_ref()?;
            let mut unreadable = Vec::new();
            let mut secret = |field: &str, s: &Option<warroom_config::SecretRef>| match s
                .as_ref()
                .map(|s| s.resolve())
            {
                Some(Ok(v)) => Some(v),
                Some(Err(e)) => {
                    let problem = format!("alerts.intake.{name}.{field}: {e}");
                    unreadable.push(problem.clone());
                    problems.push(problem);
                    None
                }
                None => None,
            };
            let token = secret("token", &c.token);
            let hmac = secret("hmac_secret", &c.hmac_secret);
            let routing_key = secret("routing_key", &c.routing_key);
            // The section is there even when none of its secrets could be read: the sender
            // is then told what the operator must set, not to add what exists.
            Some(Keys {
                token,
                hmac,
                routing_key,
                unreadable,
            })
        };
        let keys = IntakeKeys {
            alertmanager: read("alertmanager", &intake.alertmanager),
            falco: read("falco", &intake.falco),
            events_v2: read("events_v2", &intake.events_v2),
            guardduty: read("guardduty", &intake.guardduty),
        };
        (keys, problems)
    }
}

/// `X-Warroom-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>` with
/// `X-Warroom-Timestamp: <timestamp>` within [`MAX_SKEW_SECS`] of `now`.
fn hmac_ok(secret: &str, body: &[u8], headers: &HeaderMap, now: i64) -> bool {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(hex_sig) = header(SIGNATURE_HEADER).and_then(|h| h.trim().strip_prefix("sha256="))
    else {
        return false;
    };
    let Some(timestamp) = header(TIMESTAMP_HEADER).map(str::trim) else {
        return false;
    };
    let fresh = timestamp.bytes().all(|b| b.is_ascii_digit())
        && timestamp
            .parse::<i64>()
            .is_ok_and(|t| now.saturating_sub(t).saturating_abs() <= MAX_SKEW_SECS);
    let Ok(claimed) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    // Verify first (constant time), then the clock: both must hold.
    mac.verify_slice(&claimed).is_ok() && fresh
}

/// A request turned away before its body is read as an alert.
struct Refused {
    status: StatusCode,
    message: String,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let mut r = answer(self.status, self.message);
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                "www-authenticate",
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        r
    }
}

/// Whether the request proves it comes from the configured sender.
fn authenticated(
    keys: Option<&Keys>,
    source: &str,
    headers: &HeaderMap,
    body: &[u8],
    routing_key: Option<&str>,
) -> Result<Proof, Refused> {
    let refuse = |message: String| {
        Err(Refused {
            status: StatusCode::UNAUTHORIZED,
            message,
        })
    };
    let Some(keys) = keys else {
        return refuse(format!(
            "the {source} intake is not configured: add [alerts.intake.{source}] with a token (or hmac_secret) to the plan"
        ));
    };
    if keys.token.is_none() && keys.hmac.is_none() && keys.routing_key.is_none() {
        // Our configuration, not the sender's fault: 503, so Alertmanager and EventBridge
        // keep the alert and retry once the operator sets the secret and restarts.
        return Err(Refused {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: format!(
                "the {source} intake is in the plan but none of its credentials could be read ({}); the operator must set them and restart warroom",
                keys.unreadable.join("; ")
            ),
        });
    }
    if let (Some(expected), Some(given)) = (&keys.token, bearer(headers))
        && secrets_match(expected, given)
    {
        return Ok(Proof::Token);
    }
    if let Some(secret) = &keys.hmac
        && hmac_ok(secret, body, headers, chrono::Utc::now().timestamp())
    {
        let signature = headers
            .get(SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        return Ok(Proof::Signature(signature));
    }
    if let (Some(expected), Some(given)) = (&keys.routing_key, routing_key)
        && secrets_match(expected, given)
    {
        return Ok(Proof::Token);
    }
    refuse(format!(
        "not authenticated for the {source} intake: send `Authorization: Bearer <token>`{}{}",
        if keys.hmac.is_some() {
            " or `X-Warroom-Timestamp: <unix seconds>` with `X-Warroom-Signature: sha256=<hex HMAC-SHA256 of \"<timestamp>.<body>\">` (within 5 minutes)"
        } else {
            ""
        },
        if keys.routing_key.is_some() {
            " or the configured routing_key"
        } else {
            ""
        }
    ))
}

fn body_or_refusal(body: Result<Bytes, BytesRejection>) -> Result<Bytes, Refused> {
    body.map_err(|e| {
        let status = e.status();
        let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
            format!(
                "alert body over {} KiB: send smaller batches (Alertmanager: lower max_alerts or group by more labels)",
                MAX_ALERT_BODY / 1024
            )
        } else {
            e.body_text()
        };
        Refused { status, message }
    })
}

/// How a request proved its sender.
enum Proof {
    /// A bearer token or routing key: the same on every request, so replays look genuine.
    Token,
    /// An HMAC signature over a timestamp and the body: unique per request, so a second
    /// delivery of it within its five minutes is a replay.
    Signature(String),
}

/// A request let in: its body, and for a signed one the key that marks its signature used
/// once its alerts are recorded.
struct Admitted {
    body: Bytes,
    replay_key: Option<String>,
}

/// The body, once it is within the limit, its sender proved itself, and (for a signed
/// request) its signature was not used by a request already answered 2xx. The signature is
/// marked used only after its alerts are recorded (see [`ingest`]): a request answered 503
/// or 400 may be sent again as it was, and is handled again. The mark is durable, so a
/// replay after a restart is answered "already received" too.
async fn admit(
    ready: &super::Ready,
    keys: Option<&Keys>,
    source: &str,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Admitted, Response> {
    let (body, signature) =
        admit_sync(keys, source, headers, body).map_err(IntoResponse::into_response)?;
    let replay_key = signature.map(|s| format!("alert-signature:{source}:{s}"));
    if let Some(key) = &replay_key {
        match ready.engine.ledger.claimed(key) {
            Ok(false) => {}
            Ok(true) => {
                ready.engine.metrics.alert_rejected();
                return Err(already_received());
            }
            Err(e) => {
                return Err(answer(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("cannot check the delivery: {e}"),
                ));
            }
        }
    }
    Ok(Admitted { body, replay_key })
}

fn already_received() -> Response {
    (
        StatusCode::OK,
        axum::Json(json!({
            "ok": true,
            "already_received": true,
            "message": "already received: this signed request was handled once; a replay does nothing (sign each delivery with a new timestamp)",
        })),
    )
        .into_response()
}

fn admit_sync(
    keys: Option<&Keys>,
    source: &str,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(Bytes, Option<String>), Refused> {
    let body = body_or_refusal(body)?;
    // Events API v2 senders put their routing key in the body: only that is read before the
    // check, so an authenticated sender's malformed event is told what is wrong (400).
    let routing_key = keys
        .and_then(|k| k.routing_key.as_ref())
        .and_then(|_| serde_json::from_slice::<serde_json::Value>(&body).ok())
        .and_then(|v| v.get("routing_key")?.as_str().map(str::to_owned));
    let proof = authenticated(keys, source, headers, &body, routing_key.as_deref())?;
    let signature = match proof {
        Proof::Signature(s) => Some(s),
        Proof::Token => None,
    };
    Ok((body, signature))
}

fn malformed(ready: &super::Ready, e: AlertError) -> Response {
    ready.engine.metrics.alert_rejected();
    answer(StatusCode::BAD_REQUEST, format!("malformed alert: {e}"))
}

/// Record the alerts, then mark a signed request's signature used (`replay_key`).
///
/// Caveat: two copies of one signed request arriving together may both pass [`admit`]
/// before either is marked; the second one's alerts then come back as repeats of the first
/// (the same fingerprints), so a replay still opens nothing new.
async fn ingest(
    ready: &super::Ready,
    alerts: Vec<Alert>,
    sender: SocketAddr,
    replay_key: Option<&str>,
) -> Response {
    let before = ready.engine.written_so_far();
    let mut outcomes = Vec::with_capacity(alerts.len());
    for alert in alerts {
        match ready.engine.alert(alert, Some(sender.ip())).await {
            Ok(o) => outcomes.push(o),
            Err(e) => {
                // Earlier alerts of the batch are recorded; the sender retries the batch,
                // and those come back as repeats.
                return answer(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("cannot record the alert: {e}"),
                );
            }
        }
    }
    let opened = outcomes.iter().filter(|o| o.result == "opened").count();
    // With ack = "replicated", a 200 promises the bucket holds it too; otherwise the sender
    // retries, and what was recorded comes back as repeats.
    let copied = ready
        .engine
        .once_copied(crate::engine::Reply::ok(String::new()), before)
        .await;
    if !copied.ok {
        return answer(StatusCode::SERVICE_UNAVAILABLE, copied.message);
    }
    if let Some(key) = replay_key {
        match ready.engine.ledger.claim(key).await {
            Ok(true) => {}
            // Its twin got there first (see the caveat): these alerts were repeats.
            Ok(false) => return already_received(),
            // The alerts are recorded, which is what the sender is told; only a replay of
            // this request would be handled again, as repeats.
            Err(e) => {
                tracing::warn!(error = %e, "alerts recorded, but not the signature's use; a replay of this request would be handled again")
            }
        }
    }
    axum::Json(Ingested {
        alerts: &outcomes,
        ok: true,
        opened,
    })
    .into_response()
}

/// The intake's answer, written straight from the outcomes (no JSON value built first: that
/// was a tenth of a single post's work). Fields in the order `json!` gave them.
#[derive(serde::Serialize)]
struct Ingested<'a> {
    alerts: &'a [crate::engine::AlertOutcome],
    ok: bool,
    opened: usize,
}

async fn alertmanager(
    ReadyState(ready): ReadyState,
    ConnectInfo(sender): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match admit(
        &ready,
        ready.intake.alertmanager.as_ref(),
        "alertmanager",
        &headers,
        body,
    )
    .await
    {
        Ok(b) => b,
        Err(r) => return r,
    };
    match parse_alertmanager(&body.body) {
        Ok(alerts) => ingest(&ready, alerts, sender, body.replay_key.as_deref()).await,
        Err(e) => malformed(&ready, e),
    }
}

async fn falco(
    ReadyState(ready): ReadyState,
    ConnectInfo(sender): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let keys = ready.intake.falco.as_ref();
    one_alert(&ready, keys, "falco", &headers, body, sender, parse_falco).await
}

/// GuardDuty findings from an EventBridge API destination (its connection sends the bearer
/// token, or the HMAC headers through an input transformer).
async fn guardduty(
    ReadyState(ready): ReadyState,
    ConnectInfo(sender): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let keys = ready.intake.guardduty.as_ref();
    one_alert(
        &ready,
        keys,
        "guardduty",
        &headers,
        body,
        sender,
        parse_guardduty,
    )
    .await
}

/// An intake whose body is one alert: admitted, parsed, ingested.
async fn one_alert(
    ready: &super::Ready,
    keys: Option<&Keys>,
    source: &str,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    sender: SocketAddr,
    parse: fn(&[u8]) -> Result<Alert, AlertError>,
) -> Response {
    let body = match admit(ready, keys, source, headers, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    match parse(&body.body) {
        Ok(alert) => ingest(ready, vec![alert], sender, body.replay_key.as_deref()).await,
        Err(e) => malformed(ready, e),
    }
}

/// A game day's alert, in-process: parsed and ruled on exactly as a sender's post (as from
/// this machine, like a local falcosidekick), without the sender's credentials. Returns what
/// happened to it in a few words.
pub(crate) async fn deliver(
    ready: &super::Ready,
    format: warroom_drill::script::AlertFormat,
    body: &[u8],
) -> Result<String, String> {
    use warroom_drill::script::AlertFormat;
    let alerts = match format {
        AlertFormat::Alertmanager => parse_alertmanager(body),
        AlertFormat::Falco => parse_falco(body).map(|a| vec![a]),
        AlertFormat::EventsV2 => parse_events_v2(body).map(|(_, a)| vec![a]),
        AlertFormat::GuardDuty => parse_guardduty(body).map(|a| vec![a]),
    }
    .map_err(|e| format!("malformed alert: {e}"))?;
    let sender = std::net::IpAddr::from([127, 0, 0, 1]);
    let mut said = Vec::new();
    for alert in alerts {
        let o = ready
            .engine
            .alert(alert, Some(sender))
            .await
            .map_err(|e| format!("cannot record the alert: {e}"))?;
        said.push(match (&o.incident, &o.rule) {
            (Some(i), Some(r)) => format!("{} {i} (rule {r})", o.result),
            (Some(i), None) => format!("{} {i}", o.result),
            _ => o.result.to_string(),
        });
    }
    Ok(said.join("; "))
}

async fn events_v2(
    ReadyState(ready): ReadyState,
    ConnectInfo(sender): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match admit(
        &ready,
        ready.intake.events_v2.as_ref(),
        "events_v2",
        &headers,
        body,
    )
    .await
    {
        Ok(b) => b,
        Err(r) => return r,
    };
    match parse_events_v2(&body.body) {
        // The Events API answers 202 with a status and the dedup key.
        Ok((_, alert)) => {
            let dedup_key = alert.fingerprint.clone();
            let response = ingest(&ready, vec![alert], sender, body.replay_key.as_deref()).await;
            if response.status() == StatusCode::OK {
                (
                    StatusCode::ACCEPTED,
                    axum::Json(json!({ "status": "success", "message": "Event processed", "dedup_key": dedup_key })),
                )
                    .into_response()
            } else {
                response
            }
        }
        Err(e) => malformed(&ready, e),
    }
}
