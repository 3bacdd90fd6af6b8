//! What warroom does with a verified Slack delivery: map the Slack user to a person of the
//! plan, drop redeliveries, run the command in the engine and answer within Slack's window.
//!
//! Guarantees: a delivery (slash command trigger id, click trigger id, event id) has at most
//! one effect, across retries, restarts and `kill -9`: its key is claimed in the ledger
//! before anything is done. A Slack account that is not a person of the plan is refused,
//! saying why, and nothing is recorded. The answer comes within 2.5 s; slower work finishes in
//! the background and its outcome goes to the `response_url` (and the incident's channel).
//! Caveat: at most once — if warroom dies between the claim and the action, Slack's
//! redelivery is answered "already received" and the person must repeat the command.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use warroom_adapters::chat::slack::SlackChat;
use warroom_adapters::chat::slack::buttons::{Decision, ack_click, approval_click};
use warroom_adapters::chat::slack::inbound::{Answer, Inbound};
use warroom_adapters::chat::slack::payloads::{EventCallback, Interaction, SlashCommand};
use warroom_commands::{IncidentId, PersonId};

use crate::engine::Engine;

/// Slack waits 3 s for the acknowledgement; answer within this and finish later.
const ACK_WITHIN: Duration = Duration::from_millis(2500);

pub struct SlackInbound {
    pub engine: Arc<Engine>,
    pub chat: Arc<SlackChat>,
    /// Set in http mode: each request's signature is checked with it.
    pub signing_secret: Option<String>,
}

/// How a claim on a delivery key came out.
pub(super) enum Claim {
    First,
    Again,
    /// The ledger could not record the claim: do nothing, say so.
    Failed(String),
}

impl SlackInbound {
    pub fn new(engine: Arc<Engine>, chat: Arc<SlackChat>, signing_secret: Option<String>) -> Self {
        SlackInbound {
            engine,
            chat,
            signing_secret,
        }
    }

    pub(super) async fn claim(&self, key: String) -> Claim {
        match self.engine.ledger.claim(&key).await {
            Ok(true) => Claim::First,
            Ok(false) => {
                tracing::info!(key, "Slack delivery already handled; not acted on again");
                Claim::Again
            }
            Err(e) => Claim::Failed(e.to_string()),
        }
    }

    pub(super) fn person(&self, user_id: &str) -> Option<PersonId> {
        self.chat.person(user_id).cloned()
    }

    /// Run `text` as `person`, answering within Slack's window; a slow command is answered
    /// "working on it" and its reply goes to `response_url` when it is done.
    pub(super) async fn run(
        &self,
        person: PersonId,
        text: String,
        incident: Option<IncidentId>,
        response_url: Option<String>,
    ) -> Answer {
        let engine = self.engine.clone();
        let mut task = tokio::spawn(async move { engine.handle(&person, &text, incident).await });
        match tokio::time::timeout(ACK_WITHIN, &mut task).await {
            Ok(Ok(reply)) => Answer::Ephemeral(reply.message),
            Ok(Err(e)) => Answer::Ephemeral(format!(
                "warroom could not finish this ({e}); check the timeline"
            )),
            Err(_) => {
                let chat = self.chat.clone();
                tokio::spawn(async move {
                    let text = match task.await {
                        Ok(reply) => reply.message,
                        Err(e) => {
                            format!("warroom could not finish this ({e}); check the timeline")
                        }
                    };
                    if let Some(url) = response_url
                        && let Err(e) = chat.respond(&url, &text).await
                    {
                        tracing::warn!(error = %e, "cannot answer through response_url");
                    }
                });
                Answer::Ephemeral(
                    "working on it — the outcome will follow here and in the incident's channel"
                        .into(),
                )
            }
        }
    }
}

pub(super) fn not_in_plan_text(user_id: &str) -> String {
    format!(
        "Slack user {user_id} is not a person in warroom's response plan, so warroom does not act for it; ask the plan owner to add your Slack member id (people.slack)"
    )
}

fn not_in_plan(user_id: &str) -> Answer {
    Answer::Ephemeral(not_in_plan_text(user_id))
}

fn claim_failed(why: &str) -> Answer {
    Answer::Ephemeral(format!(
        "warroom could not record this delivery ({why}); nothing was done — try again"
    ))
}

const ALREADY: &str = "already received; handled once";

/// A click on one of warroom's buttons.
enum Click {
    Decision(warroom_adapters::chat::slack::buttons::ApprovalClick),
    Ack(IncidentId),
}

#[async_trait]
impl Inbound for SlackInbound {
    async fn command(&self, cmd: SlashCommand) -> Answer {
        let Some(person) = self.person(&cmd.user_id) else {
            tracing::warn!(user = %cmd.user_id, "Slack user not in the plan refused");
            return not_in_plan(&cmd.user_id);
        };
        match self
            .claim(format!("slack:command:{}", cmd.trigger_id))
            .await
        {
            Claim::First => {}
            Claim::Again => return Answer::Ephemeral(ALREADY.into()),
            Claim::Failed(why) => return claim_failed(&why),
        }
        // `/quarantine pod …` is `quarantine pod …`; `/warroom X` is `X` (help when empty).
        let verb = cmd.command.trim_start_matches('/');
        let text = match (verb, cmd.text.trim()) {
            ("warroom", "") => "help".to_owned(),
            ("warroom", rest) => rest.to_owned(),
            (verb, rest) => format!("{verb} {rest}"),
        };
        let incident = self.engine.incident_of_channel("slack", &cmd.channel_id);
        self.run(person, text, incident, Some(cmd.response_url))
            .await
    }

    async fn interaction(&self, interaction: Interaction) -> Answer {
        let Interaction::BlockActions(actions) = interaction else {
            return Answer::Nothing;
        };
        let click = match (approval_click(&actions.action), ack_click(&actions.action)) {
            (Ok(Some(c)), _) => Click::Decision(c),
            (_, Ok(Some(incident))) => Click::Ack(incident),
            (Ok(None), Ok(None)) => return Answer::Nothing,
            (Err(e), _) | (_, Err(e)) => {
                return Answer::Ephemeral(format!("this button is not warroom's: {e}"));
            }
        };
        // Authorized as the clicking person before anything is consumed.
        let Some(person) = self.person(&actions.user_id) else {
            tracing::warn!(user = %actions.user_id, "click by a Slack user not in the plan refused");
            return not_in_plan(&actions.user_id);
        };
        // A redelivery carries the same trigger id; a second click by the same person is a
        // new trigger, refused by the two-person rule (one person counts once).
        match self
            .claim(format!("slack:click:{}", actions.trigger_id))
            .await
        {
            Claim::First => {}
            Claim::Again => return Answer::Ephemeral(ALREADY.into()),
            Claim::Failed(why) => return claim_failed(&why),
        }
        let (text, incident) = match click {
            Click::Decision(c) => match c.decision {
                Decision::Approve => (format!("approve {}", c.request), c.incident),
                Decision::Deny => (format!("deny {}", c.request), c.incident),
            },
            Click::Ack(incident) => ("ack".to_owned(), incident),
        };
        self.run(person, text, Some(incident), actions.response_url)
            .await
    }

    async fn event(&self, callback: EventCallback) {
        match self
            .claim(format!("slack:event:{}", callback.event_id))
            .await
        {
            Claim::First => {}
            Claim::Again => return,
            Claim::Failed(why) => {
                tracing::warn!(event = %callback.event_id, error = %why, "Slack event not handled: cannot record it");
                return;
            }
        }
        let this = SlackInbound {
            engine: self.engine.clone(),
            chat: self.chat.clone(),
            signing_secret: None,
        };
        // Acknowledge now; fetching the message and writing the timeline happen after.
        tokio::spawn(async move { this.act_on(callback.event).await });
    }
}
