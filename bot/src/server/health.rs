//! `/healthz`, `/readyz` and `/metrics`.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use super::AppState;

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Ready only while the ledger is open and takes writes: a server that would answer every
/// command with "cannot record" must leave the load balancer's rotation.
async fn readyz(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    match (state.ledger.get(), state.ready.get()) {
        (Some(l), Some(_)) => match l.write_refusal() {
            // Writes are durable here: ready; a copy that lags is said, not hidden.
            None => match state.copy.get().and_then(|c| c.problem().map(|p| (c, p))) {
                Some((c, why)) => (
                    StatusCode::OK,
                    format!(
                        "ready; the ledger's copy to {} is behind: {why}\n",
                        c.location
                    ),
                ),
                None => (StatusCode::OK, "ready\n".to_owned()),
            },
            Some(why) => (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: the ledger refuses writes ({why}); it retries every second\n"),
            ),
        },
        // A standby is healthy and ready to take over; it acts on nothing (the API says
        // so), and the `ha` overlay's Service sends traffic to the leader's pod only.
        (None, _) => match state
            .standby
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            Some(standby) => (
                StatusCode::OK,
                format!(
                    "ready: {}{}\n",
                    standby.why,
                    state
                        .warm
                        .get()
                        .map(|w| format!("; {}", w.describe()))
                        .unwrap_or_default()
                ),
            ),
            None => (
                StatusCode::SERVICE_UNAVAILABLE,
                "ledger not open yet\n".to_owned(),
            ),
        },
        (Some(_), None) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "checking for interrupted actions\n".to_owned(),
        ),
    }
}

/// Prometheus text format.
async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let ready = state.ledger.get().is_some();
    let writable = state
        .ledger
        .get()
        .is_some_and(|l| l.write_refusal().is_none());
    // An unreadable record leaves the counts out (and says so), never a false 0.
    let counted = match state.ledger.get().map(|l| l.incidents()) {
        None => Some((0, 0)),
        Some(Ok(all)) => {
            let open = all
                .iter()
                .filter(|i| i.status == warroom_commands::IncidentStatus::Open)
                .count();
            Some((open, all.len()))
        }
        Some(Err(e)) => {
            tracing::error!(error = %e, "incident records unreadable for /metrics");
            None
        }
    };
    let incidents = match counted {
        Some((open, total)) => format!(
            "# HELP warroom_incidents Incidents in the ledger by status.\n# TYPE warroom_incidents gauge\n\
warroom_incidents{{status=\"open\"}} {open}\nwarroom_incidents{{status=\"resolved\"}} {}\n",
            total - open
        ),
        None => String::new(),
    };
    let body = format!(
        "# HELP warroom_ready Whether the ledger is open.\n# TYPE warroom_ready gauge\nwarroom_ready {}\n\
# HELP warroom_ledger_writable Whether the ledger takes writes (0 after a failed sync or checkpoint).\n# TYPE warroom_ledger_writable gauge\nwarroom_ledger_writable {}\n\
# HELP warroom_ledger_readable Whether every incident record could be read (0: the incident counts are left out; `warroom ledger verify` names the damage).\n# TYPE warroom_ledger_readable gauge\nwarroom_ledger_readable {}\n\
{incidents}\
# HELP warroom_plan_info The plan in use (digest = SHA-256 of the plan file).\n# TYPE warroom_plan_info gauge\nwarroom_plan_info{{source=\"{}\",digest=\"{}\"}} 1\n\
# HELP warroom_uptime_seconds Seconds since start.\n# TYPE warroom_uptime_seconds gauge\nwarroom_uptime_seconds {}\n",
        u8::from(ready),
        u8::from(writable),
        u8::from(counted.is_some()),
        state.plan.source.display().replace(['"', '\\', '\n'], "_"),
        state.plan.digest,
        state.started.elapsed().as_secs()
    );
    let body = if state
        .plan
        .plan
        .ha
        .as_ref()
        .is_some_and(|h| h.lease.is_some())
    {
        format!(
            "{body}# HELP warroom_leader 1 while this replica holds the [ha] lease and acts, 0 while it is a standby.\n# TYPE warroom_leader gauge\nwarroom_leader {}\n",
            u8::from(state.ledger.get().is_some())
        )
    } else {
        body
    };
    let body = body + &state.connections.render() + &state.guard.render();
    let body = match (state.ready.get(), state.warm.get()) {
        // A standby's copy: how far behind the leader's published head it is.
        (None, Some(warm)) => body + &warm.render(),
        (Some(ready), _) => {
            body + &ready.engine.metrics.render()
                + &alert_metrics(ready.engine.alert_counts())
                + &ready.engine.ledger.stats().render()
                + &state
                    .copy
                    .get()
                    .map(|c| c.render(&ready.engine.ledger))
                    .unwrap_or_default()
        }
        (None, None) => body,
    };
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}

fn alert_metrics(c: crate::engine::AlertCounts) -> String {
    format!(
        "# HELP warroom_alerts_total Alerts received, by what they caused.\n# TYPE warroom_alerts_total counter\nwarroom_alerts_total{{result=\"opened\"}} {}\nwarroom_alerts_total{{result=\"repeat\"}} {}\nwarroom_alerts_total{{result=\"resolved\"}} {}\nwarroom_alerts_total{{result=\"not_actionable\"}} {}\n",
        c.opened, c.repeats, c.resolved, c.not_actionable
    )
}
