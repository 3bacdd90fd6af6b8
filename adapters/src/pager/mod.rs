//! Waking people up: the PagerDuty Events API v2, e-mail over SMTP, a generic JSON webhook
//! (SMS gateways and the like) and chat direct messages, each behind [`Pager`].
//!
//! The engine owes each page as (person, channel) deliveries and hands them over one at a
//! time; a channel answers accepted, "try again" (with the channel's `Retry-After` when it
//! gave one) or "never". Every delivery carries keys that are the same on every attempt, so
//! the receiving end can fold a repeat: PagerDuty's `dedup_key`, the e-mail `Message-ID`, the
//! webhook's `Idempotency-Key` header, a chat message's metadata.

mod chat;
mod email;
mod http;
mod pagerduty;
mod text;
mod webhook;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use warroom_commands::outbox::SendKind;
use warroom_commands::{EscalationStep, IncidentId, PersonId};

pub use chat::ChatPager;
pub use email::Email;
pub use http::{Answer, post_json};
pub use pagerduty::PagerDuty;
pub use text::{acknowledge_hint, body_lines, subject};
pub use webhook::Webhook;

/// What a page says, whichever channel carries it.
#[derive(Debug, Clone, Serialize)]
pub struct PageContent {
    pub incident: IncidentId,
    pub title: String,
    /// `sev1` … `sev4`.
    pub severity: String,
    /// e.g. `security-incident tier 2 (round 1)`, or `paged by alice` for a `page` command.
    pub step: String,
    /// The plan rule the alert met, and the intake it came through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Where it fired: `cluster`, `namespace`, `pod`, `node`, `image`, as the alert said.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub location: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runbook: Option<String>,
    /// The incident in the console (`[console] public_url`).
    pub link: String,
    /// The incident's chat channel, e.g. `#inc-20261201-shell-in-payments`.
    pub channel: String,
    /// What the person who paged by hand added.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// A drill's page (`[drill] notify`): every text starts with `DRILL —`.
    pub drill: bool,
}

impl PageContent {
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

/// One delivery, as a channel sends it.
#[derive(Debug, Clone)]
pub struct Outbound {
    pub kind: SendKind,
    pub content: Arc<PageContent>,
    /// Who it is for; `None` for a channel that pages a service (PagerDuty).
    pub person: Option<PagedPerson>,
    /// This installation's id (from the ledger): every key sent outside carries it.
    pub installation: String,
    /// The page (`P2`) that owes this delivery.
    pub page: String,
    /// For a follow-up: the page whose message it follows.
    pub follows: Option<String>,
    /// The escalation step, when a policy paged.
    pub step: Option<EscalationStep>,
    /// For a follow-up: who acknowledged, or the resolution.
    pub by: Option<String>,
    /// The delivery was tried before (or warroom restarted meanwhile): the channel may have
    /// it already, so look before sending where the channel can.
    pub resumed: bool,
}

impl Outbound {
    /// The key that is the same on every attempt of this delivery.
    pub fn key(&self) -> String {
        self.key_of(&self.page)
    }

    /// The key of the page a follow-up follows (its thread, its PagerDuty alert).
    pub fn thread_key(&self) -> Option<String> {
        self.follows.as_deref().map(|p| self.key_of(p))
    }

    fn key_of(&self, page: &str) -> String {
        let mut key = format!("{}/{}/{page}", self.installation, self.content.incident);
        if let Some(p) = &self.person {
            key.push('/');
            key.push_str(p.id.as_str());
        }
        key
    }
}

/// Why a channel did not take a delivery.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth another attempt (429, 5xx, no answer), not before `after` when the channel said.
    #[error("{message}")]
    Retry {
        message: String,
        after: Option<Duration>,
    },
    /// Another attempt cannot succeed (a refused key, a bad address, no account).
    #[error("{0}")]
    Permanent(String),
}

impl SendError {
    pub fn retry(message: impl Into<String>) -> SendError {
        SendError::Retry {
            message: message.into(),
            after: None,
        }
    }
}

/// Who a channel pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Each paged person (e-mail, webhook, chat).
    People,
    /// A service whose own schedule decides who is woken (PagerDuty): once per escalation
    /// step, not per person, and not for pages by hand.
    Service,
}

#[async_trait]
pub trait Pager: Send + Sync {
    /// The channel's name in delivery ids and the timeline: `pagerduty`, `email`, …
    fn name(&self) -> &'static str;

    /// How people name it in a sentence: "PagerDuty", "e-mail".
    fn label(&self) -> &'static str;

    fn audience(&self) -> Audience;

    /// Whether this channel can reach `person` at all (e-mail needs an address).
    fn reaches(&self, person: &PagedPerson) -> bool {
        let _ = person;
        true
    }

    /// Send one delivery. `Ok` means the channel accepted it; the text is a receipt for the
    /// log (a message id, a dedup key).
    async fn send(&self, outbound: &Outbound) -> Result<String, SendError>;
}
