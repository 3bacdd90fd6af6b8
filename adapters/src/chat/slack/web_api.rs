//! Slack's Web API: one HTTPS POST per method call, answered with `{"ok": true, …}` or
//! `{"ok": false, "error": "…"}`.
//!
//! Guarantees: the bot token goes only into the `Authorization` header of requests to the
//! configured base URL, is marked sensitive there, and never appears in errors or `Debug`.
//! Each call is attempted once; retrying is the caller's choice, because a repeated
//! `chat.postMessage` posts twice.
//! Caveats: TLS uses the system's root certificates (rustls with ring); no proxy support.

use std::fmt;
use std::time::Duration;

use http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

pub const DEFAULT_API_BASE: &str = "https://slack.com/api";
/// Answers larger than this are refused (a page of `conversations.list` is far smaller).
const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;
/// Slack asks clients to wait this long when a 429 has no usable `Retry-After`.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// A method's arguments. Write methods take JSON; read methods (`conversations.list`,
/// `chat.getPermalink`, `users.info`) accept only form bodies.
#[derive(Debug, Clone, PartialEq)]
pub enum Args {
    Json(Value),
    Form(Vec<(&'static str, String)>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// HTTP 429: nothing was done; the same call may be repeated after `retry_after`.
    #[error("{method}: rate limited by Slack, retry after {} s", retry_after.as_secs())]
    RateLimited {
        method: &'static str,
        retry_after: Duration,
    },
    /// `ok: false`, with Slack's error code and any detail it gave.
    #[error("{method}: Slack answered `{error}`{}", detail_text(.detail))]
    Slack {
        method: &'static str,
        error: String,
        detail: Vec<String>,
    },
    #[error("{method}: Slack answered HTTP {status}")]
    Http { method: &'static str, status: u16 },
    /// No answer or an unreadable one: the call may or may not have taken effect.
    #[error("{method}: {message}")]
    Transport {
        method: &'static str,
        message: String,
    },
    #[error("Slack client: {0}")]
    Config(String),
}

fn detail_text(detail: &[String]) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(" ({})", detail.join("; "))
    }
}

impl ApiError {
    /// Slack's error code, for `ok: false` answers.
    pub fn slack_error(&self) -> Option<&str> {
        match self {
            ApiError::Slack { error, .. } => Some(error),
            _ => None,
        }
    }

    /// Worth repeating for a call that has the same effect when repeated.
    pub fn is_transient(&self) -> bool {
        match self {
            ApiError::RateLimited { .. } | ApiError::Transport { .. } => true,
            ApiError::Http { status, .. } => *status >= 500,
            ApiError::Slack { error, .. } => {
                matches!(
                    error.as_str(),
                    "internal_error" | "fatal_error" | "service_unavailable" | "request_timeout"
                )
            }
            ApiError::Config(_) => false,
        }
    }
}

/// An HTTP(S) connector on the ring provider: `https` loads the system's root certificates;
/// otherwise plain `http://` is allowed (a local stand-in) and no certificates are needed.
pub fn connector(https: bool) -> Result<HttpsConnector<HttpConnector>, ApiError> {
    let provider = rustls::crypto::ring::default_provider();
    let builder = if https {
        HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider)
            .map_err(|e| ApiError::Config(format!("no usable root certificates for TLS: {e}")))?
    } else {
        let tls = rustls::ClientConfig::builder_with_provider(provider.into())
            .with_safe_default_protocol_versions()
            .map_err(|e| ApiError::Config(format!("TLS setup: {e}")))?
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        HttpsConnectorBuilder::new().with_tls_config(tls)
    };
    Ok(builder.https_or_http().enable_http1().build())
}

pub struct WebApi {
    base: String,
    authorization: HeaderValue,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl fmt::Debug for WebApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebApi")
            .field("base", &self.base)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl WebApi {
    /// `base_url` is `https://slack.com/api` in production; plain `http://` is accepted
    /// for a local stand-in. `bot_token` must be a bot token (`xoxb-…`).
    /// `timeout` bounds each call, from connecting to reading the whole answer.
    pub fn new(base_url: &str, bot_token: &str, timeout: Duration) -> Result<Self, ApiError> {
        let base = base_url.trim_end_matches('/').to_owned();
        let uri: Uri = base
            .parse()
            .map_err(|_| ApiError::Config(format!("API base URL `{base}` is not a URL")))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => {
                return Err(ApiError::Config(format!(
                    "API base URL `{base}` must start with https:// (or http:// for a local stand-in)"
                )));
            }
        };
        if uri.query().is_some() {
            return Err(ApiError::Config(format!(
                "API base URL `{base}` must not have a query"
            )));
        }
        if !bot_token.starts_with("xoxb-") {
            return Err(ApiError::Config(
                "the Slack token is not a bot token (expected `xoxb-…`)".into(),
            ));
        }
        let mut authorization =
            HeaderValue::from_str(&format!("Bearer {bot_token}")).map_err(|_| {
                ApiError::Config(
                    "the Slack bot token has characters not allowed in a header".into(),
                )
            })?;
        authorization.set_sensitive(true);

        let connector = connector(https)?;
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(WebApi {
            base,
            authorization,
            client,
            timeout,
        })
    }

    /// True for `https://…slack.com/…` and `https://…slack-gov.com/…` (where Slack's
    /// `response_url`s point), or the host of the configured base URL (a stand-in).
    pub fn may_respond_to(&self, url: &str) -> bool {
        let (Ok(target), Ok(base)) = (url.parse::<Uri>(), self.base.parse::<Uri>()) else {
            return false;
        };
        let Some(host) = target.host() else {
            return false;
        };
        let slack_host = ["slack.com", "slack-gov.com"]
            .iter()
            .any(|d| host == *d || host.ends_with(&format!(".{d}")));
        (slack_host && target.scheme_str() == Some("https"))
            || (target.scheme() == base.scheme() && target.authority() == base.authority())
    }

    /// POST raw bytes to an upload URL from `files.getUploadURLExternal`.
    pub async fn upload(&self, url: &str, bytes: Vec<u8>) -> Result<(), ApiError> {
        let method = "file upload";
        let transport = |message: String| ApiError::Transport { method, message };
        if !self.may_respond_to(url) {
            return Err(ApiError::Config(format!(
                "upload URL `{url}` is not a Slack address; not called"
            )));
        }
        let request = Request::builder()
            .method(Method::POST)
            .uri(url)
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(Full::new(Bytes::from(bytes)))
            .map_err(|e| transport(format!("cannot build the request: {e}")))?;
        let response = tokio::time::timeout(self.timeout, self.client.request(request))
            .await
            .map_err(|_| transport("no answer in time".into()))?
            .map_err(|e| transport(format!("cannot reach Slack: {e}")))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(ApiError::Http {
                method,
                status: response.status().as_u16(),
            })
        }
    }

    /// POST a JSON body to a `response_url` (no token: the URL is the credential).
    pub async fn post_url(&self, url: &str, body: &Value) -> Result<(), ApiError> {
        let method = "response_url";
        let transport = |message: String| ApiError::Transport { method, message };
        let request = Request::builder()
            .method(Method::POST)
            .uri(url)
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| transport(format!("cannot build the request: {e}")))?;
        let response = tokio::time::timeout(self.timeout, self.client.request(request))
            .await
            .map_err(|_| transport("no answer in time".into()))?
            .map_err(|e| transport(format!("cannot reach Slack: {e}")))?;
        match response.status() {
            StatusCode::TOO_MANY_REQUESTS => Err(ApiError::RateLimited {
                method,
                retry_after: retry_after(response.headers().get(RETRY_AFTER)),
            }),
            s if s.is_success() => Ok(()),
            s => Err(ApiError::Http {
                method,
                status: s.as_u16(),
            }),
        }
    }

    /// Calls `method` once and returns Slack's answer when it says `ok: true`.
    pub async fn call(&self, method: &'static str, args: &Args) -> Result<Value, ApiError> {
        match tokio::time::timeout(self.timeout, self.attempt(method, args)).await {
            Ok(result) => result,
            Err(_) => Err(ApiError::Transport {
                method,
                message: format!("no complete answer within {} s", self.timeout.as_secs_f32()),
            }),
        }
    }

    async fn attempt(&self, method: &'static str, args: &Args) -> Result<Value, ApiError> {
        let transport = |message: String| ApiError::Transport { method, message };
        let (content_type, body) = match args {
            Args::Json(v) => (
                "application/json; charset=utf-8",
                serde_json::to_vec(v)
                    .map_err(|e| transport(format!("cannot encode arguments: {e}")))?,
            ),
            Args::Form(pairs) => (
                "application/x-www-form-urlencoded",
                serde_urlencoded::to_string(pairs)
                    .map_err(|e| transport(format!("cannot encode arguments: {e}")))?
                    .into_bytes(),
            ),
        };
        let request = Request::builder()
            .method(Method::POST)
            .uri(format!("{}/{method}", self.base))
            .header(AUTHORIZATION, self.authorization.clone())
            .header(CONTENT_TYPE, content_type)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| transport(format!("cannot build the request: {e}")))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| transport(format!("cannot reach Slack: {e}")))?;

        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(ApiError::RateLimited {
                method,
                retry_after: retry_after(response.headers().get(RETRY_AFTER)),
            });
        }
        let bytes = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| transport(format!("cannot read the answer: {e}")))?
            .to_bytes();
        if !status.is_success() {
            return Err(ApiError::Http {
                method,
                status: status.as_u16(),
            });
        }
        let answer: Value = serde_json::from_slice(&bytes)
            .map_err(|e| transport(format!("the answer is not JSON: {e}")))?;
        match answer.get("ok") {
            Some(Value::Bool(true)) => {
                if let Some(warning) = answer.get("warning").and_then(Value::as_str) {
                    tracing::debug!(method, warning, "Slack warning");
                }
                Ok(answer)
            }
            Some(Value::Bool(false)) => Err(ApiError::Slack {
                method,
                error: answer
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown_error")
                    .to_owned(),
                // e.g. which block broke `invalid_blocks`.
                detail: answer
                    .pointer("/response_metadata/messages")
                    .and_then(Value::as_array)
                    .map(|m| {
                        m.iter()
                            .filter_map(Value::as_str)
                            .take(5)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
            }),
            _ => Err(transport("the answer has no `ok` field".into())),
        }
    }
}

/// Seconds, as Slack sends them; anything else means the default wait.
fn retry_after(value: Option<&HeaderValue>) -> Duration {
    value
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
        // Capped: callers add it to an elapsed time, which must not overflow; an hour is
        // past every wait warroom accepts, so the call is given up all the same.
        .map(|s| Duration::from_secs(s.min(3600)))
        .unwrap_or(DEFAULT_RETRY_AFTER)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::fake_slack::{FakeSlack, TOKEN};
    use super::*;

    #[test]
    fn a_huge_retry_after_is_capped_so_adding_it_to_a_wait_cannot_overflow() {
        let of = |v: &'static str| retry_after(Some(&HeaderValue::from_static(v)));
        assert_eq!(of("30"), Duration::from_secs(30));
        assert_eq!(of("18446744073709551615"), Duration::from_secs(3600));
        assert!(
            std::time::Instant::now()
                .checked_add(of("18446744073709551615"))
                .is_some()
        );
        assert_eq!(of("soon"), DEFAULT_RETRY_AFTER);
    }

    fn api(base: &str) -> WebApi {
        WebApi::new(base, TOKEN, Duration::from_secs(5)).unwrap()
    }

    #[tokio::test]
    async fn calls_carry_the_token_and_json_and_return_the_answer() {
        let slack = FakeSlack::start().await;
        let api = api(&format!("{}/", slack.base));
        let answer = api
            .call(
                "chat.postMessage",
                &Args::Json(json!({"channel": "C1", "text": "hi"})),
            )
            .await
            .unwrap();
        assert_eq!(answer["channel"], "C1");
        let calls = slack.calls();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].method, "chat.postMessage");
        assert_eq!(calls[0].authorization, format!("Bearer {TOKEN}"));
        assert!(calls[0].content_type.starts_with("application/json"));
        assert_eq!(calls[0].args["text"], "hi");
    }

    #[tokio::test]
    async fn form_arguments_are_sent_as_a_form() {
        let slack = FakeSlack::start().await;
        let args = Args::Form(vec![("channel", "C1".into()), ("message_ts", "1.2".into())]);
        api(&slack.base)
            .call("chat.getPermalink", &args)
            .await
            .unwrap();
        let calls = slack.calls();
        assert_eq!(calls[0].content_type, "application/x-www-form-urlencoded");
        assert_eq!(calls[0].args["message_ts"], "1.2");
    }

    #[tokio::test]
    async fn not_ok_429_and_http_errors_are_told_apart() {
        let slack = FakeSlack::start().await;
        let api = api(&slack.base);
        let e = api
            .call(
                "chat.postMessage",
                &Args::Json(json!({"channel": "C_GONE"})),
            )
            .await
            .unwrap_err();
        assert_eq!(e.slack_error(), Some("channel_not_found"));
        assert!(e.to_string().starts_with("chat.postMessage: "), "{e}");
        assert!(!e.is_transient());

        slack.rate_limit("C1", 1);
        let e = api
            .call("chat.postMessage", &Args::Json(json!({"channel": "C1"})))
            .await
            .unwrap_err();
        assert_eq!(
            e,
            ApiError::RateLimited {
                method: "chat.postMessage",
                retry_after: Duration::from_secs(1)
            }
        );
        let e = api
            .call("test.http500", &Args::Json(json!({})))
            .await
            .unwrap_err();
        assert_eq!(
            e,
            ApiError::Http {
                method: "test.http500",
                status: 500
            }
        );
        assert!(e.is_transient());
        let e = api
            .call("test.notjson", &Args::Json(json!({})))
            .await
            .unwrap_err();
        assert!(matches!(e, ApiError::Transport { .. }), "{e}");
    }

    #[tokio::test]
    async fn a_wrong_token_is_slacks_invalid_auth_and_never_shown() {
        let slack = FakeSlack::start().await;
        let api = WebApi::new(&slack.base, "xoxb-wrong", Duration::from_secs(5)).unwrap();
        let e = api
            .call("chat.postMessage", &Args::Json(json!({})))
            .await
            .unwrap_err();
        assert_eq!(e.slack_error(), Some("invalid_auth"));
        assert!(!format!("{e} {api:?}").contains("xoxb-wrong"));
    }

    #[tokio::test]
    async fn unreachable_or_silent_servers_are_transport_errors() {
        // Bind and close a port, so nothing listens there.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let api = api(&format!("http://127.0.0.1:{port}/api"));
        let e = api
            .call("chat.postMessage", &Args::Json(json!({})))
            .await
            .unwrap_err();
        assert!(matches!(e, ApiError::Transport { .. }), "{e}");

        let slack = FakeSlack::start().await;
        let slow = WebApi::new(&slack.base, TOKEN, Duration::from_millis(200)).unwrap();
        let e = slow
            .call("test.hang", &Args::Json(json!({})))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("no complete answer"), "{e}");
    }

    #[test]
    fn bad_settings_are_refused_without_showing_the_token() {
        let t = Duration::from_secs(1);
        assert!(WebApi::new("slack.com/api", TOKEN, t).is_err());
        assert!(WebApi::new("ftp://slack.com/api", TOKEN, t).is_err());
        assert!(WebApi::new("https://slack.com/api?x=1", TOKEN, t).is_err());
        let e = WebApi::new("https://slack.com/api", "xoxp-user-token", t).unwrap_err();
        assert!(!e.to_string().contains("xoxp-user-token"));
        assert!(WebApi::new("http://127.0.0.1:1/api", "xoxb-bad\ntoken", t).is_err());
    }

    #[test]
    fn retry_after_is_read_in_seconds_with_a_default() {
        assert_eq!(
            retry_after(Some(&HeaderValue::from_static("7"))),
            Duration::from_secs(7)
        );
        assert_eq!(
            retry_after(Some(&HeaderValue::from_static("soon"))),
            DEFAULT_RETRY_AFTER
        );
        assert_eq!(retry_after(None), DEFAULT_RETRY_AFTER);
    }
}
