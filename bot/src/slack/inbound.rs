//! Slack's side of the one inbound path: decode a verified slash command or button click into
//! a [`Delivery`] and render the answer; identity, claims and the deadline are
//! [`InboundPath`]'s. Events (📌, mentions) are Slack's own and live in `events`.

use std::sync::Arc;

use async_trait::async_trait;
use warroom_adapters::chat::slack::SlackChat;
use warroom_adapters::chat::slack::buttons::{Decision, ack_click, approval_click};
use warroom_adapters::chat::slack::inbound::{Answer, Inbound};
use warroom_adapters::chat::slack::payloads::{EventCallback, Interaction, SlashCommand};
use warroom_commands::PersonId;

use crate::engine::Engine;
use crate::inbound::{Action, Claim, Delivery, FollowUp, InboundPath};

pub struct SlackInbound {
    pub path: InboundPath,
    pub engine: Arc<Engine>,
    pub chat: Arc<SlackChat>,
    /// Set in http mode: each request's signature is checked with it.
    pub signing_secret: Option<String>,
}

/// Slack's follow-up: the `response_url` of the command or click.
struct ResponseUrl {
    chat: Arc<SlackChat>,
    url: String,
}

#[async_trait]
impl FollowUp for ResponseUrl {
    async fn follow_up(&self, text: &str) {
        if let Err(e) = self.chat.respond(&self.url, text).await {
            tracing::warn!(error = %e, "cannot answer through response_url");
        }
    }
}

impl SlackInbound {
    pub fn new(engine: Arc<Engine>, chat: Arc<SlackChat>, signing_secret: Option<String>) -> Self {
        SlackInbound {
            path: InboundPath::new(engine.clone()),
            engine,
            chat,
            signing_secret,
        }
    }

    pub(super) fn person(&self, user_id: &str) -> Option<PersonId> {
        self.path.person("slack", user_id)
    }

    fn later(&self, url: Option<String>) -> Option<Box<dyn FollowUp>> {
        url.map(|url| {
            Box::new(ResponseUrl {
                chat: self.chat.clone(),
                url,
            }) as Box<dyn FollowUp>
        })
    }

    async fn deliver(&self, d: Delivery, response_url: Option<String>) -> Answer {
        Answer::Ephemeral(self.path.deliver(d, self.later(response_url)).await)
    }
}

#[async_trait]
impl Inbound for SlackInbound {
    async fn command(&self, cmd: SlashCommand) -> Answer {
        // `/quarantine pod …` is `quarantine pod …`; `/warroom X` is `X` (help when empty).
        let verb = cmd.command.trim_start_matches('/');
        let text = match (verb, cmd.text.trim()) {
            ("warroom", "") => "help".to_owned(),
            ("warroom", rest) => rest.to_owned(),
            (verb, rest) => format!("{verb} {rest}"),
        };
        let d = Delivery {
            platform: "slack",
            account: cmd.user_id,
            key: format!("slack:command:{}", cmd.trigger_id),
            action: Action::Command(text),
            channel: Some(cmd.channel_id),
        };
        self.deliver(d, Some(cmd.response_url)).await
    }

    async fn interaction(&self, interaction: Interaction) -> Answer {
        let Interaction::BlockActions(actions) = interaction else {
            return Answer::Nothing;
        };
        let action = match (approval_click(&actions.action), ack_click(&actions.action)) {
            (Ok(Some(c)), _) => Action::Decision {
                incident: c.incident,
                request: c.request,
                approve: c.decision == Decision::Approve,
            },
            (_, Ok(Some(incident))) => Action::Ack(incident),
            (Ok(None), Ok(None)) => return Answer::Nothing,
            (Err(e), _) | (_, Err(e)) => {
                return Answer::Ephemeral(format!("this button is not warroom's: {e}"));
            }
        };
        // A redelivery carries the same trigger id; a second click by the same person is a
        // new trigger, refused by the two-person rule (one person counts once).
        let d = Delivery {
            platform: "slack",
            account: actions.user_id,
            key: format!("slack:click:{}", actions.trigger_id),
            action,
            channel: None,
        };
        self.deliver(d, actions.response_url).await
    }

    async fn event(&self, callback: EventCallback) {
        match self
            .path
            .claim(&format!("slack:event:{}", callback.event_id))
            .await
        {
            Claim::First => {}
            Claim::Again => return,
            Claim::Failed(why) => {
                tracing::warn!(event = %callback.event_id, error = %why, "Slack event not handled: cannot record it");
                return;
            }
        }
        let this = SlackInbound::new(self.engine.clone(), self.chat.clone(), None);
        // Acknowledge now; fetching the message and writing the timeline happen after.
        tokio::spawn(async move { this.act_on(callback.event).await });
    }
}
