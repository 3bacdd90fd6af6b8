//! One inbound path for every chat platform: a platform adapter verifies and decodes what
//! it received into a [`Delivery`] (platform, account, delivery key, a command or a click,
//! the channel it came from) and renders the answer; everything between happens here, once.
//!
//! Guarantees: the account is mapped to a person of the plan first (an unknown account is
//! refused, saying what to add, and nothing is recorded); a delivery key has at most one
//! effect across retries, restarts and `kill -9` (claimed in the ledger before anything is
//! done); the answer comes within [`ACK_WITHIN`], slower work finishes in the background and
//! its outcome goes to the platform's follow-up (and the incident's channel). The two-person
//! rule is the engine's: identity is the person, so one person's Slack and Discord accounts
//! count once. Caveat: at most once — if warroom dies between the claim and the action, a
//! redelivery is answered "already received" and the person repeats the command.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use warroom_commands::{IncidentId, PersonId};

use crate::engine::Engine;

/// Slack and Discord wait 3 s for the first answer; answer within this and finish later.
pub const ACK_WITHIN: Duration = Duration::from_millis(2500);

pub const ALREADY: &str = "already received; handled once";

/// What a person did, decoded from a platform's payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A command in warroom's grammar (`quarantine pod payments/api --reason …`).
    Command(String),
    /// Approve or Deny on an approval card.
    Decision {
        incident: IncidentId,
        request: String,
        approve: bool,
    },
    /// The Acknowledge button of a page.
    Ack(IncidentId),
}

/// One delivery from a chat platform, verified and decoded.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// `slack`, `discord`.
    pub platform: &'static str,
    /// The platform's user id.
    pub account: String,
    /// What makes two deliveries the same one (the platform's trigger or interaction id),
    /// prefixed with the platform and kind: `slack:command:…`, `discord:interaction:…`.
    pub key: String,
    pub action: Action,
    /// The platform channel it came from, to find the incident it belongs to.
    pub channel: Option<String>,
}

/// How a platform answers once the first answer was sent (Slack's `response_url`, a
/// Discord interaction's webhook).
#[async_trait]
pub trait FollowUp: Send + Sync + 'static {
    async fn follow_up(&self, text: &str);
}

/// How a claim on a delivery key came out.
pub enum Claim {
    First,
    Again,
    /// The ledger could not record the claim: do nothing, say so.
    Failed(String),
}

/// The one path every platform's deliveries take.
#[derive(Clone)]
pub struct InboundPath {
    pub engine: Arc<Engine>,
}

impl InboundPath {
    pub fn new(engine: Arc<Engine>) -> Self {
        InboundPath { engine }
    }

    /// The person of the plan who holds `account` on `platform`.
    pub fn person(&self, platform: &str, account: &str) -> Option<PersonId> {
        self.engine
            .plan
            .plan
            .people
            .iter()
            .find(|p| {
                let id = match platform {
                    "slack" => p.slack.as_deref(),
                    "discord" => p.discord.as_deref(),
                    _ => None,
                };
                id == Some(account)
            })
            .map(|p| p.id.clone())
    }

    pub async fn claim(&self, key: &str) -> Claim {
        match self.engine.ledger.claim(key).await {
            Ok(true) => Claim::First,
            Ok(false) => {
                tracing::info!(key, "delivery already handled; not acted on again");
                Claim::Again
            }
            Err(e) => Claim::Failed(e.to_string()),
        }
    }

    /// Handle one delivery: identity, claim, then the command within the deadline. Returns
    /// the first answer; `later` gets the outcome of work that outlasts the deadline.
    pub async fn deliver(&self, d: Delivery, later: Option<Box<dyn FollowUp>>) -> String {
        // Authorized as the acting person before anything is consumed.
        let Some(person) = self.person(d.platform, &d.account) else {
            tracing::warn!(platform = d.platform, account = %d.account, "account not in the plan refused");
            return not_in_plan(d.platform, &d.account);
        };
        match self.claim(&d.key).await {
            Claim::First => {}
            Claim::Again => return ALREADY.to_owned(),
            Claim::Failed(why) => return claim_failed(&why),
        }
        let (text, incident) = match d.action {
            Action::Command(text) => {
                let incident = d
                    .channel
                    .as_deref()
                    .and_then(|c| self.engine.incident_of_channel(d.platform, c));
                (text, incident)
            }
            Action::Decision {
                incident,
                request,
                approve,
            } => {
                let verb = if approve { "approve" } else { "deny" };
                (format!("{verb} {request}"), Some(incident))
            }
            Action::Ack(incident) => ("ack".to_owned(), Some(incident)),
        };
        self.run(person, text, incident, later).await
    }

    /// Run `text` as `person`, answering within [`ACK_WITHIN`]; a slow command is answered
    /// "working on it" and its reply goes to `later` when it is done.
    pub async fn run(
        &self,
        person: PersonId,
        text: String,
        incident: Option<IncidentId>,
        later: Option<Box<dyn FollowUp>>,
    ) -> String {
        let engine = self.engine.clone();
        let mut task = tokio::spawn(async move { engine.handle(&person, &text, incident).await });
        match tokio::time::timeout(ACK_WITHIN, &mut task).await {
            Ok(Ok(reply)) => reply.message,
            Ok(Err(e)) => format!("warroom could not finish this ({e}); check the timeline"),
            Err(_) => {
                tokio::spawn(async move {
                    let text = match task.await {
                        Ok(reply) => reply.message,
                        Err(e) => {
                            format!("warroom could not finish this ({e}); check the timeline")
                        }
                    };
                    if let Some(later) = later {
                        later.follow_up(&text).await;
                    }
                });
                "working on it — the outcome will follow here and in the incident's channel".into()
            }
        }
    }
}

/// Why an account that is not a person of the plan gets nothing done, and the fix.
pub fn not_in_plan(platform: &str, account: &str) -> String {
    let (name, what, field) = match platform {
        "discord" => ("Discord", "Discord user id", "people.discord"),
        _ => ("Slack", "Slack member id", "people.slack"),
    };
    format!(
        "{name} user {account} is not a person in warroom's response plan, so warroom does not act for it; ask the plan owner to add your {what} ({field})"
    )
}

fn claim_failed(why: &str) -> String {
    format!("warroom could not record this delivery ({why}); nothing was done — try again")
}
