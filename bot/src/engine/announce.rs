//! Posting to every chat platform: channels, messages, approval cards.
//!
//! Chat is best effort after the ledger: the decision is already durable, so a platform that
//! fails is logged and the next post tries again; nothing is rolled back.

use std::sync::Arc;

use warroom_adapters::chat::{ApprovalCard, ChannelRef, MessageRef};
use warroom_commands::{Actor, Event, Incident, PersonId};
use warroom_config::ChannelVars;

use super::Engine;

impl Engine {
    /// The incident's channel on each platform: the one the ledger recorded, else created
    /// (or joined) on first use and recorded (`chat.channel`), so a restart finds it again
    /// without asking the platform. The console's channels live in this process only.
    pub(super) async fn channels(&self, incident: &Incident) -> Vec<ChannelRef> {
        if let Some(found) = self
            .channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&incident.id)
        {
            return found.clone();
        }
        let recorded = self
            .ledger
            .incident(&incident.id)
            .map(|r| r.channels)
            .unwrap_or_else(|_| incident.channels.clone());
        let name = self.channel_name(incident);
        let topic = format!(
            "{} ({}) — {}",
            incident.title, incident.severity, incident.id
        );
        let everyone = self.responders(incident);
        let mut found = Vec::new();
        for chat in &self.chats {
            let platform = chat.platform();
            if let Some((id, name)) = recorded.get(platform) {
                // Once per incident and start: a channel recorded before names were made
                // unique may be another incident's too.
                if let Some((other, _, _)) = self
                    .channels_of_others(platform, &incident.id)
                    .iter()
                    .find(|(_, held, _)| held == id)
                {
                    tracing::warn!(platform, channel = %id, incident = %incident.id, other = %other, "a channel two incidents hold: commands there must name their incident");
                    self.mark_shared(platform, id);
                }
                found.push(ChannelRef {
                    platform,
                    id: id.clone(),
                    name: name.clone(),
                });
                continue;
            }
            let naming = self.naming_channels.lock().await;
            match self
                .own_channel(chat.as_ref(), incident, &name, &topic)
                .await
            {
                Ok(ch) => {
                    if let Err(e) = chat.invite(&ch, &everyone).await {
                        tracing::warn!(platform, error = %e, "invite failed");
                    }
                    if platform != "console" {
                        let event = Event::ChatChannel {
                            platform: platform.to_owned(),
                            channel: ch.id.clone(),
                            name: ch.name.clone(),
                        };
                        self.remember(incident, event, "found again by name after a restart")
                            .await;
                    }
                    found.push(ch);
                }
                Err(e) => {
                    tracing::warn!(platform, error = %e, "cannot open the incident channel")
                }
            }
            drop(naming);
        }
        self.channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(incident.id.clone(), found.clone());
        found
    }

    /// A channel for this incident alone. The plan's name for it may already be another
    /// incident's (two alerts with one title on one day, under `inc-{date}-{slug}`): joining
    /// that channel would send commands typed there to whichever incident was found first.
    /// Such a name gets the incident's number (`…-0002`), then its whole id, before the
    /// platform is asked; a channel the platform hands back that another incident holds is
    /// refused rather than shared.
    async fn own_channel(
        &self,
        chat: &dyn warroom_adapters::chat::Chat,
        incident: &Incident,
        name: &str,
        topic: &str,
    ) -> Result<ChannelRef, warroom_adapters::chat::ChatError> {
        let platform = chat.platform();
        let others = self.channels_of_others(platform, &incident.id);
        let id = incident.id.as_str().to_ascii_lowercase();
        let number = id.rsplit('-').next().unwrap_or(&id);
        let taken = |n: &str| others.iter().any(|(_, _, named)| named == n);
        let name = [
            name.to_owned(),
            format!("{name}-{number}"),
            format!("{name}-{id}"),
        ]
        .into_iter()
        .find(|n| !taken(n))
        .ok_or_else(|| warroom_adapters::chat::ChatError::Failed {
            platform,
            message: format!(
                "channel `{name}` and the names made from it belong to other incidents; give `communication.channel_name` an {{id}}"
            ),
        })?;
        let ch = chat.ensure_channel(&incident.id, &name, topic).await?;
        if let Some((other, _, _)) = others.iter().find(|(_, held, _)| *held == ch.id) {
            return Err(warroom_adapters::chat::ChatError::Failed {
                platform,
                message: format!("channel `{}` ({}) is {other}'s; not shared", ch.name, ch.id),
            });
        }
        Ok(ch)
    }

    /// Every channel on `platform` that another incident holds: (incident, id, name).
    fn channels_of_others(
        &self,
        platform: &str,
        except: &warroom_commands::IncidentId,
    ) -> Vec<(warroom_commands::IncidentId, String, String)> {
        let mut held: Vec<_> = self
            .channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(id, _)| *id != except)
            .flat_map(|(id, refs)| {
                refs.iter()
                    .filter(|c| c.platform == platform)
                    .map(|c| (id.clone(), c.id.clone(), c.name.clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
        for i in self.ledger.incidents().unwrap_or_default() {
            if i.id != *except
                && let Some((ch, name)) = i.channels.get(platform)
            {
                held.push((i.id.clone(), ch.clone(), name.clone()));
            }
        }
        held
    }

    /// The incident whose channel on `platform` has this id, if warroom opened it. A channel
    /// two incidents recorded (shared before names were made unique) belongs to neither:
    /// commands typed there must name their incident or request (`approve INC-…-R1`), never
    /// go to whichever incident is found first.
    pub fn incident_of_channel(
        &self,
        platform: &str,
        channel_id: &str,
    ) -> Option<warroom_commands::IncidentId> {
        if self
            .shared_channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&(platform.to_owned(), channel_id.to_owned()))
        {
            return None;
        }
        let cached = self
            .channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|(_, refs)| {
                refs.iter()
                    .any(|c| c.platform == platform && c.id == channel_id)
            })
            .map(|(id, _)| id.clone());
        if cached.is_some() {
            // `channels` looked for another holder when it cached this one.
            return cached;
        }
        // Not used since this start: the channels the ledger recorded.
        let holders: Vec<_> = self
            .ledger
            .incidents()
            .ok()?
            .into_iter()
            .filter(|i| i.channels.get(platform).map(|(id, _)| id.as_str()) == Some(channel_id))
            .map(|i| i.id)
            .collect();
        match holders.as_slice() {
            [one] => Some(one.clone()),
            [] => None,
            several => {
                tracing::warn!(platform, channel = channel_id, incidents = ?several, "a channel several incidents hold: commands there must name their incident");
                self.mark_shared(platform, channel_id);
                None
            }
        }
    }

    fn mark_shared(&self, platform: &str, channel_id: &str) {
        self.shared_channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((platform.to_owned(), channel_id.to_owned()));
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

    /// Record where a message that is edited later was posted (a card under its request id,
    /// the board under `board`), so a restart edits it rather than posting anew. The console
    /// keeps its own messages.
    async fn record_message(&self, incident: &Incident, key: &str, m: &MessageRef) {
        if m.platform == "console" {
            return;
        }
        let event = Event::ChatCard {
            platform: m.platform.to_owned(),
            request: key.to_owned(),
            channel: m.channel.clone(),
            message: m.id.clone(),
        };
        self.remember(incident, event, "a restart posts a new one")
            .await;
    }

    /// Record where something lives on a chat platform; losing it only costs a lookup or a
    /// repost after a restart (`otherwise`), so a failure is logged, not raised.
    async fn remember(&self, incident: &Incident, event: Event, otherwise: &str) {
        let what = event.describe();
        if let Err(e) = self
            .ledger
            .append(&incident.id, &Actor::System, event)
            .await
        {
            tracing::warn!(error = %e, what, "not recorded; {otherwise}");
        }
    }

    /// The pinned "contained now" message: posted and pinned at the first change still in
    /// place, then edited in place after every executed action and on resolve, so the channel
    /// always shows what is contained and how to undo it. Its message ids are recorded like a
    /// card's (under the key `board`), so a restart edits the same message.
    pub(super) async fn refresh_board(&self, incident: &Incident) {
        const KEY: &str = "board";
        let board = warroom_commands::containment::board(incident);
        let text = format!(
            "{} — {}",
            incident.id,
            warroom_commands::containment::board_text(&board)
        );
        if let Some(messages) = self.posted(incident, KEY) {
            for m in messages {
                if let Some(chat) = self.chat(m.platform)
                    && let Err(e) = chat.update(&m, &text).await
                {
                    tracing::warn!(platform = m.platform, error = %e, "board update failed");
                }
            }
            return;
        }
        if board.is_empty() {
            return;
        }
        let mut posted = Vec::new();
        for ch in self.channels(incident).await {
            let Some(chat) = self.chat(ch.platform) else {
                continue;
            };
            match chat.post(&ch, &text).await {
                Ok(m) => {
                    if let Err(e) = chat.pin(&m).await {
                        tracing::warn!(platform = ch.platform, error = %e, "pin failed");
                    }
                    self.record_message(incident, KEY, &m).await;
                    posted.push(m);
                }
                Err(e) => tracing::warn!(platform = ch.platform, error = %e, "post failed"),
            }
        }
        self.remember_posted(incident, KEY, posted);
    }

    /// Where a card (by request id) or the board was posted: this process's memory, else
    /// the ledger's record of it (after a restart).
    fn posted(&self, incident: &Incident, key: &str) -> Option<Vec<MessageRef>> {
        self.cards
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(incident.id.clone(), key.to_owned()))
            .cloned()
            .or_else(|| recorded_cards(&self.ledger, incident, key))
    }

    fn remember_posted(&self, incident: &Incident, key: &str, posted: Vec<MessageRef>) {
        self.cards
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((incident.id.clone(), key.to_owned()), posted);
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
        match self.posted(incident, &card.request) {
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
                            Ok(m) => {
                                self.record_message(incident, &card.request, &m).await;
                                posted.push(m)
                            }
                            Err(e) => {
                                tracing::warn!(platform = ch.platform, error = %e, "card post failed")
                            }
                        }
                    }
                }
                self.remember_posted(incident, &card.request, posted);
            }
        }
    }

    pub(super) fn chat(&self, platform: &str) -> Option<&Arc<dyn warroom_adapters::chat::Chat>> {
        self.chats.iter().find(|c| c.platform() == platform)
    }
}

/// The cards the ledger recorded for a request (after a restart), as messages to edit.
fn recorded_cards(
    ledger: &warroom_ledger::Ledger,
    incident: &Incident,
    request: &str,
) -> Option<Vec<MessageRef>> {
    let record = ledger.incident(&incident.id).ok()?;
    let cards = record.cards.get(request)?;
    Some(
        cards
            .iter()
            .filter_map(|(platform, (channel, message))| {
                let platform = match platform.as_str() {
                    "slack" => "slack",
                    "discord" => "discord",
                    _ => return None,
                };
                Some(MessageRef {
                    platform,
                    channel: channel.clone(),
                    id: message.clone(),
                })
            })
            .collect(),
    )
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

impl Engine {
    /// Post in an incident's channels by its id (a follow-up whose interaction expired).
    pub async fn post_to(&self, id: &warroom_commands::IncidentId, text: &str) {
        if let Ok(incident) = self.ledger.incident(id) {
            self.post(&incident, text).await;
        }
    }

    /// Pods (`NS/NAME`) or nodes of the plan's first cluster, for autocomplete; nothing when
    /// it does not answer within 2 s.
    pub async fn known_targets(&self, pods: bool) -> Vec<String> {
        let Some(cluster) = self.plan.plan.clusters.first() else {
            return Vec::new();
        };
        match tokio::time::timeout(
            std::time::Duration::from_secs(2),
            self.cluster.names(&cluster.name, pods),
        )
        .await
        {
            Ok(Ok(names)) => names,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "no names to suggest");
                Vec::new()
            }
            Err(_) => Vec::new(),
        }
    }
}

impl Engine {
    /// Who an incident's channel is for: the people whose plan roles may request, approve or
    /// break glass on any action, or who are commanders, and whoever holds a role in this
    /// incident. Observers and stakeholders follow the stakeholder channel instead.
    pub(super) fn responders(&self, incident: &Incident) -> Vec<PersonId> {
        let plan = &self.plan.plan;
        let acting: Vec<warroom_config::RoleId> = plan
            .actions
            .values()
            .flat_map(|a| a.request.iter().chain(&a.approve).chain(&a.break_glass))
            .cloned()
            .chain(std::iter::once("commander".into()))
            .collect();
        plan.people
            .iter()
            .filter(|p| p.has_any_role(&acting) || incident.roles.values().any(|r| *r == p.id))
            .map(|p| p.id.clone())
            .collect()
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
