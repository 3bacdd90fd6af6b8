//! The web console as a chat platform: channels and messages held in memory and pushed to
//! browsers as change notifications.
//!
//! Caveat: messages live in memory (bounded per channel) and are gone after a restart; the
//! durable record is the ledger's timeline, which the console shows beside the channel.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::broadcast;
use warroom_commands::{Clock, IncidentId, PersonId};

use super::{ApprovalCard, ChannelRef, Chat, ChatError, MessageRef};

const PLATFORM: &str = "console";
/// Messages kept per channel; older ones drop off the top.
const KEEP: usize = 1000;

#[derive(Debug, Clone, Serialize)]
pub struct ConsoleMessage {
    pub id: u64,
    pub at: DateTime<Utc>,
    pub author: String,
    pub text: String,
    /// Set on approval cards, so the page can link the card to its request.
    pub request: Option<String>,
    /// Set on replies only one person sees.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub only_for: Option<PersonId>,
}

#[derive(Debug, Default)]
struct Channel {
    incident: Option<IncidentId>,
    name: String,
    topic: String,
    members: Vec<PersonId>,
    messages: VecDeque<ConsoleMessage>,
}

/// Something on the console changed; browsers re-read what they show.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub incident: Option<IncidentId>,
}

pub struct ConsoleChat {
    clock: std::sync::Arc<dyn Clock>,
    next_id: AtomicU64,
    channels: Mutex<BTreeMap<String, Channel>>,
    direct: Mutex<BTreeMap<PersonId, VecDeque<ConsoleMessage>>>,
    changes: broadcast::Sender<Change>,
}

impl ConsoleChat {
    /// `changes` carries every change notification, so the engine can share it.
    pub fn new(clock: std::sync::Arc<dyn Clock>, changes: broadcast::Sender<Change>) -> Self {
        ConsoleChat {
            clock,
            next_id: AtomicU64::new(1),
            channels: Mutex::new(BTreeMap::new()),
            direct: Mutex::new(BTreeMap::new()),
            changes,
        }
    }

    /// Change notifications for live pages.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    /// Tell pages that `incident` changed (the ledger wrote to it).
    pub fn notify(&self, incident: Option<&IncidentId>) {
        // No subscriber is not an error: nobody is looking.
        let _ = self.changes.send(Change {
            incident: incident.cloned(),
        });
    }

    /// The messages of an incident's channel that `viewer` may see.
    pub fn messages(
        &self,
        incident: &IncidentId,
        viewer: Option<&PersonId>,
    ) -> Vec<ConsoleMessage> {
        let channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        channels
            .get(incident.as_str())
            .map(|c| {
                c.messages
                    .iter()
                    .filter(|m| m.only_for.is_none() || m.only_for.as_ref() == viewer)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Direct messages sent to `person` (pages, mostly).
    pub fn direct_messages(&self, person: &PersonId) -> Vec<ConsoleMessage> {
        let direct = self.direct.lock().unwrap_or_else(|p| p.into_inner());
        direct
            .get(person)
            .map(|m| m.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Channel name, topic and members, for the page header.
    pub fn channel_info(&self, incident: &IncidentId) -> Option<(String, String, Vec<PersonId>)> {
        let channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        channels
            .get(incident.as_str())
            .map(|c| (c.name.clone(), c.topic.clone(), c.members.clone()))
    }

    fn message(
        &self,
        text: &str,
        request: Option<String>,
        only_for: Option<PersonId>,
    ) -> ConsoleMessage {
        ConsoleMessage {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            at: self.clock.now(),
            author: "warroom".into(),
            text: text.to_owned(),
            request,
            only_for,
        }
    }

    fn push(&self, channel: &str, message: ConsoleMessage) -> Result<MessageRef, ChatError> {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        let c = channels
            .get_mut(channel)
            .ok_or_else(|| ChatError::NoChannel {
                platform: PLATFORM,
                channel: channel.to_owned(),
            })?;
        let id = message.id.to_string();
        c.messages.push_back(message);
        while c.messages.len() > KEEP {
            c.messages.pop_front();
        }
        let incident = c.incident.clone();
        drop(channels);
        self.notify(incident.as_ref());
        Ok(MessageRef {
            platform: PLATFORM,
            channel: channel.to_owned(),
            id,
        })
    }

    fn edit(&self, message: &MessageRef, text: &str) -> Result<(), ChatError> {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        let c = channels
            .get_mut(&message.channel)
            .ok_or_else(|| ChatError::NoChannel {
                platform: PLATFORM,
                channel: message.channel.clone(),
            })?;
        let m = c
            .messages
            .iter_mut()
            .find(|m| m.id.to_string() == message.id)
            .ok_or_else(|| ChatError::NoMessage {
                platform: PLATFORM,
                message: message.id.clone(),
            })?;
        m.text = text.to_owned();
        let incident = c.incident.clone();
        drop(channels);
        self.notify(incident.as_ref());
        Ok(())
    }
}

#[async_trait]
impl Chat for ConsoleChat {
    fn platform(&self) -> &'static str {
        PLATFORM
    }

    async fn ensure_channel(
        &self,
        incident: &IncidentId,
        name: &str,
        topic: &str,
    ) -> Result<ChannelRef, ChatError> {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        let c = channels.entry(incident.to_string()).or_default();
        c.incident = Some(incident.clone());
        c.name = name.to_owned();
        c.topic = topic.to_owned();
        Ok(ChannelRef {
            platform: PLATFORM,
            id: incident.to_string(),
            name: name.to_owned(),
        })
    }

    async fn invite(&self, channel: &ChannelRef, people: &[PersonId]) -> Result<(), ChatError> {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        let c = channels
            .get_mut(&channel.id)
            .ok_or_else(|| ChatError::NoChannel {
                platform: PLATFORM,
                channel: channel.id.clone(),
            })?;
        for p in people {
            if !c.members.contains(p) {
                c.members.push(p.clone());
            }
        }
        Ok(())
    }

    async fn post(&self, channel: &ChannelRef, text: &str) -> Result<MessageRef, ChatError> {
        self.push(&channel.id, self.message(text, None, None))
    }

    async fn update(&self, message: &MessageRef, text: &str) -> Result<(), ChatError> {
        self.edit(message, text)
    }

    async fn direct_message(&self, person: &PersonId, text: &str) -> Result<(), ChatError> {
        let m = self.message(text, None, Some(person.clone()));
        let mut direct = self.direct.lock().unwrap_or_else(|p| p.into_inner());
        let list = direct.entry(person.clone()).or_default();
        list.push_back(m);
        while list.len() > KEEP {
            list.pop_front();
        }
        drop(direct);
        self.notify(None);
        Ok(())
    }

    async fn ephemeral(
        &self,
        channel: &ChannelRef,
        person: &PersonId,
        text: &str,
    ) -> Result<(), ChatError> {
        self.push(&channel.id, self.message(text, None, Some(person.clone())))
            .map(|_| ())
    }

    async fn approval_card(
        &self,
        channel: &ChannelRef,
        card: &ApprovalCard,
    ) -> Result<MessageRef, ChatError> {
        self.push(
            &channel.id,
            self.message(&card.text(), Some(card.request.clone()), None),
        )
    }

    async fn update_card(
        &self,
        message: &MessageRef,
        card: &ApprovalCard,
    ) -> Result<(), ChatError> {
        self.edit(message, &card.text())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use warroom_commands::ManualClock;

    use super::*;

    #[tokio::test]
    async fn cards_are_updated_in_place_and_ephemeral_replies_stay_private() {
        let clock = Arc::new(ManualClock::new("2026-11-27T02:00:00Z".parse().unwrap()));
        let chat = ConsoleChat::new(clock, broadcast::channel(16).0);
        let mut changes = chat.subscribe();
        let id: IncidentId = "INC-20261127-0001".parse().unwrap();
        let ch = chat
            .ensure_channel(&id, "inc-20261127-shell", "Shell")
            .await
            .unwrap();
        let mut card = ApprovalCard {
            incident: id.clone(),
            request: "R1".into(),
            title: "quarantine pod payments/api-7f9c".into(),
            lines: vec!["asked by alice".into()],
            status: "pending".into(),
            open: true,
            deciders: vec!["bob".into()],
        };
        let msg = chat.approval_card(&ch, &card).await.unwrap();
        assert!(changes.try_recv().is_ok());
        card.status = "approved by bob".into();
        card.open = false;
        chat.update_card(&msg, &card).await.unwrap();
        chat.ephemeral(&ch, &"alice".into(), "only you")
            .await
            .unwrap();
        let for_bob = chat.messages(&id, Some(&"bob".into()));
        assert_eq!(for_bob.len(), 1);
        assert!(
            for_bob[0].text.contains("approved by bob") && !for_bob[0].text.contains("[Approve]")
        );
        assert_eq!(chat.messages(&id, Some(&"alice".into())).len(), 2);
    }
}
