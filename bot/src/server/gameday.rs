//! `/api/v1/drill/scorecard{,.md,.svg}`: the running game day's scorecard, live; and
//! `POST /api/v1/drill/clock`: moving a manual drill clock.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::api::answer;
use crate::gameday::{Run, render};

/// Why there is no scorecard to show.
enum NoGameDay {
    /// The scenario's game day starts once warroom is ready.
    Starting,
    /// The scenario has no script, or the server runs none.
    None,
}

impl NoGameDay {
    /// 503 with Retry-After while it starts (ask again), 404 when there is none.
    fn answer(self) -> Response {
        match self {
            NoGameDay::Starting => {
                let mut r = answer(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the game day starts once warroom is ready (it is still opening its ledger): ask again in a moment",
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
                r
            }
            NoGameDay::None => answer(
                StatusCode::NOT_FOUND,
                "no game day is running: start one with `warroom drill --scenario payments-breach` (or a scenario file with a `kind: GameDay` script)",
            ),
        }
    }
}

fn running(state: &AppState) -> Result<&Arc<Run>, NoGameDay> {
    match state.game.get() {
        Some(Some(run)) => Ok(run),
        Some(None) => Err(NoGameDay::None),
        None => Err(NoGameDay::Starting),
    }
}

pub(super) async fn scorecard_json(State(state): State<Arc<AppState>>) -> Response {
    match running(&state) {
        Ok(run) => {
            let card = run.scorecard();
            let files = run.files().map(|d| d.display().to_string());
            let mut body = serde_json::to_value(&card).unwrap_or_default();
            if let Some(o) = body.as_object_mut() {
                o.insert("files".into(), json!(files));
            }
            axum::Json(body).into_response()
        }
        Err(none) => none.answer(),
    }
}

pub(super) async fn scorecard_markdown(State(state): State<Arc<AppState>>) -> Response {
    rendered(&state, "text/markdown; charset=utf-8", render::markdown)
}

pub(super) async fn scorecard_svg(State(state): State<Arc<AppState>>) -> Response {
    rendered(&state, "image/svg+xml", render::svg)
}

/// The live scorecard in one of its exported forms.
fn rendered(
    state: &AppState,
    content_type: &'static str,
    render: fn(&crate::gameday::score::Scorecard) -> String,
) -> Response {
    match running(state) {
        Ok(run) => (
            [(header::CONTENT_TYPE, content_type)],
            render(&run.scorecard()),
        )
            .into_response(),
        Err(none) => none.answer(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    /// e.g. "5m".
    advance: String,
}

/// Moves a `--manual-clock` drill's clock forward. Only forward: a ledger's timeline never
/// goes back in time.
pub(super) async fn move_clock(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let Some(clock) = &state.manual_clock else {
        return answer(
            StatusCode::CONFLICT,
            "this server's clock is not manual: start the drill with `warroom drill --manual-clock` to move time by hand",
        );
    };
    let advance: Advance = match serde_json::from_slice(&body) {
        Ok(a) => a,
        Err(e) => {
            return answer(
                StatusCode::BAD_REQUEST,
                format!("expected {{\"advance\": \"5m\"}}: {e}"),
            );
        }
    };
    let by = match warroom_config::parse_duration(&advance.advance) {
        Ok(d) => d,
        Err(e) => return answer(StatusCode::BAD_REQUEST, format!("advance: {e}")),
    };
    let Ok(by) = chrono::Duration::from_std(by) else {
        return answer(StatusCode::BAD_REQUEST, "advance: too long");
    };
    let Some(now) = clock.try_advance(by) else {
        return answer(
            StatusCode::BAD_REQUEST,
            format!(
                "advance: {} would move the clock past the year 9999; move it by less",
                advance.advance
            ),
        );
    };
    axum::Json(json!({ "ok": true, "now": warroom_commands::clock::timestamp(now) }))
        .into_response()
}
