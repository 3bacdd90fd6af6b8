//! The incident record: a projection of its timeline.
//!
//! The timeline is the source of truth; the record is what folding its events gives. That is
//! what lets `ledger verify` and `export verify` check the record as well as the chain.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use warroom_config::{ActionName, PersonId, Risk};

use crate::command::IncidentRole;
use crate::outbox::{Delivery, DeliveryState, Outbox, OutboxItem, SendKind};
use crate::reminders::{Reminded, Reminder};
use crate::request::{Refusal, Request};
use crate::{Actor, Event, IncidentId, Severity};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentStatus {
    Open,
    Resolved,
}

impl std::fmt::Display for IncidentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            IncidentStatus::Open => "open",
            IncidentStatus::Resolved => "resolved",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incident {
    pub id: IncidentId,
    pub title: String,
    pub severity: Severity,
    pub status: IncidentStatus,
    pub opened_at: DateTime<Utc>,
    pub opened_by: Actor,
    /// Entries in the timeline; the next entry gets this sequence number.
    pub entries: u64,
    /// Hash of the last timeline entry (the chain head).
    pub head: String,
    /// Commander, scribe, comms.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub roles: BTreeMap<IncidentRole, PersonId>,
    /// Approval requests in the order they were made: `R1` is the first. Shared, and each
    /// request shared again, so copying a record costs the same however many requests it
    /// holds (the ledger copies the record on every write); a change copies the list once
    /// and the changed request only.
    #[serde(default, skip_serializing_if = "no_requests")]
    pub requests: Arc<Vec<Arc<Request>>>,
    /// People paged and not yet acknowledged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unacknowledged: Vec<PersonId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status_update: Option<DateTime<Utc>>,
    /// The escalation under way, if a policy was paged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<Escalation>,
    /// Pages and follow-ups numbered so far (`P1` is the first).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pages: u32,
    /// Every delivery the pages owed and where it stands.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outbox: Outbox,
    /// Reminders posted, per kind, since the count last started again.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub reminders: BTreeMap<Reminder, Reminded>,
    /// The incident's channel per chat platform: platform → (channel id, name).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub channels: BTreeMap<String, (String, String)>,
    /// Each request's approval cards: request → platform → (channel id, message id).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cards: BTreeMap<String, BTreeMap<String, (String, String)>>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn no_requests(requests: &Arc<Vec<Arc<Request>>>) -> bool {
    requests.is_empty()
}

/// Where an escalation stands: the last step paged and when; `stopped` once someone
/// acknowledged, the alert resolved or the incident was resolved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Escalation {
    pub step: crate::event::EscalationStep,
    pub paged_at: DateTime<Utc>,
    pub stopped: bool,
    /// Stopped because the alert ended at its source (not by a person): if it fires again,
    /// paging starts a new round.
    #[serde(default)]
    pub ended_at_source: bool,
    /// Every tier of every round was paged and nobody acknowledged (announced once).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exhausted: bool,
}

impl Incident {
    /// The record as it stands right after its opening entry.
    pub fn opened(
        id: IncidentId,
        title: String,
        severity: Severity,
        at: DateTime<Utc>,
        by: Actor,
    ) -> Self {
        Incident {
            id,
            title,
            severity,
            status: IncidentStatus::Open,
            opened_at: at,
            opened_by: by,
            entries: 0,
            head: String::new(),
            roles: BTreeMap::new(),
            requests: Arc::default(),
            unacknowledged: Vec::new(),
            last_status_update: None,
            escalation: None,
            pages: 0,
            outbox: Outbox::new(),
            reminders: BTreeMap::new(),
            channels: BTreeMap::new(),
            cards: BTreeMap::new(),
        }
    }

    /// The number the next page or follow-up gets.
    pub fn next_page_id(&self) -> String {
        format!("P{}", self.pages + 1)
    }

    /// Record the deliveries a page owes; the page number must be the next one.
    fn owe(
        &mut self,
        page: &Option<String>,
        kind: SendKind,
        deliveries: &[Delivery],
        step: Option<&crate::event::EscalationStep>,
        note: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        let Some(page) = page else {
            // Written before pages had an outbox: nothing to track.
            return Ok(());
        };
        if *page != self.next_page_id() {
            return Err(Refusal::PageOutOfOrder(page.clone()));
        }
        self.pages += 1;
        for d in deliveries {
            self.outbox.insert(
                d.id(page),
                OutboxItem {
                    page: page.clone(),
                    kind,
                    delivery: d.clone(),
                    step: step.cloned(),
                    note: note.map(str::to_owned),
                    state: DeliveryState::Owed,
                    attempts: 0,
                    error: None,
                    owed_at: at,
                },
            );
        }
        Ok(())
    }

    /// Move an owed delivery to `state`; a settled one stays as it is (refused).
    fn settle(
        &mut self,
        delivery: &str,
        state: DeliveryState,
        attempts: u32,
        error: Option<&str>,
    ) -> Result<(), Refusal> {
        let item = self
            .outbox
            .get_mut(delivery)
            .ok_or_else(|| Refusal::NoSuchDelivery(delivery.to_owned()))?;
        if item.state.is_settled() {
            return Err(Refusal::DeliverySettled {
                delivery: delivery.to_owned(),
                state: item.state.as_str(),
            });
        }
        item.state = state;
        item.attempts = attempts;
        item.error = error.map(str::to_owned);
        Ok(())
    }

    /// A request by its short (`R3`) or full (`INC-…-R3`) id.
    pub fn request(&self, id: &str) -> Option<&Request> {
        let short = self.short_request_id(id)?;
        self.requests
            .iter()
            .find(|r| r.id() == short)
            .map(|r| r.as_ref())
    }

    fn request_mut(&mut self, id: &str) -> Result<&mut Request, Refusal> {
        let short = self
            .short_request_id(id)
            .ok_or_else(|| Refusal::NoSuchRequest(id.to_owned()))?
            .to_owned();
        Arc::make_mut(&mut self.requests)
            .iter_mut()
            .find(|r| r.id() == short)
            .map(Arc::make_mut)
            .ok_or(Refusal::NoSuchRequest(short))
    }

    /// `R3` stays `R3`; `INC-…-R3` gives `R3` only when it names this incident.
    fn short_request_id<'a>(&self, id: &'a str) -> Option<&'a str> {
        match id.strip_prefix(self.id.as_str()) {
            Some(rest) => rest.strip_prefix('-'),
            None if id.starts_with('R') => Some(id),
            None => None,
        }
    }

    /// An earlier request a new one with `binding` would only repeat: one still open
    /// (pending, approved, running), or — for an action that changes something — one that
    /// ran, when no later run changed the same object since (a `release` after a
    /// `quarantine` makes quarantining again a new request). Reads and snapshots may repeat:
    /// evidence taken later is new evidence.
    pub fn same_request(&self, binding: &str, action: ActionName) -> Option<&Request> {
        use crate::RequestStatus::{Approved, Executed, Executing, Pending};
        let repeatable = action.risk() == Risk::Read || action == ActionName::Snapshot;
        let last = self
            .requests
            .iter()
            .rposition(|r| r.spec.binding == binding)?;
        let earlier = &self.requests[last];
        match earlier.status {
            Pending | Approved | Executing => Some(earlier),
            Executed if !repeatable => {
                let changed_since = self.requests[last + 1..].iter().any(|r| {
                    r.status == Executed
                        && r.spec.cluster == earlier.spec.cluster
                        && r.spec.target == earlier.spec.target
                });
                (!changed_since).then_some(&**earlier)
            }
            _ => None,
        }
    }

    /// The id the next request gets.
    pub fn next_request_id(&self) -> String {
        format!("R{}", self.requests.len() + 1)
    }

    /// Apply one event, written by `actor` at `at`, after it was appended with hash `hash`.
    ///
    /// A refused transition leaves the record untouched; the ledger then refuses the write,
    /// which is what makes request decisions compare-and-swap.
    pub fn apply(
        &mut self,
        event: &Event,
        actor: &Actor,
        at: DateTime<Utc>,
        hash: &str,
    ) -> Result<(), Refusal> {
        let person = || match actor {
            Actor::Person(p) => Ok(p.clone()),
            other => Err(Refusal::NotAPerson(other.to_string())),
        };
        match event {
            Event::IncidentOpened {
                title, severity, ..
            } => {
                self.title = title.clone();
                self.severity = *severity;
            }
            Event::SeverityChanged { to, .. } => self.severity = *to,
            Event::Resolved { .. } => {
                if let Some(r) = self
                    .requests
                    .iter()
                    .find(|r| r.status == crate::RequestStatus::Executing)
                {
                    return Err(Refusal::StillRunning(r.id().to_owned()));
                }
                for r in Arc::make_mut(&mut self.requests) {
                    if matches!(
                        r.status,
                        crate::RequestStatus::Pending | crate::RequestStatus::Approved
                    ) {
                        Arc::make_mut(r).close_with_incident();
                    }
                }
                if let Some(e) = &mut self.escalation {
                    e.stopped = true;
                    e.ended_at_source = false;
                }
                self.status = IncidentStatus::Resolved;
            }
            Event::Note { .. }
            | Event::DrillScored { .. }
            | Event::MessagePinned { .. }
            | Event::AlertReceived { .. }
            | Event::EvidenceRecorded { .. } => {}
            Event::AlertResolved {
                after_exhausted, ..
            } => {
                // After the escalation ran out unanswered, the end still marks it, so the
                // alert's refire pages again.
                if let Some(e) = &mut self.escalation
                    && (!e.stopped || (*after_exhausted && e.exhausted))
                {
                    e.stopped = true;
                    e.ended_at_source = true;
                }
            }
            Event::AlertAcknowledged { .. } => {
                if let Some(e) = &mut self.escalation {
                    e.stopped = true;
                    e.ended_at_source = false;
                }
            }
            Event::RoleAssigned { role, person } => {
                self.roles.insert(*role, person.clone());
            }
            Event::StatusUpdate { .. } => {
                self.last_status_update = Some(at);
                self.reminders.remove(&Reminder::StatusUpdate);
            }
            Event::ChatChannel {
                platform,
                channel,
                name,
            } => {
                self.channels
                    .insert(platform.clone(), (channel.clone(), name.clone()));
            }
            Event::ChatCard {
                platform,
                request,
                channel,
                message,
            } => {
                self.cards
                    .entry(request.clone())
                    .or_default()
                    .insert(platform.clone(), (channel.clone(), message.clone()));
            }
            Event::ReminderSent { reminder } => {
                let count = self.reminders.get(reminder).map_or(0, |r| r.count);
                self.reminders.insert(
                    *reminder,
                    Reminded {
                        count: count + 1,
                        last_at: at,
                    },
                );
            }
            Event::PageFollowUp {
                page,
                about,
                by,
                deliveries,
            } => self.owe(page, *about, deliveries, None, by.as_deref(), at)?,
            Event::PageDelivered {
                delivery, attempts, ..
            } => self.settle(delivery, DeliveryState::Delivered, *attempts, None)?,
            Event::PageRetrying {
                delivery,
                attempts,
                error,
            } => self.settle(delivery, DeliveryState::Retrying, *attempts, Some(error))?,
            Event::PageFailed {
                delivery,
                attempts,
                error,
            } => self.settle(delivery, DeliveryState::Failed, *attempts, Some(error))?,
            Event::EscalationExhausted { .. } => match &mut self.escalation {
                Some(e) if !e.stopped => {
                    e.stopped = true;
                    e.exhausted = true;
                }
                _ => return Err(Refusal::NotEscalating),
            },
            Event::Paged {
                people,
                step,
                page,
                deliveries,
                text,
                escalated,
                ..
            } => {
                if let Some(step) = step {
                    if let Some(e) = &self.escalation {
                        if &e.step == step {
                            return Err(Refusal::AlreadyPaged(step.to_string()));
                        }
                        // A step the timer decided before the escalation stopped.
                        if *escalated && e.stopped {
                            return Err(Refusal::EscalationStopped(step.to_string()));
                        }
                        // An acknowledgement wins over a step that raced it.
                        if e.stopped && !e.ended_at_source {
                            return Err(Refusal::EscalationStopped(step.to_string()));
                        }
                        if step.policy == e.step.policy {
                            // After the alert ended at its source only its refire pages
                            // again (tier 1 of a new round); a step decided before the end
                            // and written after it would restart the paging.
                            if e.stopped && !(step.tier == 0 && step.round > e.step.round) {
                                return Err(Refusal::EscalationStopped(step.to_string()));
                            }
                            // Steps only move forward: one decided late never rewinds a newer.
                            if !e.stopped && (step.round, step.tier) < (e.step.round, e.step.tier) {
                                return Err(Refusal::AlreadyPaged(step.to_string()));
                            }
                        }
                    }
                    if self.status == IncidentStatus::Resolved {
                        return Err(Refusal::EscalationStopped(step.to_string()));
                    }
                }
                // A page by hand keeps its words for the deliveries (a policy's are the title).
                let note = if step.is_none() {
                    text.as_deref()
                } else {
                    None
                };
                self.owe(page, SendKind::Page, deliveries, step.as_ref(), note, at)?;
                if let Some(step) = step {
                    self.escalation = Some(Escalation {
                        step: step.clone(),
                        paged_at: at,
                        stopped: false,
                        ended_at_source: false,
                        exhausted: false,
                    });
                }
                for p in people {
                    if !self.unacknowledged.contains(p) {
                        self.unacknowledged.push(p.clone());
                    }
                }
            }
            Event::PageAcknowledged {} => {
                let p = person()?;
                self.unacknowledged.retain(|u| u != &p);
                if let Some(e) = &mut self.escalation {
                    e.stopped = true;
                    e.ended_at_source = false;
                }
            }
            Event::RequestOpened(spec) => {
                if spec.request != self.next_request_id() {
                    return Err(Refusal::OutOfOrder(spec.request.clone()));
                }
                // The binding must be what its own fields hash to, or approvals would bind
                // to something other than what the card showed.
                let expected = crate::request::binding(
                    spec.action,
                    &spec.cluster,
                    &spec.target,
                    spec.uid.as_deref(),
                    &spec.params,
                    &spec.plan_version,
                );
                if spec.binding != expected {
                    return Err(Refusal::BindingChanged {
                        request: spec.request.clone(),
                        what: "the binding does not match the request's fields".into(),
                    });
                }
                if self.status == IncidentStatus::Resolved {
                    return Err(Refusal::Frozen {
                        request: spec.request.clone(),
                        status: crate::RequestStatus::Cancelled,
                    });
                }
                // warroom itself proposes actions for alerts; people still decide.
                let by = match actor {
                    Actor::System => PersonId::from(crate::request::PROPOSER),
                    _ => person()?,
                };
                Arc::make_mut(&mut self.requests).push(Arc::new(Request::opened(
                    (**spec).clone(),
                    by,
                    at,
                )));
            }
            Event::RequestApproved { request, binding } => {
                let p = person()?;
                self.request_mut(request)?.approve(&p, binding, at)?;
            }
            Event::RequestDenied { request, reason } => {
                let p = person()?;
                self.request_mut(request)?.deny(&p, reason.as_deref())?;
            }
            Event::RequestCancelled {
                request,
                reason: None,
            } => {
                let p = person()?;
                self.request_mut(request)?.cancel(&p)?;
            }
            Event::RequestCancelled {
                request,
                reason: Some(why),
            } => {
                let p = person()?;
                self.request_mut(request)?.cancel_for_resolve(&p, why)?;
            }
            Event::RequestExpired { request } => self.request_mut(request)?.expire(at)?,
            Event::RequestStale { request, reason } => {
                self.request_mut(request)?.mark_stale(reason)?;
            }
            Event::BreakGlass { request, reason } => {
                let p = person()?;
                self.request_mut(request)?.break_glass(&p, reason, at)?;
            }
            Event::RequestExecuting { request } => self.request_mut(request)?.start(at)?,
            Event::RequestExecuted {
                request, summary, ..
            } => {
                let r = self.request_mut(request)?;
                r.finish(true, summary)?;
                r.changes = event.changes();
            }
            Event::RequestFailed { request, error, .. } => {
                self.request_mut(request)?.finish(false, error)?;
            }
            Event::RequestOutcomeUnknown { request } => {
                self.request_mut(request)?.outcome_unknown()?;
            }
            Event::ReviewSigned { request, .. } => {
                let p = person()?;
                self.request_mut(request)?.review(&p)?;
            }
        }
        self.entries += 1;
        self.head = hash.to_string();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{DateTime, Utc};
    use warroom_config::{ActionName, Risk};

    use super::*;
    use crate::RequestSpec;
    use crate::command::Target;
    use crate::request::binding;

    fn at() -> DateTime<Utc> {
        "2026-11-27T02:00:00Z".parse().unwrap()
    }

    fn spec(binding_text: String) -> RequestSpec {
        RequestSpec {
            request: "R1".into(),
            action: ActionName::Cordon,
            risk: Risk::Contain,
            cluster: "prod-eu".into(),
            target: Target::node("n1"),
            uid: Some("u1".into()),
            params: BTreeMap::new(),
            reason: Some("r".into()),
            override_reason: None,
            plan_version: "p1".into(),
            binding: binding_text,
            approvals_needed: 1,
            expires_at: "2026-11-27T02:15:00Z".parse().unwrap(),
            execute_within_secs: 300,
            plan_of_change: None,
            acts_on: None,
            notes: Vec::new(),
        }
    }

    fn valid_binding() -> String {
        binding(
            ActionName::Cordon,
            "prod-eu",
            &Target::node("n1"),
            Some("u1"),
            &BTreeMap::new(),
            "p1",
        )
    }

    fn incident() -> Incident {
        let id: IncidentId = "INC-20261127-0001".parse().unwrap();
        Incident::opened(
            id,
            "t".into(),
            Severity::Sev2,
            at(),
            Actor::Person("alice".into()),
        )
    }

    #[test]
    fn a_request_whose_binding_does_not_hash_its_fields_is_refused() {
        let mut i = incident();
        let alice = Actor::Person("alice".into());
        let forged = Event::RequestOpened(Box::new(spec("0".repeat(64))));
        assert!(matches!(
            i.apply(&forged, &alice, at(), "h1"),
            Err(Refusal::BindingChanged { .. })
        ));
        assert_eq!(i.entries, 0, "a refused entry leaves the record untouched");
        i.apply(
            &Event::RequestOpened(Box::new(spec(valid_binding()))),
            &alice,
            at(),
            "h1",
        )
        .unwrap();
        assert_eq!(i.requests.len(), 1);
    }

    fn paged(policy: &str, tier: u32, round: u32, page: &str) -> Event {
        Event::Paged {
            target: format!("policy:{policy}"),
            people: vec!["bob".into()],
            text: Some("t".into()),
            step: Some(crate::event::EscalationStep {
                policy: policy.into(),
                tier,
                round,
            }),
            page: Some(page.into()),
            deliveries: Vec::new(),
            escalated: false,
        }
    }

    #[test]
    fn a_step_written_after_its_alert_ended_or_behind_a_newer_one_is_refused() {
        let mut i = incident();
        let system = Actor::System;
        i.apply(&paged("oncall", 0, 0, "P1"), &system, at(), "h1")
            .unwrap();
        i.apply(&paged("oncall", 1, 0, "P2"), &system, at(), "h2")
            .unwrap();
        // An older step decided late does not rewind the escalation.
        assert!(matches!(
            i.apply(&paged("oncall", 0, 0, "P3"), &system, at(), "h3"),
            Err(Refusal::AlreadyPaged(_))
        ));
        let ended = Event::AlertResolved {
            fingerprint: "alertmanager:1".into(),
            repeats: 0,
            after_exhausted: false,
        };
        i.apply(&ended, &system, at(), "h3").unwrap();
        // The next step, decided before the alert ended and written after it: refused, and
        // the escalation stays stopped.
        for (tier, round) in [(2, 0), (1, 1)] {
            assert!(
                matches!(
                    i.apply(&paged("oncall", tier, round, "P3"), &system, at(), "h4"),
                    Err(Refusal::EscalationStopped(_))
                ),
                "tier {tier} round {round}"
            );
            assert!(i.escalation.as_ref().unwrap().stopped);
        }
        // Its refire starts a new round at tier 1.
        i.apply(&paged("oncall", 0, 1, "P3"), &system, at(), "h4")
            .unwrap();
        assert!(!i.escalation.as_ref().unwrap().stopped);
    }

    #[test]
    fn a_next_round_the_timer_decided_before_the_alert_ended_is_refused_and_its_refire_is_not() {
        let mut i = incident();
        let system = Actor::System;
        i.apply(&paged("oncall", 0, 0, "P1"), &system, at(), "h1")
            .unwrap();
        let ended = Event::AlertResolved {
            fingerprint: "alertmanager:1".into(),
            repeats: 0,
            after_exhausted: false,
        };
        i.apply(&ended, &system, at(), "h2").unwrap();
        // The last tier timed out and the timer decided round 2 just before the end.
        let mut late = paged("oncall", 0, 1, "P2");
        if let Event::Paged { escalated, .. } = &mut late {
            *escalated = true;
        }
        assert!(matches!(
            i.apply(&late, &system, at(), "h3"),
            Err(Refusal::EscalationStopped(_))
        ));
        assert!(i.escalation.as_ref().unwrap().stopped);
        // The alert firing again pages the same step.
        i.apply(&paged("oncall", 0, 1, "P2"), &system, at(), "h3")
            .unwrap();
        assert!(!i.escalation.as_ref().unwrap().stopped);
    }

    #[test]
    fn after_an_unanswered_run_out_the_alerts_end_lets_its_refire_page() {
        for after_exhausted in [false, true] {
            let mut i = incident();
            let system = Actor::System;
            i.apply(&paged("oncall", 0, 0, "P1"), &system, at(), "h1")
                .unwrap();
            let out = Event::EscalationExhausted {
                policy: "oncall".into(),
                rounds: 1,
            };
            i.apply(&out, &system, at(), "h2").unwrap();
            let ended = Event::AlertResolved {
                fingerprint: "alertmanager:1".into(),
                repeats: 0,
                after_exhausted,
            };
            i.apply(&ended, &system, at(), "h3").unwrap();
            let refire = i.apply(&paged("oncall", 0, 1, "P2"), &system, at(), "h4");
            // An end written before this change (without the mark) replays as it did.
            assert_eq!(refire.is_ok(), after_exhausted, "{refire:?}");
        }
    }

    #[test]
    fn resolving_closes_open_requests() {
        let mut i = incident();
        let alice = Actor::Person("alice".into());
        i.apply(
            &Event::RequestOpened(Box::new(spec(valid_binding()))),
            &alice,
            at(),
            "h1",
        )
        .unwrap();
        i.apply(
            &Event::Resolved {
                summary: "done".into(),
            },
            &alice,
            at(),
            "h2",
        )
        .unwrap();
        assert_eq!(i.requests[0].status, crate::RequestStatus::Cancelled);
        let bob = Actor::Person("bob".into());
        let late = Event::RequestApproved {
            request: "R1".into(),
            binding: valid_binding(),
        };
        assert!(i.apply(&late, &bob, at(), "h3").is_err());
    }
}
