//! One JSON POST with a bounded wait, over plain HTTP (local receivers, tests) or HTTPS.

use std::time::Duration;

use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{Method, Request};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// POST `body` to `url` and return the status, within `timeout`.
pub async fn post_json(
    url: &str,
    bearer: Option<&str>,
    body: &Value,
    timeout: Duration,
) -> Result<u16, String> {
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
    let request = request
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| format!("cannot build the request: {e}"))?;
    match tokio::time::timeout(timeout, client.request(request)).await {
        Ok(Ok(response)) => Ok(response.status().as_u16()),
        Ok(Err(e)) => Err(format!("cannot reach {url}: {e}")),
        Err(_) => Err(format!(
            "no answer from {url} within {} s",
            timeout.as_secs()
        )),
    }
}
