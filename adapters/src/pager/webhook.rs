//! A generic JSON webhook for SMS gateways and the like: `{"event": "page" | "acknowledge" |
//! "resolve", "incident": …, …}` with an optional bearer token.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use warroom_commands::IncidentId;

use super::{Page, Pager, PagerError, post_json};

pub struct Webhook {
    url: String,
    token: Option<String>,
}

impl Webhook {
    pub fn new(url: String, token: Option<String>) -> Self {
        Webhook { url, token }
    }

    async fn send(&self, body: Value) -> Result<(), PagerError> {
        match post_json(
            &self.url,
            self.token.as_deref(),
            &body,
            Duration::from_secs(10),
        )
        .await
        {
            Ok(s) if (200..300).contains(&s) => Ok(()),
            Ok(s) => Err(PagerError {
                pager: "webhook",
                message: format!("{} answered {s}", self.url),
            }),
            Err(message) => Err(PagerError {
                pager: "webhook",
                message,
            }),
        }
    }
}

#[async_trait]
impl Pager for Webhook {
    fn name(&self) -> &'static str {
        "webhook"
    }

    async fn trigger(&self, page: &Page) -> Result<(), PagerError> {
        let mut body = json!(page);
        body["event"] = json!("page");
        // The text a gateway forwards (an SMS) starts with the drill marker too.
        body["title"] = json!(format!("{}{}", page.prefix(), page.title));
        self.send(body).await
    }

    async fn acknowledge(&self, incident: &IncidentId) -> Result<(), PagerError> {
        self.send(json!({"event": "acknowledge", "incident": incident.as_str()}))
            .await
    }

    async fn resolve(&self, incident: &IncidentId) -> Result<(), PagerError> {
        self.send(json!({"event": "resolve", "incident": incident.as_str()}))
            .await
    }
}
