//! The PagerDuty Events API v2: `trigger` / `acknowledge` / `resolve` with the incident id as
//! `dedup_key`, to `{api_base}/v2/enqueue` (`https://events.pagerduty.com` unless the plan
//! says otherwise).

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use warroom_commands::IncidentId;

use super::{Page, Pager, PagerError, post_json};

pub const DEFAULT_API_BASE: &str = "https://events.pagerduty.com";

pub struct PagerDuty {
    url: String,
    routing_key: String,
}

impl PagerDuty {
    pub fn new(api_base: Option<&str>, routing_key: String) -> Self {
        PagerDuty {
            url: format!(
                "{}/v2/enqueue",
                api_base.unwrap_or(DEFAULT_API_BASE).trim_end_matches('/')
            ),
            routing_key,
        }
    }

    async fn send(&self, event: Value) -> Result<(), PagerError> {
        let failed = |message: String| PagerError {
            pager: "pagerduty",
            message,
        };
        // Events API answers 202; 429 and 5xx are worth one more try.
        for attempt in 0..3 {
            match post_json(&self.url, None, &event, Duration::from_secs(10)).await {
                Ok(202 | 200) => return Ok(()),
                Ok(429 | 500..=599) if attempt < 2 => {
                    tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
                }
                Ok(status) => return Err(failed(format!("answered {status}"))),
                Err(e) if attempt < 2 => {
                    tracing::warn!(error = %e, "PagerDuty call failed; trying again");
                    tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
                }
                Err(e) => return Err(failed(e)),
            }
        }
        Err(failed("no answer after 3 attempts".into()))
    }

    fn event(&self, action: &str, incident: &IncidentId) -> Value {
        json!({
            "routing_key": self.routing_key,
            "event_action": action,
            "dedup_key": incident.as_str(),
        })
    }
}

/// warroom's severities as PagerDuty's.
fn severity(sev: &str) -> &'static str {
    match sev {
        "sev1" => "critical",
        "sev2" => "error",
        "sev3" => "warning",
        _ => "info",
    }
}

#[async_trait]
impl Pager for PagerDuty {
    fn name(&self) -> &'static str {
        "pagerduty"
    }

    async fn trigger(&self, page: &Page) -> Result<(), PagerError> {
        let mut event = self.event("trigger", &page.incident);
        event["payload"] = json!({
            "summary": format!("{}{} {}: {}", page.prefix(), page.incident, page.severity, page.title),
            "source": "warroom",
            "severity": severity(&page.severity),
            "component": page.step,
            "custom_details": { "people": page.people, "step": page.step },
        });
        self.send(event).await
    }

    async fn acknowledge(&self, incident: &IncidentId) -> Result<(), PagerError> {
        self.send(self.event("acknowledge", incident)).await
    }

    async fn resolve(&self, incident: &IncidentId) -> Result<(), PagerError> {
        self.send(self.event("resolve", incident)).await
    }
}
