//! Posting to every chat platform: channels, messages, approval cards.
//!
//! Chat is best effort after the ledger: the decision is already durable, so a platform that
//! fails is logged and the next post tries again; nothing is rolled back.

use std::sync::Arc;

use warroom_adapters::chat::{ApprovalCard, ChannelRef};
use warroom_commands::{Incident, PersonId};
use warroom_config::ChannelVars;

use super::Engine;

impl Engine {
    /// The incident's channel on each platform, created (or joined) on first use.
    pub(super) async fn channels(&self, incident: &Incident) -> Vec<ChannelRef> {
        if let Some(found) = self
            .channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&incident.id)
        {
            return found.clone();
        }
        let name = self.channel_name(incident);
        let topic = format!(
            "{} ({}) — {}",
            incident.title, incident.severity, incident.id
        );
        let everyone: Vec<PersonId> = self.plan.plan.people.iter().map(|p| p.id.clone()).collect();
        let mut found = Vec::new();
        for chat in &self.chats {
            match chat.ensure_channel(&incident.id, &name, &topic).await {
                Ok(ch) => {
                    if let Err(e) = chat.invite(&ch, &everyone).await {
                        tracing::warn!(platform = chat.platform(), error = %e, "invite failed");
                    }
                    found.push(ch);
                }
                Err(e) => {
                    tracing::warn!(platform = chat.platform(), error = %e, "cannot open the incident channel")
                }
            }
        }
        self.channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(incident.id.clone(), found.clone());
        found
    }

    /// The incident whose channel on `platform` has this id, if warroom opened it.
    pub fn incident_of_channel(
        &self,
        platform: &str,
        channel_id: &str,
    ) -> Option<warroom_commands::IncidentId> {
        let channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        channels
            .iter()
            .find(|(_, refs)| {
                refs.iter()
                    .any(|c| c.platform == platform && c.id == channel_id)
            })
            .map(|(id, _)| id.clone())
    }

    pub(super) fn channel_name(&self, incident: &Incident) -> String {
        let date = incident.opened_at.format("%Y%m%d").to_string();
        let slug = slug(&incident.title);
        let severity = incident.severity.to_string();
        self.plan
            .plan
            .communication
            .channel_name
            .render(ChannelVars {
                date: &date,
                slug: &slug,
                id: &incident.id.as_str().to_ascii_lowercase(),
                severity: &severity,
            })
    }

    pub(super) async fn post(&self, incident: &Incident, text: &str) {
        for ch in self.channels(incident).await {
            if let Some(chat) = self.chat(ch.platform)
                && let Err(e) = chat.post(&ch, text).await
            {
                tracing::warn!(platform = ch.platform, error = %e, "post failed");
            }
        }
    }

    /// Post, returning where each platform put the message (to edit it later).
    pub(super) async fn post_refs(
        &self,
        incident: &Incident,
        text: &str,
    ) -> Vec<warroom_adapters::chat::MessageRef> {
        let mut posted = Vec::new();
        for ch in self.channels(incident).await {
            if let Some(chat) = self.chat(ch.platform) {
                match chat.post(&ch, text).await {
                    Ok(m) => posted.push(m),
                    Err(e) => tracing::warn!(platform = ch.platform, error = %e, "post failed"),
                }
            }
        }
        posted
    }

    /// Post and pin (the incident summary, so it stays at hand in the channel).
    pub(super) async fn post_pinned(&self, incident: &Incident, text: &str) {
        for ch in self.channels(incident).await {
            let Some(chat) = self.chat(ch.platform) else {
                continue;
            };
            match chat.post(&ch, text).await {
                Ok(m) => {
                    if let Err(e) = chat.pin(&m).await {
                        tracing::warn!(platform = ch.platform, error = %e, "pin failed");
                    }
                }
                Err(e) => tracing::warn!(platform = ch.platform, error = %e, "post failed"),
            }
        }
    }

    /// After a restart, find the channels of open incidents again, so commands typed in them
    /// belong to their incident. In the background: chat platforms may be slow.
    pub fn rejoin_channels(self: &Arc<Self>) {
        let engine = self.clone();
        tokio::spawn(async move {
            let open = match engine.ledger.incidents() {
                Ok(all) => all,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot list incidents to rejoin their channels");
                    return;
                }
            };
            for incident in open
                .iter()
                .filter(|i| i.status != warroom_commands::IncidentStatus::Resolved)
            {
                engine.channels(incident).await;
            }
        });
    }

    /// Post the card, or update it in place where it was posted before.
    pub(super) async fn show_card(&self, incident: &Incident, card: &ApprovalCard) {
        let key = (incident.id.clone(), card.request.clone());
        let existing = self
            .cards
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        match existing {
            Some(messages) => {
                for m in messages {
                    if let Some(chat) = self.chat(m.platform)
                        && let Err(e) = chat.update_card(&m, card).await
                    {
                        tracing::warn!(platform = m.platform, error = %e, "card update failed");
                    }
                }
            }
            None => {
                let mut posted = Vec::new();
                for ch in self.channels(incident).await {
                    if let Some(chat) = self.chat(ch.platform) {
                        match chat.approval_card(&ch, card).await {
                            Ok(m) => posted.push(m),
                            Err(e) => {
                                tracing::warn!(platform = ch.platform, error = %e, "card post failed")
                            }
                        }
                    }
                }
                self.cards
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key, posted);
            }
        }
    }

    pub(super) fn chat(&self, platform: &str) -> Option<&Arc<dyn warroom_adapters::chat::Chat>> {
        self.chats.iter().find(|c| c.platform() == platform)
    }
}

/// `Shell in payments-api!` → `shell-in-payments-api`, at most 40 characters.
pub fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.len() >= 40 {
            break;
        }
    }
    let trimmed = out.trim_end_matches('-');
    if trimmed.is_empty() {
        "incident".to_owned()
    } else {
        trimmed.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::slug;

    #[test]
    fn slugs_are_channel_safe() {
        assert_eq!(slug("Shell in payments-api!"), "shell-in-payments-api");
        assert_eq!(slug("  ***  "), "incident");
        assert_eq!(slug("Ünïcode ßtuff"), "n-code-tuff");
        assert!(slug(&"a".repeat(100)).len() <= 40);
    }
}
