//! Discord's side of the one inbound path: a verified interaction becomes a [`Delivery`]
//! (slash command, button click) or a timeline entry ("Add to timeline"); the answer is the
//! interaction's callback, within Discord's 3 seconds. Over the gateway the same handlers take
//! interactions, 📌 reactions and `@warroom` mentions.
//!
//! Guarantees: as [`InboundPath`]'s — identity first, one effect per interaction id (a
//! replay is answered "already received"), the answer within the deadline. Slower work is
//! answered "working on it" and the outcome replaces that answer through the interaction's
//! token; after the token's 15 minutes it is posted in the incident's channel instead.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::{Value, json};
use warroom_adapters::chat::discord::DiscordChat;
use warroom_adapters::chat::discord::commands::Complete;
use warroom_adapters::chat::discord::discord_chat::{ACK, APPROVE, DENY};
use warroom_adapters::chat::discord::gateway::GatewayEvents;
use warroom_adapters::chat::discord::interaction::{Common, Incoming, TargetMessage};
use warroom_commands::{Event, IncidentId};

use crate::engine::Engine;
use crate::inbound::{Action, Claim, Delivery, FollowUp, InboundPath, not_in_plan};

/// How long Discord keeps an interaction's token valid.
const TOKEN_VALID: Duration = Duration::from_secs(15 * 60);
/// Ephemeral: only the person who acted sees the answer.
const EPHEMERAL: u64 = 64;

pub struct DiscordInbound {
    pub path: InboundPath,
    pub engine: Arc<Engine>,
    pub chat: Arc<DiscordChat>,
    pub guild: String,
}

/// A deferred outcome: replaces the first answer while the token lives, else goes to the
/// incident's channel.
struct Original {
    chat: Arc<DiscordChat>,
    engine: Arc<Engine>,
    token: String,
    incident: Option<IncidentId>,
    since: Instant,
}

#[async_trait]
impl FollowUp for Original {
    async fn follow_up(&self, text: &str) {
        if self.since.elapsed() < TOKEN_VALID
            && self
                .chat
                .rest()
                .edit_original(&self.token, &json!({ "content": text }))
                .await
                .is_ok()
        {
            return;
        }
        match &self.incident {
            Some(i) => self.engine.post_to(i, text).await,
            None => {
                tracing::warn!("a Discord outcome could not be delivered: the interaction expired")
            }
        }
    }
}

fn message(text: &str) -> Value {
    json!({ "type": 4, "data": { "content": text, "flags": EPHEMERAL, "allowed_mentions": { "parse": [] } } })
}

impl DiscordInbound {
    pub fn new(engine: Arc<Engine>, chat: Arc<DiscordChat>, guild: String) -> Self {
        DiscordInbound {
            path: InboundPath::new(engine.clone()),
            engine,
            chat,
            guild,
        }
    }

    /// The interaction callback's body for one verified interaction.
    pub async fn handle(&self, incoming: Incoming) -> Value {
        match incoming {
            Incoming::Ping => json!({ "type": 1 }),
            Incoming::BadCommand(c, why) => {
                tracing::info!(user = %c.user, "Discord command not understood: {why}");
                message(&format!("{why}. `/help` lists warroom's commands."))
            }
            Incoming::Command(c, text) => {
                let key = format!("discord:interaction:{}", c.id);
                let action = Action::Command(text);
                self.deliver(c, key, action).await
            }
            Incoming::Click(c, custom_id) => match click(&custom_id) {
                Ok(action) => {
                    let key = format!("discord:interaction:{}", c.id);
                    self.deliver(c, key, action).await
                }
                Err(why) => message(&why),
            },
            Incoming::AddToTimeline(c, target) => {
                let key = format!("discord:interaction:{}", c.id);
                let (channel, guild) = (c.channel.as_deref(), c.guild.as_deref());
                message(
                    &self
                        .add_to_timeline(&c.user, channel, guild, &key, target)
                        .await,
                )
            }
            Incoming::Autocomplete(c, kind, typed) => self.autocomplete(&c, kind, &typed).await,
        }
    }

    async fn deliver(&self, c: Common, key: String, action: Action) -> Value {
        let incident = match &action {
            Action::Decision { incident, .. } | Action::Ack(incident) => Some(incident.clone()),
            Action::Command(_) => c
                .channel
                .as_deref()
                .and_then(|ch| self.engine.incident_of_channel("discord", ch)),
        };
        let later = Original {
            chat: self.chat.clone(),
            engine: self.engine.clone(),
            token: c.token.clone(),
            incident,
            since: Instant::now(),
        };
        let d = Delivery {
            platform: "discord",
            account: c.user,
            key,
            action,
            channel: c.channel,
        };
        message(&self.path.deliver(d, Some(Box::new(later))).await)
    }

    /// "Add to timeline" on a message: recorded with its own author, time and link; the
    /// person who asked is the actor. `key` makes a redelivery the same request.
    async fn add_to_timeline(
        &self,
        user: &str,
        channel: Option<&str>,
        guild: Option<&str>,
        key: &str,
        target: TargetMessage,
    ) -> String {
        let Some(person) = self.path.person("discord", user) else {
            return not_in_plan("discord", user);
        };
        let Some(channel) = channel else {
            return "this message is not in a channel warroom knows".into();
        };
        let Some(incident) = self.engine.incident_of_channel("discord", channel) else {
            return "this channel is not an incident's: only messages in incident channels go in a timeline".into();
        };
        match self.path.claim(key).await {
            Claim::First => {}
            Claim::Again => return crate::inbound::ALREADY.into(),
            Claim::Failed(why) => {
                return format!(
                    "warroom could not record this ({why}); nothing was done — try again"
                );
            }
        }
        let author = match self.path.person("discord", &target.author) {
            Some(p) => format!("person:{p}"),
            None => format!("discord:{}", target.author),
        };
        let event = Event::MessagePinned {
            platform: "discord".into(),
            channel: channel.to_owned(),
            message: target.id.clone(),
            author,
            posted_at: target.timestamp,
            text: target.content.chars().take(3000).collect(),
            permalink: format!(
                "https://discord.com/channels/{}/{channel}/{}",
                guild.unwrap_or(&self.guild),
                target.id
            ),
        };
        self.engine
            .add_to_timeline(&person, &incident, event)
            .await
            .message
    }

    /// Suggestions while a person types: open request ids of the channel's incident; pods
    /// and nodes of the drill's or the plan's cluster when it answers. Only for people in
    /// the plan: anyone else in the guild would read the cluster's inventory this way.
    async fn autocomplete(&self, c: &Common, kind: Complete, typed: &str) -> Value {
        if self.path.person("discord", &c.user).is_none() {
            tracing::warn!(account = %c.user, "autocomplete from an account not in the plan refused");
            return json!({ "type": 8, "data": { "choices": [] } });
        }
        let incident = c
            .channel
            .as_deref()
            .and_then(|ch| self.engine.incident_of_channel("discord", ch));
        let options: Vec<String> = match kind {
            Complete::Requests => incident
                .and_then(|i| self.engine.ledger.incident(&i).ok())
                .map(|r| {
                    r.requests
                        .iter()
                        .filter(|q| !q.status.is_frozen())
                        .map(|q| q.id().to_owned())
                        .collect()
                })
                .unwrap_or_default(),
            Complete::Pods | Complete::Nodes => {
                self.engine.known_targets(kind == Complete::Pods).await
            }
        };
        let choices: Vec<Value> = options
            .into_iter()
            .filter(|o| o.contains(typed))
            .take(25)
            .map(|o| json!({ "name": o, "value": o }))
            .collect();
        json!({ "type": 8, "data": { "choices": choices } })
    }
}

/// The gateway's events go to the same handlers as HTTP interactions.
#[async_trait]
impl GatewayEvents for DiscordInbound {
    async fn interaction(&self, incoming: Incoming) -> Value {
        self.handle(incoming).await
    }

    /// One 📌 per person and message: a repeated reaction (or a redelivered event) records
    /// nothing more.
    async fn pinned(&self, user: &str, channel: &str, guild: Option<&str>, message: TargetMessage) {
        let key = format!("discord:pin:{channel}:{}:{user}", message.id);
        let outcome = self
            .add_to_timeline(user, Some(channel), guild, &key, message)
            .await;
        tracing::info!(user, channel, outcome, "📌 over the Discord gateway");
    }

    async fn mentioned(&self, user: &str, channel: &str, id: &str, text: &str) -> String {
        let d = Delivery {
            platform: "discord",
            account: user.to_owned(),
            key: format!("discord:message:{id}"),
            action: Action::Command(text.to_owned()),
            channel: Some(channel.to_owned()),
        };
        self.path.deliver(d, None).await
    }
}

/// A button of warroom's, as the action it stands for.
fn click(custom_id: &str) -> Result<Action, String> {
    let not_ours = || format!("this button is not warroom's (`{custom_id}`)");
    let decision = |rest: &str, approve: bool| -> Result<Action, String> {
        let (incident, request) = rest.rsplit_once('/').ok_or_else(not_ours)?;
        Ok(Action::Decision {
            incident: incident.parse().map_err(|_| not_ours())?,
            request: request.to_owned(),
            approve,
        })
    };
    if let Some(rest) = custom_id.strip_prefix(APPROVE) {
        decision(rest, true)
    } else if let Some(rest) = custom_id.strip_prefix(DENY) {
        decision(rest, false)
    } else if let Some(rest) = custom_id.strip_prefix(ACK) {
        let incident = rest.split('#').next().unwrap_or_default();
        Ok(Action::Ack(incident.parse().map_err(|_| not_ours())?))
    } else {
        Err(not_ours())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buttons_are_read_back_and_strangers_refused() {
        assert_eq!(
            click("warroom:approve:INC-20261201-0001/R2").unwrap(),
            Action::Decision {
                incident: "INC-20261201-0001".parse().unwrap(),
                request: "R2".into(),
                approve: true
            }
        );
        assert!(matches!(
            click("warroom:deny:INC-20261201-0001/R2").unwrap(),
            Action::Decision { approve: false, .. }
        ));
        assert_eq!(
            click("warroom:ack:INC-20261201-0001#0011aabb").unwrap(),
            Action::Ack("INC-20261201-0001".parse().unwrap())
        );
        assert!(click("click_one").unwrap_err().contains("not warroom's"));
        assert!(click("warroom:approve:nonsense").is_err());
    }
}
