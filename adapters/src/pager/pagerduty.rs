//! The PagerDuty Events API v2 (`{api_base}/v2/enqueue`, `https://events.pagerduty.com`
//! unless the plan says otherwise).
//!
//! warroom escalates, PagerDuty delivers: each escalation step is its own PagerDuty alert,
//! with its own `dedup_key` (installation, incident and page number) and the routing key of
//! the tier (`pagerduty_routing_key` on the tier, else `[paging.pagerduty] routing_key`), so
//! tier 2's trigger is never folded into tier 1's open alert. Retries of one step reuse its
//! key, so PagerDuty folds them; an acknowledgement or resolve is sent for every step that
//! triggered.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use warroom_commands::EscalationStep;
use warroom_commands::outbox::SendKind;

use super::{Audience, Outbound, Pager, SendError, acknowledge_hint, post_json, subject};

pub const DEFAULT_API_BASE: &str = "https://events.pagerduty.com";

pub struct PagerDuty {
    url: String,
    routing_key: String,
    /// (policy, tier index) → that tier's routing key.
    tier_keys: HashMap<(String, u32), String>,
}

impl PagerDuty {
    pub fn new(
        api_base: Option<&str>,
        routing_key: String,
        tier_keys: HashMap<(String, u32), String>,
    ) -> Self {
        PagerDuty {
            url: format!(
                "{}/v2/enqueue",
                api_base.unwrap_or(DEFAULT_API_BASE).trim_end_matches('/')
            ),
            routing_key,
            tier_keys,
        }
    }

    fn routing_key(&self, step: Option<&EscalationStep>) -> &str {
        step.and_then(|s| self.tier_keys.get(&(s.policy.clone(), s.tier)))
            .unwrap_or(&self.routing_key)
    }

    fn trigger(&self, o: &Outbound, key: &str) -> Value {
        let c = &o.content;
        let mut links = vec![json!({"href": c.link, "text": format!("{} in warroom", c.incident)})];
        if let Some(r) = c.runbook.as_deref().filter(|r| r.starts_with("http")) {
            links.push(json!({"href": r, "text": "Runbook"}));
        }
        let source = ["pod", "node", "namespace", "cluster"]
            .iter()
            .find_map(|k| c.location.get(*k))
            .cloned()
            .unwrap_or_else(|| "warroom".to_owned());
        let mut details = json!({
            "incident": c.incident.as_str(),
            "step": c.step,
            "channel": c.channel,
            "acknowledge": acknowledge_hint("pagerduty", c),
        });
        for (k, v) in [
            ("rule", &c.rule),
            ("source", &c.source),
            ("description", &c.description),
            ("runbook", &c.runbook),
            ("note", &c.note),
        ] {
            if let Some(v) = v {
                details[k] = json!(v);
            }
        }
        for (k, v) in &c.location {
            details[k] = json!(v);
        }
        let summary: String = subject(o).chars().take(1024).collect();
        json!({
            "routing_key": self.routing_key(o.step.as_ref()),
            "event_action": "trigger",
            "dedup_key": key,
            "client": "warroom",
            "client_url": c.link,
            "links": links,
            "payload": {
                "summary": summary,
                "source": source,
                "severity": severity(&c.severity),
                "component": c.location.get("pod").or(c.location.get("node")).cloned().unwrap_or_default(),
                "group": c.location.get("namespace").cloned().unwrap_or_default(),
                "class": c.rule.clone().unwrap_or_default(),
                "custom_details": details,
            },
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

    fn label(&self) -> &'static str {
        "PagerDuty"
    }

    fn audience(&self) -> Audience {
        Audience::Service
    }

    /// Guarantees: the same step always sends the same `dedup_key`, so a repeat after a
    /// lost answer or a restart is folded by PagerDuty. Assumes: the Events API answers 202
    /// for an accepted event; 400 means the event or key is wrong (not retried).
    async fn send(&self, o: &Outbound) -> Result<String, SendError> {
        let event = match o.kind {
            SendKind::Page => self.trigger(o, &o.key()),
            SendKind::Acknowledged | SendKind::Resolved => {
                let key = o.thread_key().ok_or_else(|| {
                    SendError::Permanent("a follow-up names no page to follow".into())
                })?;
                json!({
                    "routing_key": self.routing_key(o.step.as_ref()),
                    "event_action": if o.kind == SendKind::Resolved { "resolve" } else { "acknowledge" },
                    "dedup_key": key,
                })
            }
        };
        let key = event["dedup_key"].as_str().unwrap_or_default().to_owned();
        post_json(&self.url, None, &[], &event, Duration::from_secs(10))
            .await
            .map_err(SendError::retry)?
            .judge("PagerDuty")?;
        Ok(format!("dedup_key {key}"))
    }
}
