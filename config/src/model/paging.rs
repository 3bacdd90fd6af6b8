//! `[paging]`: how people are woken up.

use serde::Deserialize;

use crate::secret::SecretRef;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Paging {
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

fn default_smtp_port() -> u16 {
    587
}
