//! A generic JSON webhook for SMS gateways and the like: one POST per paged person,
//! `{"event": "page" | "acknowledge" | "resolve", "incident": …, "person": …, "text": …}`,
//! with an optional bearer token and an `Idempotency-Key` header that is the same on every
//! attempt of a delivery.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use warroom_commands::outbox::SendKind;

use super::{Audience, Outbound, Pager, SendError, acknowledge_hint, body_lines, post_json};

pub struct Webhook {
    url: String,
    token: Option<String>,
}

impl Webhook {
    pub fn new(url: String, token: Option<String>) -> Self {
        Webhook { url, token }
    }
}

#[async_trait]
impl Pager for Webhook {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn label(&self) -> &'static str {
        "webhook"
    }

    fn audience(&self) -> Audience {
        Audience::People
    }

    /// Guarantees: every attempt of one delivery carries the same `Idempotency-Key`.
    /// Assumes: the receiver answers 2xx once it took the page; 408, 429 and 5xx are retried
    /// (after `Retry-After` when given), any other answer is final.
    async fn send(&self, o: &Outbound) -> Result<String, SendError> {
        let key = o.key();
        let c = &o.content;
        let event = match o.kind {
            SendKind::Page => "page",
            SendKind::Acknowledged => "acknowledge",
            SendKind::Resolved => "resolve",
        };
        let mut body = json!(c.as_ref());
        body["event"] = json!(event);
        body["key"] = json!(key);
        // The text a gateway forwards (an SMS) starts with the drill marker too.
        body["title"] = json!(format!("{}{}", c.prefix(), c.title));
        body["text"] = json!(body_lines(o, "webhook").join("\n"));
        body["acknowledge"] = json!(acknowledge_hint("webhook", c));
        if let Some(p) = &o.person {
            body["person"] = json!(p);
            body["people"] = json!([p]);
        }
        if let Some(t) = o.thread_key() {
            body["follows"] = json!(t);
        }
        if let Some(by) = &o.by {
            body["by"] = json!(by);
        }
        post_json(
            &self.url,
            self.token.as_deref(),
            &[("idempotency-key", &key)],
            &body,
            Duration::from_secs(10),
        )
        .await
        .map_err(SendError::retry)?
        .judge(&self.url)?;
        Ok(format!("Idempotency-Key {key}"))
    }
}
