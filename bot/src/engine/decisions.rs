//! Decisions on requests: approve, deny, cancel, break glass, and break-glass reviews.
//!
//! Order matters and is the same for every decision: authorize the person by the plan, check
//! the request's state, re-read the target, and only then write — so a refused click consumes
//! nothing. The ledger's writer re-checks the state as it applies the entry, so of racing
//! decisions exactly one is recorded.

use std::sync::Arc;

use warroom_commands::authorize;
use warroom_commands::request::binding;
use warroom_commands::{
    Actor, Event, Incident, IncidentId, PersonId, Refusal, Request, RequestStatus,
};
use warroom_config::ActionRule;

use super::actions::cluster_refusal;
use super::render;
use super::{Engine, Reply};

/// What re-reading the target found.
enum Recheck {
    /// Still the same object: the binding recomputed from it now.
    Same(String),
    Stale(String),
    Failed(Reply),
}

impl Engine {
    fn find<'a>(&self, incident: &'a Incident, id: &str) -> Result<&'a Request, Reply> {
        incident.request(id).ok_or_else(|| {
            // The pending ones first: they are what someone means to decide.
            let pending: Vec<&str> = incident
                .requests
                .iter()
                .filter(|r| r.status == warroom_commands::RequestStatus::Pending)
                .map(|r| r.id())
                .collect();
            let known: Vec<&str> = incident.requests.iter().map(|r| r.id()).collect();
            let guess = warroom_commands::command::did_you_mean(
                id,
                pending.iter().chain(known.iter()).copied(),
            );
            Reply::not_found(format!(
                "no request {id} in {}{guess}{}",
                incident.id,
                match (pending.is_empty(), known.is_empty()) {
                    (_, true) => " (it has no requests yet)".to_owned(),
                    (true, false) => format!(" (it has {}; none pending)", known.join(", ")),
                    (false, false) => format!(" (pending: {})", pending.join(", ")),
                }
            ))
        })
    }

    /// The request and its action's rule as the plan says now.
    fn find_with_rule(
        &self,
        incident: &Incident,
        id: &str,
    ) -> Result<(Request, ActionRule), Reply> {
        let request = self.find(incident, id)?.clone();
        let rule = self.rule_for(&request)?;
        Ok((request, rule))
    }

    /// The action's rule as the plan says now; a plan without it cannot approve it.
    fn rule_for(&self, request: &Request) -> Result<ActionRule, Reply> {
        self.plan
            .plan
            .action_rule(request.spec.action)
            .ok_or_else(|| {
                Reply::conflict(format!(
                    "{} is disabled in the current plan; {} cannot go ahead",
                    request.spec.action,
                    request.id()
                ))
            })
    }

    /// Is the target still the object that was asked for, under the same plan?
    async fn recheck(&self, request: &Request) -> Recheck {
        let s = &request.spec;
        if s.plan_version != self.plan.digest {
            return Recheck::Stale(format!(
                "the plan changed since it was asked for (was {}, now {})",
                render::short_hash(&s.plan_version),
                render::short_hash(&self.plan.digest)
            ));
        }
        match self.cluster.resolve(&s.cluster, &s.target).await {
            Ok(now) if now.uid == s.uid => {
                let b = binding(
                    s.action,
                    &s.cluster,
                    &s.target,
                    now.uid.as_deref(),
                    &s.params,
                    &self.plan.digest,
                );
                if b == s.binding {
                    Recheck::Same(b)
                } else {
                    Recheck::Stale("its binding no longer matches".into())
                }
            }
            Ok(now) => Recheck::Stale(format!(
                "{} was replaced: uid {} is now {}",
                s.target,
                s.uid.as_deref().unwrap_or("(unknown)"),
                now.uid.as_deref().unwrap_or("(unknown)")
            )),
            Err(warroom_adapters::cluster::ClusterError::NotFound { .. }) => Recheck::Stale(
                format!("{} no longer exists in cluster {}", s.target, s.cluster),
            ),
            Err(e) => Recheck::Failed(cluster_refusal(e)),
        }
    }

    /// Record that a request went stale and say so everywhere.
    async fn stale(
        &self,
        person: &PersonId,
        incident: &Incident,
        request: &Request,
        reason: String,
    ) -> Reply {
        let event = Event::RequestStale {
            request: request.id().to_owned(),
            reason: reason.clone(),
        };
        let actor = Actor::Person(person.clone());
        if let Err(reply) = self.decide(&actor, &incident.id, request.id(), event).await {
            return reply;
        }
        Reply::conflict(format!(
            "{} is stale and nothing ran: {reason}; ask again if it is still needed",
            request.id()
        ))
        .for_incident(&incident.id)
        .for_request(request.id(), "stale")
    }

    /// Record an expiry the clock says is due, and answer the late decision.
    async fn expired(&self, incident: &Incident, request: &Request) -> Reply {
        let event = Event::RequestExpired {
            request: request.id().to_owned(),
        };
        // A decision may have frozen it meanwhile; the late decision is refused either way.
        let _ = self
            .decide(&Actor::System, &incident.id, request.id(), event)
            .await;
        Reply::conflict(format!(
            "{} expired at {}; nothing ran. Ask again if it is still needed.",
            request.id(),
            request.spec.expires_at.to_rfc3339()
        ))
        .for_incident(&incident.id)
        .for_request(request.id(), "expired")
    }

    /// Record a decision on a request, update its card and post it with the chain head.
    /// A refused write (the request moved on meanwhile) comes back as the reply to give.
    pub(super) async fn decide(
        &self,
        actor: &Actor,
        incident: &IncidentId,
        request: &str,
        event: Event,
    ) -> Result<Incident, Reply> {
        let committed = match self
            .write(self.ledger.append(incident, actor, event.clone()))
            .await
        {
            Ok(c) => c,
            Err(e) => {
                return Err(
                    Reply::from_ledger(e).for_request(request, &self.status_of(incident, request))
                );
            }
        };
        let by = match actor {
            Actor::Person(p) => p.as_str(),
            _ => "warroom",
        };
        self.after_decision(&committed.incident, request, &event, by)
            .await;
        Ok(committed.incident)
    }

    /// [`Engine::decide`] for a decision made by `person`.
    async fn decide_as(
        &self,
        person: &PersonId,
        incident: &Incident,
        request: &str,
        event: Event,
    ) -> Result<Incident, Reply> {
        self.decide(&Actor::Person(person.clone()), &incident.id, request, event)
            .await
    }

    /// A person's decision that ends with a fixed reply.
    async fn person_decides(
        &self,
        person: &PersonId,
        incident: &Incident,
        request: &str,
        event: Event,
        message: String,
        status: &str,
    ) -> Reply {
        match self
            .decide(&Actor::Person(person.clone()), &incident.id, request, event)
            .await
        {
            Ok(_) => Reply::ok(message)
                .for_incident(&incident.id)
                .for_request(request, status),
            Err(reply) => reply,
        }
    }

    /// Update the card and post the decision with the chain head.
    pub(super) async fn after_decision(
        &self,
        incident: &Incident,
        id: &str,
        event: &Event,
        by: &str,
    ) {
        if let Some(r) = incident.request(id) {
            let card = render::card(&self.plan.plan, incident, r, self.clock.now());
            self.show_card(incident, &card).await;
        }
        self.post(incident, &render::decision(incident, event, by))
            .await;
        if matches!(event, Event::RequestExecuted { .. }) {
            self.refresh_board(incident).await;
        }
    }

    pub(super) async fn approve(
        self: &Arc<Self>,
        person: &PersonId,
        incident: &Incident,
        id: &str,
    ) -> Reply {
        let (request, rule) = match self.find_with_rule(incident, id) {
            Ok(found) => found,
            Err(reply) => return reply,
        };
        if request.break_glass.is_some() {
            return self.review(person, incident, &request, &rule).await;
        }
        if let Err(d) = authorize::may_decide(&self.plan.plan, person, &rule, &request.requested_by)
        {
            return Reply::refused(d.0);
        }
        let now = self.clock.now();
        match request.check_approval(person, &request.spec.binding, now) {
            Ok(()) => {}
            Err(Refusal::Expired { .. }) => return self.expired(incident, &request).await,
            Err(r @ (Refusal::SelfApproval { .. } | Refusal::AlreadyApproved { .. })) => {
                return Reply::refused(r.to_string())
                    .for_request(request.id(), request.status.as_str());
            }
            Err(r) => {
                return Reply::conflict(r.to_string())
                    .for_request(request.id(), request.status.as_str());
            }
        }
        let seen = match self.recheck(&request).await {
            Recheck::Same(b) => b,
            Recheck::Stale(why) => return self.stale(person, incident, &request, why).await,
            Recheck::Failed(reply) => return reply,
        };
        // What the approver's check saw; the ledger's writer compares it with the request's.
        let event = Event::RequestApproved {
            request: request.id().to_owned(),
            binding: seen,
        };
        let recorded = match self.decide_as(person, incident, request.id(), event).await {
            Ok(i) => i,
            Err(reply) => return reply,
        };
        let now_request = recorded
            .request(request.id())
            .cloned()
            .unwrap_or(request.clone());
        if now_request.status == RequestStatus::Approved {
            let outcome = self.run_and_wait(&incident.id, request.id()).await;
            let status = self.status_of(&incident.id, request.id());
            return Reply::ok(format!("{} approved by {person}; {outcome}", request.id()))
                .for_incident(&incident.id)
                .for_request(request.id(), &status);
        }
        Reply::ok(format!(
            "{} approved by {person}; {} more approval(s) needed",
            request.id(),
            now_request.approvals_missing()
        ))
        .for_incident(&incident.id)
        .for_request(request.id(), now_request.status.as_str())
    }

    async fn review(
        &self,
        person: &PersonId,
        incident: &Incident,
        request: &Request,
        rule: &ActionRule,
    ) -> Reply {
        if let Err(d) = authorize::may_review(&self.plan.plan, person, rule) {
            return Reply::refused(d.0);
        }
        if let Err(r) = request.check_review(person) {
            return Reply::refused(r.to_string());
        }
        let event = Event::ReviewSigned {
            request: request.id().to_owned(),
            comment: None,
        };
        match self.decide_as(person, incident, request.id(), event).await {
            Ok(recorded) => {
                let closed = recorded
                    .request(request.id())
                    .and_then(|r| r.break_glass.as_ref())
                    .is_some_and(|b| b.review_closed());
                let status = recorded
                    .request(request.id())
                    .map_or("", |r| r.status.as_str())
                    .to_owned();
                Reply::ok(format!(
                    "break-glass review of {} signed by {person}{}",
                    request.id(),
                    if closed {
                        "; the review is closed"
                    } else {
                        "; one more reviewer needed"
                    }
                ))
                .for_incident(&incident.id)
                .for_request(request.id(), &status)
            }
            Err(reply) => reply,
        }
    }

    pub(super) async fn deny(
        &self,
        person: &PersonId,
        incident: &Incident,
        id: &str,
        reason: Option<String>,
    ) -> Reply {
        let request = match self.find(incident, id) {
            Ok(r) => r.clone(),
            Err(reply) => return reply,
        };
        if &request.requested_by == person {
            return self.cancel(person, incident, id).await;
        }
        let rule = match self.rule_for(&request) {
            Ok(r) => r,
            Err(reply) => return reply,
        };
        // Whoever may approve may deny. Incident roles give no such right: anyone in the
        // incident can assign them.
        if let Err(d) = authorize::may_decide(&self.plan.plan, person, &rule, &request.requested_by)
        {
            return Reply::refused(format!("{} (only those who may approve may deny)", d.0));
        }
        if request.is_due_to_expire(self.clock.now()) {
            return self.expired(incident, &request).await;
        }
        let event = Event::RequestDenied {
            request: request.id().to_owned(),
            reason,
        };
        match self.decide_as(person, incident, request.id(), event).await {
            Ok(_) => Reply::ok(format!("{} denied by {person}; it is closed", request.id()))
                .for_incident(&incident.id)
                .for_request(request.id(), "denied"),
            Err(reply) => reply,
        }
    }

    pub(super) async fn cancel(&self, person: &PersonId, incident: &Incident, id: &str) -> Reply {
        let request = match self.find(incident, id) {
            Ok(r) => r.clone(),
            Err(reply) => return reply,
        };
        if &request.requested_by != person {
            return Reply::refused(format!(
                "only {}, who asked for {}, can cancel it; use `deny {}` to stop it",
                request.requested_by,
                request.id(),
                request.id()
            ));
        }
        let event = Event::RequestCancelled {
            request: request.id().to_owned(),
            reason: None,
        };
        self.person_decides(
            person,
            incident,
            request.id(),
            event,
            format!("{} cancelled", request.id()),
            "cancelled",
        )
        .await
    }

    pub(super) async fn break_glass(
        self: &Arc<Self>,
        person: &PersonId,
        incident: &Incident,
        id: &str,
        reason: &str,
    ) -> Reply {
        let (request, rule) = match self.find_with_rule(incident, id) {
            Ok(found) => found,
            Err(reply) => return reply,
        };
        if let Err(d) = authorize::may_break_glass(&self.plan.plan, person, &rule) {
            return Reply::refused(d.0);
        }
        if request.status == RequestStatus::Pending && request.is_due_to_expire(self.clock.now()) {
            return self.expired(incident, &request).await;
        }
        match self.recheck(&request).await {
            Recheck::Same(_) => {}
            Recheck::Stale(why) => return self.stale(person, incident, &request, why).await,
            Recheck::Failed(reply) => return reply,
        }
        let event = Event::BreakGlass {
            request: request.id().to_owned(),
            reason: reason.to_owned(),
        };
        let recorded = match self.decide_as(person, incident, request.id(), event).await {
            Ok(i) => i,
            Err(reply) => return reply,
        };
        self.post(
            &recorded,
            &format!(
                "🚨 BREAK-GLASS: {person} is running {} ({} {}) without a second approval. Reason: {reason}\nTwo other people must review it: `approve {}`.",
                request.id(), request.spec.action, request.spec.target, request.id()
            ),
        )
        .await;
        let outcome = self.run_and_wait(&incident.id, request.id()).await;
        Reply::ok(format!(
            "BREAK-GLASS {} by {person}: {outcome}; a review by two other people is open",
            request.id()
        ))
        .for_incident(&incident.id)
        .for_request(request.id(), &self.status_of(&incident.id, request.id()))
    }

    /// The request's status as the ledger has it now.
    pub(super) fn status_of(&self, incident: &warroom_commands::IncidentId, id: &str) -> String {
        self.ledger
            .incident(incident)
            .ok()
            .and_then(|i| i.request(id).map(|r| r.status.as_str().to_owned()))
            .unwrap_or_default()
    }
}
