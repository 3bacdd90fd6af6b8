//! The paging outbox at work: each owed (person, channel) delivery is sent on its own, retried
//! with backoff that honours the channel's `Retry-After`, and settled in the timeline.
//!
//! Guarantees: at least once. A page's deliveries are recorded (`page.sent`) before anyone is
//! contacted and each is settled (`page.delivered` / `page.failed`) only after the channel
//! answered, so a delivery interrupted by a crash is sent again after the restart, with the
//! same key (PagerDuty `dedup_key`, `Message-ID`, `Idempotency-Key`, chat metadata) so the
//! receiving end can fold the repeat. Each delivery runs as its own task: a slow or failing
//! channel delays no other. A delivery is retried for `[paging] retry_for` from the page;
//! then it is recorded as failed, said in the incident's channel and counted in `/metrics`.
//! Caveats: a channel without idempotency (SMTP) may deliver twice after a crash between its
//! acceptance and the `page.delivered` write; a delivery whose settling write fails (ledger
//! refusing writes) is sent again later.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::TimeDelta;
use warroom_adapters::pager::{Audience, Outbound, PagedPerson, Pager, SendError};
use warroom_commands::outbox::{
    Delivery, DeliveryState, OutboxItem, SendKind, jitter_for, retry_delay, unsettled,
};
use warroom_commands::{Actor, Event, Incident, IncidentId, IncidentStatus, PersonId};

use super::Engine;

impl Engine {
    /// The deliveries a page to `people` owes: each person on every channel that reaches
    /// them, and a service channel (PagerDuty) once when a policy's step pages.
    pub(super) fn owed_deliveries(&self, people: &[PersonId], step: bool) -> Vec<Delivery> {
        let mut owed = Vec::new();
        for pager in &self.pagers {
            match pager.audience() {
                Audience::Service if step => owed.push(Delivery {
                    channel: pager.name().to_owned(),
                    person: None,
                    follows: None,
                }),
                Audience::Service => {}
                Audience::People => {
                    for id in people {
                        if self.paged_person(id).is_some_and(|p| pager.reaches(&p)) {
                            owed.push(Delivery {
                                channel: pager.name().to_owned(),
                                person: Some(id.clone()),
                                follows: None,
                            });
                        }
                    }
                }
            }
        }
        owed
    }

    pub(super) fn paged_person(&self, id: &PersonId) -> Option<PagedPerson> {
        self.plan.plan.person(id).map(|p| PagedPerson {
            id: p.id.clone(),
            name: p.name.clone(),
            email: p.email.clone(),
            phone: p.phone.clone(),
        })
    }

    /// Start every unsettled delivery of `incident` that is not under way already.
    /// `resumed`: they may have reached the channel before (a restart, a lost task).
    pub(super) fn deliver_owed(self: &Arc<Self>, incident: &Incident, resumed: bool) {
        let mut started = 0;
        for (id, item) in unsettled(&incident.outbox) {
            let fresh = self
                .in_flight
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert((incident.id.clone(), id.clone()));
            if fresh {
                started += 1;
                let engine = self.clone();
                let (incident, id, item) = (incident.id.clone(), id.clone(), item.clone());
                let resumed = resumed || item.attempts > 0;
                tokio::spawn(async move {
                    engine.deliver(&incident, &id, item, resumed).await;
                    engine
                        .in_flight
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&(incident, id));
                });
            }
        }
        if started > 0 || unsettled(&incident.outbox).next().is_some() {
            self.owing
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(incident.id.clone());
        }
    }

    /// Deliveries owed but not under way (after a restart, or a task that ended without
    /// settling because the ledger refused the write): start them again. Called each second.
    pub async fn resume_deliveries(self: &Arc<Self>) {
        let ids: Vec<IncidentId> = self
            .owing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect();
        for id in ids {
            let Ok(incident) = self.ledger.incident(&id) else {
                continue;
            };
            if unsettled(&incident.outbox).next().is_none() {
                self.owing
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&id);
                continue;
            }
            self.deliver_owed(&incident, true);
        }
    }

    /// One delivery, attempt after attempt, until the channel takes it, refuses it for good
    /// or the retry window closes; settled in the timeline either way.
    async fn deliver(&self, incident: &IncidentId, id: &str, item: OutboxItem, resumed: bool) {
        let Some(pager) = self
            .pagers
            .iter()
            .find(|p| p.name() == item.delivery.channel)
            .cloned()
        else {
            let why = format!(
                "channel `{}` is not configured in this warroom any more",
                item.delivery.channel
            );
            self.settle_failed(incident, id, &item, item.attempts, &why, None)
                .await;
            return;
        };
        let person = match &item.delivery.person {
            Some(p) => match self.paged_person(p) {
                Some(found) => Some(found),
                None => {
                    let why = format!("`{p}` is not in the plan any more");
                    self.settle_failed(incident, id, &item, item.attempts, &why, Some(&pager))
                        .await;
                    return;
                }
            },
            None => None,
        };
        let Ok(record) = self.ledger.incident(incident) else {
            return;
        };
        let follows_step = item.delivery.follows.as_ref().and_then(|page| {
            record
                .outbox
                .values()
                .find(|i| &i.page == page && i.delivery.channel == item.delivery.channel)
                .and_then(|i| i.step.clone())
        });
        let mut outbound = Outbound {
            kind: item.kind,
            content: self.page_content(
                &record,
                item.kind,
                item.step.as_ref(),
                item.note.as_deref(),
            ),
            person,
            installation: self.ledger.installation().to_owned(),
            page: item.page.clone(),
            follows: item.delivery.follows.clone(),
            step: item.step.clone().or(follows_step),
            by: (item.kind != SendKind::Page)
                .then(|| item.note.clone())
                .flatten(),
            resumed,
        };
        let window = TimeDelta::from_std(self.plan.plan.paging.retry_for).unwrap_or(TimeDelta::MAX);
        let deadline = item
            .owed_at
            .checked_add_signed(window)
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC);
        let mut attempts = item.attempts;
        let mut said_retrying = item.state == DeliveryState::Retrying;
        loop {
            if let Some(why) = self.page_withdrawn(incident, &item) {
                self.withdraw(incident, id, &item, attempts, &why).await;
                return;
            }
            attempts += 1;
            let span = tracing::info_span!("delivery", incident = %incident, delivery = id, attempt = attempts);
            let answer = {
                let _enter = span.enter();
                tracing::debug!("sending");
                drop(_enter);
                pager.send(&outbound).await
            };
            match answer {
                Ok(receipt) => {
                    tracing::info!(incident = %incident, delivery = id, attempts, receipt = %receipt, "delivered");
                    self.metrics.delivery(pager.name(), "delivered");
                    let event = Event::PageDelivered {
                        delivery: id.to_owned(),
                        attempts,
                        receipt: Some(receipt),
                    };
                    self.settle(incident, event).await;
                    return;
                }
                Err(SendError::Permanent(why)) => {
                    self.settle_failed(incident, id, &item, attempts, &why, Some(&pager))
                        .await;
                    return;
                }
                Err(SendError::Retry { message, after }) => {
                    let delay = retry_delay(attempts, after, jitter_for(id, attempts));
                    let next = TimeDelta::from_std(delay)
                        .ok()
                        .and_then(|d| self.clock.now().checked_add_signed(d));
                    if next.is_none_or(|n| n > deadline) {
                        let why = format!(
                            "{message}; gave up after {attempts} attempt(s) over {}",
                            warroom_config::format_duration(self.plan.plan.paging.retry_for)
                        );
                        self.settle_failed(incident, id, &item, attempts, &why, Some(&pager))
                            .await;
                        return;
                    }
                    tracing::warn!(incident = %incident, delivery = id, attempts, error = %message, retry_in_ms = delay.as_millis() as u64, "delivery not accepted; retrying");
                    self.metrics.delivery(pager.name(), "retried");
                    if !said_retrying {
                        said_retrying = true;
                        let event = Event::PageRetrying {
                            delivery: id.to_owned(),
                            attempts,
                            error: message,
                        };
                        self.settle(incident, event).await;
                    }
                    outbound.resumed = true;
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// Write a delivery's new state; a refusal means another writer settled it first.
    async fn settle(&self, incident: &IncidentId, event: Event) {
        if let Err(e) = self
            .write(self.ledger.append(incident, &Actor::System, event))
            .await
        {
            tracing::warn!(incident = %incident, error = %e, "delivery state not recorded; it stays owed and is sent again");
        }
    }

    /// Record a failed delivery and say in the incident's channel what it means.
    async fn settle_failed(
        &self,
        incident: &IncidentId,
        id: &str,
        item: &OutboxItem,
        attempts: u32,
        why: &str,
        pager: Option<&Arc<dyn Pager>>,
    ) {
        tracing::error!(incident = %incident, delivery = id, attempts, error = why, "delivery failed");
        let event = self.page_failed(item, id, attempts, why, "failed");
        let Ok(c) = self
            .write(self.ledger.append(incident, &Actor::System, event))
            .await
        else {
            return;
        };
        let label = pager.map(|p| p.label()).unwrap_or(&item.delivery.channel);
        let text = failure_notice(&c.incident, item, label, why, |name| {
            self.pagers
                .iter()
                .find(|p| p.name() == name)
                .map(|p| p.label())
                .unwrap_or("another channel")
        });
        self.post(&c.incident, &text).await;
    }

    /// Why a page not yet taken must not be sent any more: its incident was resolved, its
    /// person acknowledged, or the page was followed up (acknowledged, resolved) on the same
    /// channel for the same person.
    /// Checked before every attempt, since a retried trigger landing after its acknowledge
    /// would open a PagerDuty alert nothing ever closes, and wake someone for nothing.
    fn page_withdrawn(&self, incident: &IncidentId, item: &OutboxItem) -> Option<String> {
        if item.kind != SendKind::Page {
            return None;
        }
        let record = self.ledger.incident(incident).ok()?;
        if record.status == IncidentStatus::Resolved {
            return Some(format!(
                "not sent: {} was resolved before {} took the page",
                record.id, item.delivery.channel
            ));
        }
        // The person it wakes already acknowledged (follow-ups skip them: they know).
        if let Some(p) = &item.delivery.person
            && !record.unacknowledged.contains(p)
            && record.escalation.as_ref().is_some_and(|e| e.stopped)
        {
            return Some(format!(
                "not sent: {p} acknowledged before {} took the page",
                item.delivery.channel
            ));
        }
        let follow_up = record.outbox.values().find(|f| {
            f.kind != SendKind::Page
                && f.delivery.follows.as_deref() == Some(item.page.as_str())
                && f.delivery.channel == item.delivery.channel
                && f.delivery.person == item.delivery.person
        })?;
        Some(format!(
            "not sent: the page was {} before {} took it",
            match follow_up.kind {
                SendKind::Resolved => "resolved",
                _ => "acknowledged",
            },
            item.delivery.channel
        ))
    }

    /// Settle a page that stopped mattering before its channel took it: recorded as not
    /// delivered, with why, and not announced as a failure (nobody needs to act on it).
    async fn withdraw(
        &self,
        incident: &IncidentId,
        id: &str,
        item: &OutboxItem,
        attempts: u32,
        why: &str,
    ) {
        tracing::info!(incident = %incident, delivery = id, attempts, reason = why, "page withdrawn");
        let event = self.page_failed(item, id, attempts, why, "withdrawn");
        self.settle(incident, event).await;
    }

    /// A delivery that will not be sent (again), counted in `/metrics` under `result`: the
    /// `page.failed` entry that settles it, with why.
    fn page_failed(
        &self,
        item: &OutboxItem,
        id: &str,
        attempts: u32,
        why: &str,
        result: &'static str,
    ) -> Event {
        self.metrics.delivery(&item.delivery.channel, result);
        Event::PageFailed {
            delivery: id.to_owned(),
            attempts,
            error: why.to_owned(),
        }
    }

    /// Tell the channels that paged that the pages stopped mattering: an acknowledgement to
    /// each channel and person reached (the person who acknowledged knows), a resolve for
    /// every PagerDuty alert. Owed and retried like the pages; a page already followed by
    /// this (or a resolve) is not followed again.
    pub(super) async fn follow_up(
        self: &Arc<Self>,
        incident: &IncidentId,
        about: SendKind,
        by: Option<String>,
        skip: Option<&PersonId>,
    ) {
        let Ok(record) = self.ledger.incident(incident) else {
            return;
        };
        let deliveries = follow_ups(&record, about, skip);
        if deliveries.is_empty() {
            return;
        }
        let event = Event::PageFollowUp {
            page: None,
            about,
            by,
            deliveries,
        };
        match self
            .write(self.ledger.append(incident, &Actor::System, event))
            .await
        {
            Ok(c) => self.deliver_owed(&c.incident, false),
            Err(e) => {
                tracing::warn!(incident = %incident, error = %e, "follow-up not recorded; the pagers were not told")
            }
        }
    }
}

/// The deliveries a follow-up owes: for each page a service channel delivered (or still
/// tries), one; for each (channel, person) the latest page that reached them, one.
fn follow_ups(record: &Incident, about: SendKind, skip: Option<&PersonId>) -> Vec<Delivery> {
    let followed: BTreeSet<(String, Option<PersonId>, String)> = record
        .outbox
        .values()
        .filter(|i| i.kind == about || i.kind == SendKind::Resolved)
        .filter_map(|i| {
            let f = i.delivery.follows.clone()?;
            Some((i.delivery.channel.clone(), i.delivery.person.clone(), f))
        })
        .collect();
    let mut latest: BTreeMap<(String, Option<PersonId>), &OutboxItem> = BTreeMap::new();
    let mut services = Vec::new();
    for item in record.outbox.values() {
        if item.kind != SendKind::Page || item.state == DeliveryState::Failed {
            continue;
        }
        let d = &item.delivery;
        if d.person.is_none() {
            services.push(item);
            continue;
        }
        let key = (d.channel.clone(), d.person.clone());
        let later = latest
            .get(&key)
            .is_none_or(|old| page_number(&old.page) < page_number(&item.page));
        if later {
            latest.insert(key, item);
        }
    }
    let mut owed = Vec::new();
    for item in services.into_iter().chain(latest.into_values()) {
        let d = &item.delivery;
        if d.person.is_some() && d.person.as_ref() == skip {
            continue;
        }
        if followed.contains(&(d.channel.clone(), d.person.clone(), item.page.clone())) {
            continue;
        }
        owed.push(Delivery {
            channel: d.channel.clone(),
            person: d.person.clone(),
            follows: Some(item.page.clone()),
        });
    }
    owed
}

fn page_number(page: &str) -> u32 {
    page.trim_start_matches('P').parse().unwrap_or(0)
}

/// "PagerDuty did not accept the page for tier 2: 500 — paged by e-mail and chat only".
fn failure_notice(
    incident: &Incident,
    item: &OutboxItem,
    label: &str,
    why: &str,
    label_of: impl Fn(&str) -> &'static str,
) -> String {
    let step = item
        .step
        .as_ref()
        .map(|s| {
            if s.round == 0 {
                format!("tier {}", s.tier + 1)
            } else {
                format!("tier {} (round {})", s.tier + 1, s.round + 1)
            }
        })
        .unwrap_or_else(|| format!("page {}", item.page));
    if item.kind != SendKind::Page {
        let whom = item
            .delivery
            .person
            .as_ref()
            .map(|p| format!(" ({p})"))
            .unwrap_or_default();
        return format!(
            "⚠ {label}{whom} was not told that {} is {}: {why}",
            incident.id, item.kind
        );
    }
    let same_page = |i: &&OutboxItem| {
        i.page == item.page
            && i.state == DeliveryState::Delivered
            && i.delivery.channel != item.delivery.channel
    };
    let mut others: Vec<&'static str> = incident
        .outbox
        .values()
        .filter(same_page)
        .filter(|i| item.delivery.person.is_none() || i.delivery.person == item.delivery.person)
        .map(|i| label_of(&i.delivery.channel))
        .collect();
    others.sort_unstable();
    others.dedup();
    let by = others.join(" and ");
    match &item.delivery.person {
        None if others.is_empty() => format!(
            "⚠ {label} did not accept the page for {step} of {}: {why} — no other channel has reached anyone yet",
            incident.id
        ),
        None => format!(
            "⚠ {label} did not accept the page for {step} of {}: {why} — paged by {by} only",
            incident.id
        ),
        Some(p) if others.is_empty() => format!(
            "⚠ {label} did not reach {p} for {step} of {}: {why} — no other channel has reached {p} yet",
            incident.id
        ),
        Some(p) => format!(
            "⚠ {label} did not reach {p} for {step} of {}: {why} — {p} was paged by {by} only",
            incident.id
        ),
    }
}
