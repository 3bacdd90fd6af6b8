//! One JSON POST with a bounded wait, over plain HTTP (local receivers, tests) or HTTPS.

use std::time::Duration;

use http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use http::{Method, Request};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use super::SendError;

/// What the receiver answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    /// `Retry-After` in seconds (the HTTP-date form is read as "no hint").
    pub retry_after: Option<Duration>,
}

impl Answer {
    /// 2xx is accepted; 408, 429 and 5xx are worth another attempt (honouring `Retry-After`);
    /// any other answer will not change by asking again.
    pub fn judge(self, what: &str) -> Result<(), SendError> {
        match self.status {
            200..=299 => Ok(()),
            408 | 429 | 500..=599 => Err(SendError::Retry {
                message: format!("{what} answered {}", self.status),
                after: self.retry_after,
            }),
            s => Err(SendError::Permanent(format!("{what} answered {s}"))),
        }
    }
}

/// POST `body` to `url` with `headers`, and return the answer, within `timeout`. An error is
/// the request never got an answer (worth another attempt).
pub async fn post_json(
    url: &str,
    bearer: Option<&str>,
    headers: &[(&str, &str)],
    body: &Value,
    timeout: Duration,
) -> Result<Answer, String> {
    let https = url.starts_with("https://");
    if !https && !url.starts_with("http://") {
        return Err(format!("`{url}` is not an http(s) URL"));
    }
    let connector = crate::chat::slack::web_api::connector(https).map_err(|e| e.to_string())?;
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(url)
        .header(CONTENT_TYPE, "application/json");
    if let Some(token) = bearer {
        request = request.header(AUTHORIZATION, format!("Bearer {token}"));
    }
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let request = request
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| format!("cannot build the request: {e}"))?;
    match tokio::time::timeout(timeout, client.request(request)).await {
        Ok(Ok(response)) => Ok(Answer {
            status: response.status().as_u16(),
            retry_after: response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                // A receiver asking for hours is capped; the retry window still bounds it.
                .map(|s| Duration::from_secs(s.min(3600))),
        }),
        Ok(Err(e)) => Err(format!("cannot reach {url}: {e}")),
        Err(_) => Err(format!(
            "no answer from {url} within {} s",
            timeout.as_secs()
        )),
    }
}
