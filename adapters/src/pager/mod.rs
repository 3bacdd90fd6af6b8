//! Waking people up outside chat: the PagerDuty Events API v2, email over SMTP and a generic JSON webhook
//! (SMS gateways and the like). Chat direct messages and mentions go through `Chat`.
//!
//! Each pager is told about an incident's pages (`trigger`), and when they stop mattering
//! (`acknowledge`, `resolve`); the incident id is the dedup key, so a retried call never pages
//! twice at the receiving end.

mod email;
mod http;
mod pagerduty;
mod webhook;

use async_trait::async_trait;
use serde::Serialize;
use warroom_commands::{IncidentId, PersonId};

pub use email::Email;
pub use http::post_json;
pub use pagerduty::PagerDuty;
pub use webhook::Webhook;

/// One page: who, for what, at which escalation step.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    pub incident: IncidentId,
    pub title: String,
    /// `sev1` … `sev4`.
    pub severity: String,
    pub people: Vec<PagedPerson>,
    /// e.g. `security-incident tier 1 (round 1)`, or `manual` for a `page` command.
    pub step: String,
    /// A drill's page (`[drill] notify`): every pager starts what it sends with `DRILL —`.
    pub drill: bool,
}

impl Page {
    /// `DRILL — ` for a drill's page, else nothing: what every outbound text starts with.
    pub fn prefix(&self) -> &'static str {
        if self.drill { "DRILL — " } else { "" }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PagedPerson {
    pub id: PersonId,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pager}: {message}")]
pub struct PagerError {
    pub pager: &'static str,
    pub message: String,
}

#[async_trait]
pub trait Pager: Send + Sync {
    fn name(&self) -> &'static str;
    async fn trigger(&self, page: &Page) -> Result<(), PagerError>;
    async fn acknowledge(&self, incident: &IncidentId) -> Result<(), PagerError>;
    async fn resolve(&self, incident: &IncidentId) -> Result<(), PagerError>;
}
