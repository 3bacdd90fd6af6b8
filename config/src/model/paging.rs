//! `[paging]`: how people are woken up.

use std::time::Duration;

use serde::Deserialize;

use crate::secret::SecretRef;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Paging {
    /// How long warroom keeps retrying one delivery a channel refuses or does not answer
    /// before it records the delivery as failed and says so in the incident's channel.
    #[serde(
        default = "default_retry_for",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub retry_for: Duration,
    #[serde(default)]
    pub pagerduty: Option<PagerDutyPaging>,
    #[serde(default)]
    pub webhook: Option<WebhookPaging>,
    #[serde(default)]
    pub email: Option<EmailPaging>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerDutyPaging {
    /// Events API v2 integration key.
    pub routing_key: SecretRef,
    #[serde(default)]
    pub api_base_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookPaging {
    pub url: String,
    /// Sent as a bearer token when set.
    #[serde(default)]
    pub token: Option<SecretRef>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailPaging {
    pub smtp_host: String,
    #[serde(default = "default_smtp_port")]
    pub smtp_port: u16,
    pub from: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<SecretRef>,
}

pub const DEFAULT_RETRY_FOR: Duration = Duration::from_secs(10 * 60);

fn default_retry_for() -> Duration {
    DEFAULT_RETRY_FOR
}

impl Default for Paging {
    fn default() -> Self {
        Paging {
            retry_for: DEFAULT_RETRY_FOR,
            pagerduty: None,
            webhook: None,
            email: None,
        }
    }
}

fn default_smtp_port() -> u16 {
    587
}
