//! `GET /api/v1/incidents/{id}/evidence/{evidence}`: one artifact's bytes, to view in the
//! console (`?view=true`, inline) or download, authorized like every other read.
//!
//! Guarantees: the artifact is re-hashed from the store and compared with the SHA-256 its
//! ledger record holds before a byte is sent; a changed or missing artifact is answered 409
//! naming both digests, never served. The answer carries the digest (`X-Evidence-SHA256`,
//! `Repr-Digest`) so a downloader can check it again. Caveat: the check and the sending are two
//! reads; the store's files are 0600 and written once, so nothing is expected to change
//! between them, and `ledger verify` re-checks everything at rest.

use std::io::Read;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Deserialize;

use super::ReadyState;
use super::api::{TokenQuery, answer, caller_and_incident, ledger_error};

#[derive(Deserialize, Default)]
pub(super) struct View {
    #[serde(default)]
    view: bool,
}

/// A content type for showing an artifact: JSON and text inline, everything else as bytes.
fn content_type(name: &str) -> &'static str {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".json") {
        "application/json"
    } else if [".txt", ".log", ".yaml", ".yml", ".md"]
        .iter()
        .any(|e| lower.ends_with(e))
    {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    }
}

pub(super) async fn artifact(
    ReadyState(state): ReadyState,
    Path((id, evidence)): Path<(String, String)>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
    Query(v): Query<View>,
) -> Response {
    let (_, id) = match caller_and_incident(&state, &headers, &q, &id) {
        Ok(found) => found,
        Err(r) => return r.into_response(),
    };
    let records = match state.engine.ledger.evidence(&id) {
        Ok(r) => r,
        Err(e) => return ledger_error(e),
    };
    let Some(record) = records
        .into_iter()
        .find(|r| r.id.eq_ignore_ascii_case(&evidence))
    else {
        return answer(
            StatusCode::NOT_FOUND,
            format!("no evidence `{evidence}` in {id}"),
        );
    };
    let store = Arc::clone(&state.evidence);
    let location = record.location.clone();
    let checked = tokio::task::spawn_blocking(move || store.digest(&location, &mut |_| {})).await;
    let actual = match checked {
        Ok(Ok((sha, _))) => sha,
        Ok(Err(e)) => {
            return answer(
                StatusCode::CONFLICT,
                format!(
                    "{} ({}) cannot be read from the evidence store: {e}; expected sha256 {}",
                    record.id, record.name, record.sha256
                ),
            );
        }
        Err(e) => return answer(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    if actual != record.sha256 {
        return answer(
            StatusCode::CONFLICT,
            format!(
                "{} ({}) changed since it was recorded: expected sha256 {}, found {actual}; not served",
                record.id, record.name, record.sha256
            ),
        );
    }
    // Stream it: an artifact can be a large checkpoint.
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(4);
    let store = Arc::clone(&state.evidence);
    let location = record.location.clone();
    tokio::task::spawn_blocking(move || {
        let mut reader = match store.open(&location) {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        };
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    if tx.blocking_send(Ok(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
    });
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    let mut response = Response::new(body);
    let h = response.headers_mut();
    let file = record.name.rsplit('/').next().unwrap_or(&record.name);
    let safe: String = file
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect();
    let disposition = if v.view {
        "inline".to_owned()
    } else {
        format!("attachment; filename=\"{}-{safe}\"", record.id)
    };
    let digest = hex::decode(&record.sha256).unwrap_or_default();
    let named = |n: &'static str| axum::http::HeaderName::from_static(n);
    for (name, value) in [
        (header::CONTENT_TYPE, content_type(&record.name).to_owned()),
        (header::CONTENT_LENGTH, record.size.to_string()),
        (header::CONTENT_DISPOSITION, disposition),
        (named("x-evidence-sha256"), record.sha256.clone()),
        (
            named("repr-digest"),
            format!(
                "sha-256=:{}:",
                base64::engine::general_purpose::STANDARD.encode(digest)
            ),
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        // Shown from the console's origin: an artifact's HTML or script never runs there.
        (
            header::CONTENT_SECURITY_POLICY,
            "sandbox; default-src 'none'".to_owned(),
        ),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            h.insert(name, value);
        }
    }
    response
}
