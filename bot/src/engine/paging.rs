//! Paging from the plan's escalation policies: tier 1 at once, the next tier when nobody
//! acknowledged within the tier's `escalate_after`, the whole policy again `repeat` times;
//! when the last step passes unacknowledged, that is announced, never a silent stop.
//!
//! Guarantees: each step is recorded in the ledger (`page.sent` with its step and the
//! deliveries it owes) before anyone is contacted, and the ledger refuses the same step twice,
//! so a step is paged once — also after a restart; the incident record holds where the
//! escalation stands, so a step that fell due while warroom was down goes out when it comes
//! back; an alert's incident recorded in the moment before its first page is paged at the
//! restart (its opening entry names the alert rule) or when the sender repeats the alert.
//! Each delivery is then sent at least once (see `deliveries`). An acknowledgement, the
//! alert's resolve or the incident's resolve stops the escalation and is followed up on the
//! channels that paged.

use std::sync::Arc;

use chrono::TimeDelta;
use warroom_adapters::pager::{Outbound, body_lines};
use warroom_commands::outbox::SendKind;
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

    /// Page one step of `policy` for `incident`: record it with the deliveries it owes, then
    /// say so in the channel and start the deliveries.
    pub(super) async fn page_policy(
        self: &Arc<Self>,
        incident: &Incident,
        policy: &PolicyId,
        tier: u32,
        round: u32,
    ) -> bool {
        self.page_step(incident, policy, tier, round, false).await
    }

    /// As [`Engine::page_policy`]; `escalated` when the escalation's timer decided the step.
    async fn page_step(
        self: &Arc<Self>,
        incident: &Incident,
        policy: &PolicyId,
        tier: u32,
        round: u32,
        escalated: bool,
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
            page: None,
            deliveries: self.owed_deliveries(&people, true),
            escalated,
        };
        let recorded = match self
            .write(self.ledger.append(&incident.id, &Actor::System, event))
            .await
        {
            Ok(c) => c,
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
        self.announce_page(&recorded.incident, &people, Some(&step), None)
            .await;
        self.deliver_owed(&recorded.incident, false);
        true
    }

    /// Say in the channel who is paged and how, and show the page on the console.
    pub(super) async fn announce_page(
        &self,
        incident: &Incident,
        people: &[PersonId],
        step: Option<&EscalationStep>,
        note: Option<&str>,
    ) {
        let said = match (step, note) {
            (Some(s), _) => s.to_string(),
            (None, Some(n)) => n.to_owned(),
            (None, None) => "by hand".to_owned(),
        };
        // The page just recorded is the record's latest.
        let page = format!("P{}", incident.pages.max(1));
        let mut channels: Vec<&str> = incident
            .outbox
            .values()
            .filter(|i| i.page == page)
            .map(|i| i.delivery.channel.as_str())
            .collect();
        channels.sort_unstable();
        channels.dedup();
        let names: Vec<String> = people.iter().map(|p| format!("@{p}")).collect();
        let by = if channels.is_empty() {
            String::new()
        } else {
            format!(" by {}", channels.join(", "))
        };
        self.post(
            incident,
            &format!(
                "🔔 Paging {} ({said}){by}; `ack` to acknowledge.",
                names.join(", ")
            ),
        )
        .await;
        let Some(console) = self.chat("console") else {
            return;
        };
        for person in people {
            let outbound = Outbound {
                kind: SendKind::Page,
                content: self.page_content(incident, SendKind::Page, step, note),
                person: self.paged_person(person),
                installation: self.ledger.installation().to_owned(),
                page: page.clone(),
                follows: None,
                step: step.cloned(),
                by: None,
                resumed: false,
            };
            let text = body_lines(&outbound, "console").join("\n");
            if let Err(e) = console.direct_message(person, &text).await {
                tracing::warn!(error = %e, "console page message failed");
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
                Next::Exhausted => {
                    self.escalating
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&id);
                    self.exhausted(&incident).await;
                }
                Next::Page(step) => {
                    let policy = PolicyId::from(step.policy.clone());
                    if self
                        .page_step(&incident, &policy, step.tier, step.round, true)
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
            Next::Exhausted
        }
    }

    /// Every tier of every round was paged and nobody acknowledged: record it once, and say
    /// so in the incident's channel and the stakeholder channel.
    async fn exhausted(&self, incident: &Incident) {
        let Some(e) = &incident.escalation else {
            return;
        };
        let event = Event::EscalationExhausted {
            policy: e.step.policy.clone(),
            rounds: e.step.round + 1,
        };
        let c = match self
            .write(self.ledger.append(&incident.id, &Actor::System, event))
            .await
        {
            Ok(c) => c,
            Err(LedgerError::Refused(_)) => return,
            Err(err) => {
                tracing::error!(incident = %incident.id, error = %err, "cannot record the end of the escalation");
                return;
            }
        };
        let waiting = incident
            .unacknowledged
            .iter()
            .map(|p| format!("@{p}"))
            .collect::<Vec<_>>()
            .join(", ");
        let text = format!(
            "🚨 Nobody acknowledged {} ({}: {}): escalation policy `{}` ran out after {} round(s); warroom pages nobody more. Page someone by hand (`page PERSON`) — paged and silent: {}.",
            incident.id,
            incident.severity,
            incident.title,
            e.step.policy,
            e.step.round + 1,
            if waiting.is_empty() {
                "nobody"
            } else {
                &waiting
            }
        );
        self.post(&c.incident, &text).await;
        if let Some(channel) = &self.plan.plan.communication.stakeholder_channel {
            self.announce_in(channel, &text).await;
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
    /// The last step passed with nobody acknowledging.
    Exhausted,
    Page(EscalationStep),
}
