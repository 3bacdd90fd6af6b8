//! Paging from the plan's escalation policies: tier 1 at once, the next tier when nobody
//! acknowledged within the tier's `escalate_after`, the whole policy again `repeat` times.
//!
//! Guarantees: each step is recorded in the ledger (`page.sent` with its step) before anyone
//! is contacted, and the ledger refuses the same step twice, so no page goes out twice — also
//! after a restart; the incident record holds where the escalation stands, so a step that fell
//! due while warroom was down goes out when it comes back. An acknowledgement, the alert's
//! resolve or the incident's resolve stops it.
//! Caveat: at most once — if warroom dies between recording a step and contacting people, that
//! step's messages are not sent again; the next step follows on time.

use std::sync::Arc;

use chrono::TimeDelta;
use warroom_adapters::pager::{Page, PagedPerson};
use warroom_commands::{
    Actor, EscalationStep, Event, Incident, IncidentId, IncidentStatus, PersonId,
};
use warroom_config::{EscalationPolicy, NotifyTarget, PolicyId};
use warroom_ledger::LedgerError;

use super::Engine;

impl Engine {
    /// The people tier `tier` of `policy` notifies, each once, in plan order.
    pub(super) fn tier_people(&self, policy: &EscalationPolicy, tier: usize) -> Vec<PersonId> {
        let plan = &self.plan.plan;
        let mut people: Vec<PersonId> = Vec::new();
        for n in policy
            .tiers
            .get(tier)
            .map(|t| t.notify.as_slice())
            .unwrap_or_default()
        {
            let found = match n {
                NotifyTarget::Person(p) => vec![p.clone()],
                NotifyTarget::Team(t) => {
                    plan.team(t).map(|t| t.members.clone()).unwrap_or_default()
                }
            };
            for p in found {
                if !people.contains(&p) {
                    people.push(p);
                }
            }
        }
        people
    }

    /// Page one step of `policy` for `incident`: record it, then contact people by direct
    /// message, a mention in the channel and every configured pager.
    pub(super) async fn page_policy(
        &self,
        incident: &Incident,
        policy: &PolicyId,
        tier: u32,
        round: u32,
    ) -> bool {
        let Some(p) = self.plan.plan.escalation_policy(policy) else {
            tracing::warn!(policy = %policy, "escalation policy not in the plan; nobody paged");
            return false;
        };
        let people = self.tier_people(p, tier as usize);
        let step = EscalationStep {
            policy: policy.to_string(),
            tier,
            round,
        };
        let event = Event::Paged {
            target: format!("policy:{policy}"),
            people: people.clone(),
            text: Some(incident.title.clone()),
            step: Some(step.clone()),
        };
        let recorded = match self
            .write(self.ledger.append(&incident.id, &Actor::System, event))
            .await
        {
            Ok(c) => c.incident,
            Err(LedgerError::Refused(r)) => {
                tracing::info!(incident = %incident.id, refusal = %r, "page step already sent");
                return false;
            }
            Err(e) => {
                tracing::error!(incident = %incident.id, error = %e, "cannot record the page; nobody contacted");
                return false;
            }
        };
        self.escalating
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(incident.id.clone());
        self.contact(&recorded, &people, &step.to_string()).await;
        true
    }

    /// Reach `people` everywhere warroom can: chat DMs, a mention in the channel, pagers.
    pub(super) async fn contact(&self, incident: &Incident, people: &[PersonId], step: &str) {
        let body = format!(
            "🔔 You are paged for {} ({}): {}\nStep: {step}. Reply `ack` in the incident's channel to acknowledge.",
            incident.id, incident.severity, incident.title
        );
        for person in people {
            self.page_person(person, &incident.id, &body).await;
        }
        let names: Vec<String> = people.iter().map(|p| format!("@{p}")).collect();
        self.post(
            incident,
            &format!(
                "🔔 Paging {} ({step}); `ack` to acknowledge.",
                names.join(", ")
            ),
        )
        .await;
        let page = Page {
            incident: incident.id.clone(),
            title: incident.title.clone(),
            severity: incident.severity.to_string(),
            people: people
                .iter()
                .filter_map(|id| self.plan.plan.person(id))
                .map(|p| PagedPerson {
                    id: p.id.clone(),
                    name: p.name.clone(),
                    email: p.email.clone(),
                    phone: p.phone.clone(),
                })
                .collect(),
            step: step.to_owned(),
            drill: self.plan.plan.is_drill(),
        };
        for pager in &self.pagers {
            if let Err(e) = pager.trigger(&page).await {
                tracing::warn!(incident = %incident.id, error = %e, "page not delivered");
            }
        }
    }

    /// The page message to one person on every chat platform (with an Acknowledge button
    /// where there are buttons).
    pub(super) async fn page_person(&self, person: &PersonId, incident: &IncidentId, body: &str) {
        for chat in &self.chats {
            if let Err(e) = chat.page(person, incident, body).await {
                tracing::warn!(platform = chat.platform(), error = %e, "page message failed");
            }
        }
    }

    /// Tell the pagers that the incident's pages stopped mattering.
    pub(super) async fn pagers_acknowledged(&self, incident: &IncidentId, resolved: bool) {
        for pager in &self.pagers {
            let done = if resolved {
                pager.resolve(incident).await
            } else {
                pager.acknowledge(incident).await
            };
            if let Err(e) = done {
                tracing::warn!(incident = %incident, error = %e, "pager not updated");
            }
        }
    }

    /// Page the next step of every escalation that is due; returns how many were paged.
    pub async fn escalate_due(self: &Arc<Self>) -> usize {
        let ids: Vec<IncidentId> = self
            .escalating
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect();
        let now = self.clock.now();
        let mut paged = 0;
        for id in ids {
            let Ok(incident) = self.ledger.incident(&id) else {
                continue;
            };
            match self.next_step(&incident, now) {
                Next::Wait => {}
                Next::Done => {
                    self.escalating
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&id);
                }
                Next::Page(step) => {
                    let policy = PolicyId::from(step.policy.clone());
                    if self
                        .page_policy(&incident, &policy, step.tier, step.round)
                        .await
                    {
                        paged += 1;
                    }
                }
            }
        }
        paged
    }

    fn next_step(&self, incident: &Incident, now: chrono::DateTime<chrono::Utc>) -> Next {
        let Some(e) = &incident.escalation else {
            return Next::Done;
        };
        if e.stopped || incident.status == IncidentStatus::Resolved {
            return Next::Done;
        }
        let Some(policy) = self
            .plan
            .plan
            .escalation_policy(&PolicyId::from(e.step.policy.clone()))
        else {
            return Next::Done;
        };
        let Some(tier) = policy.tiers.get(e.step.tier as usize) else {
            return Next::Done;
        };
        let wait = TimeDelta::from_std(tier.escalate_after).unwrap_or(TimeDelta::MAX);
        if now
            < e.paged_at
                .checked_add_signed(wait)
                .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
        {
            return Next::Wait;
        }
        let next_tier = e.step.tier + 1;
        if (next_tier as usize) < policy.tiers.len() {
            Next::Page(EscalationStep {
                policy: e.step.policy.clone(),
                tier: next_tier,
                round: e.step.round,
            })
        } else if e.step.round < policy.repeat {
            Next::Page(EscalationStep {
                policy: e.step.policy.clone(),
                tier: 0,
                round: e.step.round + 1,
            })
        } else {
            Next::Done
        }
    }

    /// After a restart: escalations still under way are watched again.
    pub(super) fn watch_escalations(&self, incidents: &[Incident]) {
        let mut watching = self.escalating.lock().unwrap_or_else(|p| p.into_inner());
        for i in incidents {
            if i.escalation.as_ref().is_some_and(|e| !e.stopped)
                && i.status != IncidentStatus::Resolved
            {
                watching.insert(i.id.clone());
            }
        }
    }
}

enum Next {
    Wait,
    Done,
    Page(EscalationStep),
}
