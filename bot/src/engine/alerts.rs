//! From alert to incident: the plan's rules decide, the ledger dedupes by fingerprint, the
//! channel hears about it once (repeats edit one message), and the rule's policy is paged.
//!
//! Guarantees: one open incident per fingerprint (decided by the ledger's writer, durable with
//! the opening entry); an alert no rule meets is counted and kept in a bounded list, never
//! paged; a repeat writes nothing durable and edits the alert's message at most every
//! [`EDIT_EVERY`]. Caveat: repeat counts live in memory (the first delivery and the resolve
//! are in the timeline).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use warroom_adapters::chat::MessageRef;
use warroom_commands::alert::{Alert, AlertStatus, Verdict, evaluate};
use warroom_commands::outbox::SendKind;
use warroom_commands::{Actor, Event, Incident, IncidentId, IncidentStatus};
use warroom_ledger::{AlertIncident, LedgerError};

use super::Engine;

/// Least time between two edits of an alert's message during a storm.
pub const EDIT_EVERY: Duration = Duration::from_secs(2);
/// Alerts no rule met, kept for `GET /api/v1/alerts/unmatched`.
const KEEP_UNMATCHED: usize = 200;

/// What happened to one alert, as the intake answers it.
#[derive(Debug, Clone, Serialize)]
pub struct AlertOutcome {
    pub fingerprint: String,
    /// `opened`, `repeat`, `resolved`, `not_actionable`, `acknowledged`, `ignored`.
    pub result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Whether the rule's policy was paged for this alert.
    pub paged: bool,
}

/// The in-memory side of alert intake.
#[derive(Default)]
pub struct AlertBook {
    /// Fingerprint → its open incident, to skip the ledger for repeats.
    open: HashMap<String, IncidentId>,
    repeats: HashMap<IncidentId, Repeats>,
    unmatched: VecDeque<Alert>,
    /// Alert keys whose end was recorded since they last fired (a redelivered end is not
    /// recorded twice).
    ended: std::collections::HashSet<String>,
    /// Alert keys whose acknowledgement at the source was recorded, and for which incident
    /// (a fingerprint opens a new incident after its last one was resolved).
    acknowledged: HashMap<String, IncidentId>,
    pub counts: AlertCounts,
}

#[derive(Default, Clone, Copy, Serialize)]
pub struct AlertCounts {
    pub received: u64,
    pub opened: u64,
    pub repeats: u64,
    pub resolved: u64,
    pub not_actionable: u64,
}

struct Repeats {
    count: u64,
    title: String,
    messages: Vec<MessageRef>,
    last_edit: Instant,
    edit_pending: bool,
}

impl Engine {
    /// Handle one alert from `sender`.
    pub async fn alert(
        self: &Arc<Self>,
        alert: Alert,
        sender: Option<IpAddr>,
    ) -> Result<AlertOutcome, LedgerError> {
        let key = format!("{}:{}", intake_name(&alert), alert.fingerprint);
        self.alert_book().counts.received += 1;
        // An end or an acknowledgement belongs to the incident its fingerprint opened,
        // whatever the rules say now (an Events API acknowledge carries no fields to match).
        match alert.status {
            AlertStatus::Resolved => return self.alert_resolved(key, sender).await,
            AlertStatus::Acknowledged => return self.alert_acknowledged(key, sender).await,
            AlertStatus::Firing => {}
        }
        let plan = self.plan.clone();
        let (rule, page_now) = match evaluate(&plan.plan, &alert, sender, self.clock.now()) {
            Verdict::Actionable { rule, page_now } => (rule, page_now),
            Verdict::NotActionable => {
                let mut book = self.alert_book();
                book.counts.not_actionable += 1;
                if book.unmatched.len() >= KEEP_UNMATCHED {
                    book.unmatched.pop_front();
                }
                book.unmatched.push_back(alert);
                return Ok(outcome(key, "not_actionable", None, None, false));
            }
        };
        let cached = {
            let mut book = self.alert_book();
            book.ended.remove(&key);
            book.open.get(&key).cloned()
        };
        if let Some(id) = cached {
            self.repeat(&id, &alert, &rule.name).await;
            return Ok(outcome(
                key,
                "repeat",
                Some(id.to_string()),
                Some(rule.name.clone()),
                false,
            ));
        }
        // The title names the channel: an alert without one is named after its rule.
        let title: String = match alert.title.trim() {
            "" => rule.name.clone(),
            t => t.chars().take(120).collect(),
        };
        let opened = self
            .ledger
            .open_for_alert(&title, rule.severity, &Actor::System, &key, &rule.name)
            .await?;
        match opened {
            AlertIncident::Existing(incident) => {
                self.alert_book()
                    .open
                    .insert(key.clone(), incident.id.clone());
                // The sender repeats an alert whose incident was opened and never paged:
                // warroom died between the two writes, before it answered. Page now.
                if let (Some(policy), true, None) =
                    (&rule.page, page_now, incident.escalation.as_ref())
                    && !self.paged_before(&incident.id)
                {
                    let incident = self.record_alert(&incident, &alert, &rule.name, &key).await;
                    let paged = self.page_policy(&incident, policy, 0, 0).await;
                    return Ok(outcome(
                        key,
                        "opened",
                        Some(incident.id.to_string()),
                        Some(rule.name.clone()),
                        paged,
                    ));
                }
                self.repeat(&incident.id, &alert, &rule.name).await;
                // It ended at its source and fires again while nobody acknowledged: paging
                // starts a new round.
                if let (Some(policy), true, Some(e)) =
                    (&rule.page, page_now, incident.escalation.as_ref())
                    && e.stopped
                    && e.ended_at_source
                {
                    // A new round: its sender's next acknowledgement stops it, not a repeat.
                    self.alert_book().acknowledged.remove(&key);
                    // The new round's alert is in the timeline before its pages.
                    let incident = self.record_alert(&incident, &alert, &rule.name, &key).await;
                    let paged = self
                        .page_policy(&incident, policy, 0, e.step.round + 1)
                        .await;
                    return Ok(outcome(
                        key,
                        "refired",
                        Some(incident.id.to_string()),
                        Some(rule.name.clone()),
                        paged,
                    ));
                }
                Ok(outcome(
                    key,
                    "repeat",
                    Some(incident.id.to_string()),
                    Some(rule.name.clone()),
                    false,
                ))
            }
            AlertIncident::Opened(committed) => {
                let incident = committed.incident;
                (self.notify)(Some(&incident.id));
                {
                    let mut book = self.alert_book();
                    book.counts.opened += 1;
                    book.open.insert(key.clone(), incident.id.clone());
                }
                let incident = self.record_alert(&incident, &alert, &rule.name, &key).await;
                self.announce_alert(&incident, &alert, &rule.name).await;
                if let Some(channel) = &rule.channel {
                    self.announce_opened_in(channel, &incident).await;
                }
                let paged = match (&rule.page, page_now) {
                    (Some(policy), true) => {
                        let paged = self.page_policy(&incident, policy, 0, 0).await;
                        if !paged {
                            // The page was not recorded (the ledger refused the write): the
                            // answer says so, and a repeat of the alert goes back to the
                            // ledger, which pages an incident opened and never paged.
                            self.alert_book().open.remove(&key);
                        }
                        paged
                    }
                    _ => false,
                };
                if !rule.propose.is_empty() {
                    let lines = self.propose(&incident, rule, &alert).await;
                    self.post(
                        &incident,
                        &format!(
                            "Proposed for this alert (warroom asks; two people decide):\n• {}",
                            lines.join("\n• ")
                        ),
                    )
                    .await;
                }
                Ok(outcome(
                    key,
                    "opened",
                    Some(incident.id.to_string()),
                    Some(rule.name.clone()),
                    paged,
                ))
            }
        }
    }

    /// Whether anything was ever paged for `incident` (by a policy or by hand).
    fn paged_before(&self, incident: &IncidentId) -> bool {
        self.ledger
            .timeline(incident)
            .map(|t| t.iter().any(|e| e.kind == "page.sent"))
            .unwrap_or(true)
    }

    /// After a restart: an incident an alert opened whose first page was never recorded
    /// (warroom died between recording the alert and paging) is paged now, as the alert's
    /// rule says (the rule is in its opening entry) — unless the rule no longer pages at this
    /// hour, someone paged by hand, or the alert was acknowledged or ended at its source.
    /// Returns how many were paged.
    pub async fn page_unpaged_alerts(self: &Arc<Self>) -> usize {
        // The incidents `recover` found, read again: its own writes may have changed them
        // since (none of them makes an incident match, so none is missed). Without
        // `recover` first, every record is read.
        let found = self
            .unpaged_at_start
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let all = match found {
            Some(ids) => ids
                .iter()
                .filter_map(|id| self.ledger.incident(id).ok())
                .collect(),
            None => match self.ledger.incidents() {
                Ok(all) => all,
                Err(_) => return 0,
            },
        };
        let now = self.clock.now();
        let mut paged = 0;
        for incident in all.into_iter().filter(may_be_unpaged_alert) {
            let Ok(entries) = self.ledger.timeline(&incident.id) else {
                continue;
            };
            // Paged by hand, or the alert was acknowledged or ended at its source.
            if entries.iter().any(|e| {
                matches!(
                    e.kind.as_str(),
                    "page.sent" | "alert.acknowledged" | "alert.resolved"
                )
            }) {
                continue;
            }
            let Some(rule_name) = rule_of(&entries) else {
                continue;
            };
            let plan = self.plan.clone();
            let Some(rule) = plan.plan.alerts.rules.iter().find(|r| r.name == rule_name) else {
                continue;
            };
            let (Some(policy), true) = (
                &rule.page,
                warroom_commands::alert::pages_now(rule, &plan.plan, now),
            ) else {
                continue;
            };
            tracing::warn!(incident = %incident.id, rule = %rule.name, "alert recorded but never paged before a stop: paging now");
            if self.page_policy(&incident, policy, 0, 0).await {
                paged += 1;
            }
        }
        paged
    }

    /// Write the alert's `alert.received`; pages from now on tell this alert.
    async fn record_alert(
        &self,
        incident: &Incident,
        alert: &Alert,
        rule: &str,
        key: &str,
    ) -> Incident {
        let event = Event::AlertReceived {
            intake: intake_name(alert).to_owned(),
            rule: rule.to_owned(),
            fingerprint: key.to_owned(),
            title: alert.title.clone(),
            fields: bounded(&alert.fields),
            annotations: bounded(&alert.annotations),
            started_at: alert.started_at.clone(),
        };
        self.remember_alert(&incident.id, &event);
        match self
            .write(self.ledger.append(&incident.id, &Actor::System, event))
            .await
        {
            Ok(c) => c.incident,
            Err(e) => {
                tracing::error!(incident = %incident.id, error = %e, "alert not recorded in the timeline");
                incident.clone()
            }
        }
    }

    /// Acknowledged at the sender (as PagerDuty takes an Events API `acknowledge`):
    /// recorded, and the escalation stops.
    async fn alert_acknowledged(
        self: &Arc<Self>,
        key: String,
        sender: Option<IpAddr>,
    ) -> Result<AlertOutcome, LedgerError> {
        let incident = match self.stoppable(&key, sender)? {
            Ok(incident) => incident,
            Err(answer) => return Ok(answer),
        };
        // Senders repeat an acknowledgement (retries, a script in a loop): one entry and one
        // post per incident, also for two arriving at once.
        let before = self
            .alert_book()
            .acknowledged
            .insert(key.clone(), incident.id.clone());
        if before.as_ref() == Some(&incident.id) {
            return Ok(repeat_of(key, &incident));
        }
        let event = Event::AlertAcknowledged {
            fingerprint: key.clone(),
        };
        let c = match self
            .write(self.ledger.append(&incident.id, &Actor::System, event))
            .await
        {
            Ok(c) => c,
            Err(e) => {
                // Not recorded: the sender's retry must find it still to do.
                let mut book = self.alert_book();
                if book.acknowledged.get(&key) == Some(&incident.id) {
                    book.acknowledged.remove(&key);
                }
                return Err(e);
            }
        };
        // Also after the escalation ran out; what was followed before is not sent again.
        let by = format!(
            "at its source ({})",
            key.split(':').next().unwrap_or("alert")
        );
        self.follow_up(&incident.id, SendKind::Acknowledged, Some(by), None)
            .await;
        self.post(
            &c.incident,
            &format!(
                "The alert behind {} was acknowledged at its source; paging stopped.",
                c.incident.id
            ),
        )
        .await;
        Ok(outcome(
            key,
            "acknowledged",
            Some(c.incident.id.to_string()),
            None,
            false,
        ))
    }

    async fn alert_resolved(
        self: &Arc<Self>,
        key: String,
        sender: Option<IpAddr>,
    ) -> Result<AlertOutcome, LedgerError> {
        // A sender the rule does not take alerts from is refused before the end is marked,
        // so it cannot make the real sender's end look like a repeat either.
        let incident = match self.stoppable(&key, sender)? {
            Ok(incident) => incident,
            Err(answer) => return Ok(answer),
        };
        // Senders repeat an end (Alertmanager at each group interval, retried batches).
        if !self.alert_book().ended.insert(key.clone()) {
            return Ok(repeat_of(key, &incident));
        }
        let (repeats, was_open) = {
            let mut book = self.alert_book();
            let was_open = book.open.remove(&key);
            (
                book.repeats.get(&incident.id).map(|r| r.count).unwrap_or(0),
                was_open,
            )
        };
        let event = Event::AlertResolved {
            fingerprint: key.clone(),
            repeats,
            after_exhausted: self.ran_out_unanswered(&incident)?,
        };
        let c = match self
            .write(self.ledger.append(&incident.id, &Actor::System, event))
            .await
        {
            Ok(c) => c,
            Err(e) => {
                // Not recorded: the sender's retry must find it still to do, not a repeat.
                let mut book = self.alert_book();
                book.ended.remove(&key);
                if let Some(id) = was_open {
                    book.open.insert(key, id);
                }
                return Err(e);
            }
        };
        self.alert_book().counts.resolved += 1;
        if incident.escalation.is_some() {
            let by = "the alert ended at its source".to_owned();
            self.follow_up(&incident.id, SendKind::Resolved, Some(by), None)
                .await;
        }
        self.post(
            &c.incident,
            &format!(
                "✅ The alert behind {} is resolved at its source (seen {} more time(s)). The incident stays open until someone resolves it.",
                c.incident.id, repeats
            ),
        )
        .await;
        Ok(outcome(
            key,
            "resolved",
            Some(c.incident.id.to_string()),
            None,
            false,
        ))
    }

    /// Whether `incident`'s escalation ran out and nobody acknowledged since: its alert's
    /// end then still marks the escalation, so a refire pages again.
    fn ran_out_unanswered(&self, incident: &Incident) -> Result<bool, LedgerError> {
        if !incident
            .escalation
            .as_ref()
            .is_some_and(|e| e.exhausted && e.stopped && !e.ended_at_source)
        {
            return Ok(false);
        }
        let entries = self.ledger.timeline(&incident.id)?;
        let since = entries
            .iter()
            .rposition(|e| e.kind == "escalation.exhausted")
            .map_or(0, |i| i + 1);
        Ok(!entries[since..]
            .iter()
            .any(|e| matches!(e.kind.as_str(), "page.acknowledged" | "alert.acknowledged")))
    }

    /// The incident an end or acknowledgement of alert `key` is about, when `sender` may
    /// stop its paging; else the answer (`ignored`, or `not_actionable`).
    fn stoppable(
        &self,
        key: &str,
        sender: Option<IpAddr>,
    ) -> Result<Result<Incident, AlertOutcome>, LedgerError> {
        let Some(incident) = self.ledger.incident_of_fingerprint(key)? else {
            return Ok(Err(outcome(key.to_owned(), "ignored", None, None, false)));
        };
        Ok(match self.may_not_stop(&incident, key, sender)? {
            Some(refused) => Err(refused),
            None => Ok(incident),
        })
    }

    /// `None` when `sender` may end or acknowledge the alert behind `incident`; else the
    /// answer that refuses it. The rule that acted on the alert decides: a sender whose
    /// firing it would not take (`allow_from`) must not stop its paging either.
    fn may_not_stop(
        &self,
        incident: &Incident,
        key: &str,
        sender: Option<IpAddr>,
    ) -> Result<Option<AlertOutcome>, LedgerError> {
        let entries = self.ledger.timeline(&incident.id)?;
        let plan = self.plan.clone();
        let rules = &plan.plan.alerts.rules;
        let rule = rule_of(&entries).and_then(|n| rules.iter().find(|r| r.name == n));
        let allowed = |r| warroom_commands::alert::sender_allowed(r, sender);
        // A rule renamed or removed since: a sender no rule of the plan takes is refused.
        let refused = match rule {
            Some(r) => !allowed(r),
            None => !rules.is_empty() && !rules.iter().any(allowed),
        };
        if !refused {
            return Ok(None);
        }
        self.alert_book().counts.not_actionable += 1;
        let name = rule.map(|r| r.name.clone());
        tracing::warn!(incident = %incident.id, rule = ?name, sender = ?sender, alert = key, "an end or acknowledgement from outside the rule's allow_from: not acted on");
        Ok(Some(outcome(
            key.to_owned(),
            "not_actionable",
            Some(incident.id.to_string()),
            name,
            false,
        )))
    }

    /// Post the alert once; later repeats edit this message.
    async fn announce_alert(&self, incident: &Incident, alert: &Alert, rule: &str) {
        self.post_pinned(
            incident,
            &format!(
                "{} opened by warroom for an alert (rule `{rule}`, {}): {}\nConsole: {}\n{}",
                incident.id,
                incident.severity,
                incident.title,
                self.plan.plan.console.incident_link(incident.id.as_str()),
                super::render::chain_head(incident)
            ),
        )
        .await;
        let text = alert_text(alert, rule, 0);
        let messages = self.post_refs(incident, &text).await;
        self.alert_book().repeats.insert(
            incident.id.clone(),
            Repeats {
                count: 0,
                title: text,
                messages,
                last_edit: Instant::now(),
                edit_pending: false,
            },
        );
    }

    /// Tell a team's channel that the incident exists and where it is worked.
    async fn announce_opened_in(&self, channel: &str, incident: &Incident) {
        let text = format!(
            "🚨 {} opened for an alert ({}): {} — join #{}",
            incident.id,
            incident.severity,
            incident.title,
            self.channel_name(incident)
        );
        self.announce_in(channel, &text).await;
    }

    /// Post `text` in an existing channel found by name, on every platform that has it.
    pub(super) async fn announce_in(&self, channel: &str, text: &str) {
        for chat in &self.chats {
            if let Err(e) = chat.announce_in(channel, text).await {
                tracing::warn!(platform = chat.platform(), channel, error = %e, "announcement failed");
            }
        }
    }

    /// Count a repeat; edit the alert's message unless it was edited very recently.
    async fn repeat(&self, id: &IncidentId, alert: &Alert, rule: &str) {
        let known = {
            let mut book = self.alert_book();
            book.counts.repeats += 1;
            book.repeats.contains_key(id)
        };
        if !known {
            // The alert's message was posted before a restart: post one to edit from now on.
            if let Ok(incident) = self.ledger.incident(id) {
                let text = format!("{} (seen again)", alert_text(alert, rule, 0));
                let messages = self.post_refs(&incident, &text).await;
                self.alert_book()
                    .repeats
                    .entry(id.clone())
                    .or_insert(Repeats {
                        count: 1,
                        title: text,
                        messages,
                        last_edit: Instant::now(),
                        edit_pending: false,
                    });
            }
            return;
        }
        let edit = {
            let mut book = self.alert_book();
            let Some(r) = book.repeats.get_mut(id) else {
                return;
            };
            r.count += 1;
            if r.last_edit.elapsed() < EDIT_EVERY {
                r.edit_pending = true;
                None
            } else {
                r.last_edit = Instant::now();
                r.edit_pending = false;
                Some((
                    r.messages.clone(),
                    format!("{}\n_Seen {} more time(s)._", r.title, r.count),
                ))
            }
        };
        if let Some((messages, text)) = edit {
            for m in messages {
                if let Some(chat) = self.chat(m.platform)
                    && let Err(e) = chat.update(&m, &text).await
                {
                    tracing::warn!(platform = m.platform, error = %e, "alert message edit failed");
                }
            }
        }
    }

    /// Edits held back during a storm, sent once it calms (called by the sweeper).
    pub(super) async fn flush_alert_edits(&self) {
        let due: Vec<(Vec<MessageRef>, String)> = {
            let mut book = self.alert_book();
            book.repeats
                .values_mut()
                .filter(|r| r.edit_pending && r.last_edit.elapsed() >= EDIT_EVERY)
                .map(|r| {
                    r.edit_pending = false;
                    r.last_edit = Instant::now();
                    (
                        r.messages.clone(),
                        format!("{}\n_Seen {} more time(s)._", r.title, r.count),
                    )
                })
                .collect()
        };
        for (messages, text) in due {
            for m in messages {
                if let Some(chat) = self.chat(m.platform) {
                    let _ = chat.update(&m, &text).await;
                }
            }
        }
    }

    /// A resolved incident's alerts no longer join it.
    pub(super) fn forget_alerts_of(&self, id: &IncidentId) {
        let mut book = self.alert_book();
        book.open.retain(|_, v| v != id);
        book.repeats.remove(id);
    }

    pub fn alert_counts(&self) -> AlertCounts {
        self.alert_book().counts
    }

    pub fn unmatched_alerts(&self) -> Vec<Alert> {
        self.alert_book().unmatched.iter().cloned().collect()
    }

    fn alert_book(&self) -> std::sync::MutexGuard<'_, AlertBook> {
        self.alerts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// An alert's fields (or annotations) for the timeline, within a budget that keeps the entry
/// well under the ledger's entry limit (Falco outputs can be large); the rest is summarised.
fn bounded(
    fields: &std::collections::BTreeMap<String, String>,
) -> std::collections::BTreeMap<String, String> {
    const BUDGET: usize = 12 * 1024;
    let mut used = 0;
    let mut kept = std::collections::BTreeMap::new();
    for (k, v) in fields {
        if used + k.len() + v.len() > BUDGET {
            kept.insert(
                "warroom.fields_omitted".to_owned(),
                (fields.len() - kept.len()).to_string(),
            );
            break;
        }
        used += k.len() + v.len();
        kept.insert(k.clone(), v.clone());
    }
    kept
}

fn intake_name(alert: &Alert) -> &'static str {
    match alert.intake {
        warroom_commands::alert::Intake::Alertmanager => "alertmanager",
        warroom_commands::alert::Intake::Falco => "falco",
        warroom_commands::alert::Intake::EventsV2 => "events_v2",
        warroom_commands::alert::Intake::Guardduty => "guardduty",
    }
}

fn outcome(
    fingerprint: String,
    result: &'static str,
    incident: Option<String>,
    rule: Option<String>,
    paged: bool,
) -> AlertOutcome {
    AlertOutcome {
        fingerprint,
        result,
        incident,
        rule,
        paged,
    }
}

/// The alert as posted: title, where it is, the fields responders look at first.
fn alert_text(alert: &Alert, rule: &str, repeats: u64) -> String {
    const FIRST: [&str; 10] = [
        "k8s.ns.name",
        "k8s.pod.name",
        "namespace",
        "pod",
        "container.id",
        "container.image.repository",
        "fd.sip",
        "user.name",
        "instance",
        "severity",
    ];
    let mut lines = vec![format!(
        "🚨 {} ({} · rule `{rule}`)",
        alert.title,
        intake_name(alert)
    )];
    let shown: Vec<String> = FIRST
        .iter()
        .filter_map(|k| alert.fields.get(*k).map(|v| format!("{k}={v}")))
        .collect();
    if !shown.is_empty() {
        lines.push(shown.join("  "));
    }
    if repeats > 0 {
        lines.push(format!("Seen {repeats} more time(s)."));
    }
    lines.join("\n")
}

/// An open incident warroom opened for an alert with no page numbered: the only kind
/// `page_unpaged_alerts` may page. Only warroom opens an incident for an alert
/// (`open_for_alert` as `Actor::System`; alerts join an incident only by its fingerprint,
/// which only such an opening sets), and a numbered page means one was sent. Any other
/// incident would be skipped after reading its whole timeline, which with thousands of
/// open incidents is most of the time to ready.
pub(super) fn may_be_unpaged_alert(i: &Incident) -> bool {
    i.status != IncidentStatus::Resolved
        && i.escalation.is_none()
        && i.opened_by == Actor::System
        && i.pages == 0
}

/// The plan rule behind an alert incident: that of its latest alert, or the one that opened
/// it (named in the same write).
fn rule_of(entries: &[warroom_ledger::Entry]) -> Option<&str> {
    entries
        .iter()
        .rev()
        .find(|e| e.kind == "alert.received")
        .and_then(|e| e.data["rule"].as_str())
        .or_else(|| entries.first().and_then(|e| e.data["alert_rule"].as_str()))
}

/// The answer to an end or acknowledgement already recorded for `incident`.
fn repeat_of(key: String, incident: &Incident) -> AlertOutcome {
    outcome(key, "repeat", Some(incident.id.to_string()), None, false)
}
