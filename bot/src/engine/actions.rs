//! Asking for an action: authorize, resolve the target, apply guardrails, open the request.

use std::sync::Arc;

use chrono::{Duration, SubsecRound as _};
use warroom_adapters::cluster::{ClusterError, Resolved};
use warroom_commands::command::{ActionRequest, ObjectKind};
use warroom_commands::guardrails::{self, TargetFacts};
use warroom_commands::request::binding;
use warroom_commands::{
    Actor, Event, Incident, IncidentStatus, PersonId, RequestSpec, RequestStatus,
};
use warroom_config::ActionName;

use super::render;
use super::{Engine, Reply};

impl Engine {
    /// The cluster a request names, or the plan's first.
    pub(super) fn cluster_name(&self, asked: Option<&str>) -> String {
        asked
            .map(str::to_owned)
            .or_else(|| self.plan.plan.clusters.first().map(|c| c.name.clone()))
            .unwrap_or_else(|| "default".to_owned())
    }

    pub(super) async fn request_action(
        self: &Arc<Self>,
        person: &PersonId,
        incident: &Incident,
        req: ActionRequest,
    ) -> Reply {
        if incident.status == IncidentStatus::Resolved {
            return Reply::conflict(format!(
                "{} is resolved; open a new incident to act again",
                incident.id
            ));
        }
        let rule =
            match warroom_commands::authorize::may_request(&self.plan.plan, person, req.action) {
                Ok(r) => r,
                Err(d) => return Reply::refused(d.0),
            };
        self.open_request(&Actor::Person(person.clone()), rule, incident, req, 0)
            .await
    }

    /// Open a request for `req` on behalf of `by` (a person, or warroom proposing for an
    /// alert, which adds `extra` approvals): resolve the target, apply the guardrails, write
    /// it, post its card — or run it at once when nobody needs to approve.
    pub(super) async fn open_request(
        self: &Arc<Self>,
        by: &Actor,
        rule: warroom_config::ActionRule,
        incident: &Incident,
        req: ActionRequest,
        extra: u32,
    ) -> Reply {
        let plan = &self.plan.plan;
        let cluster = self.cluster_name(req.cluster.as_deref());
        let resolved = match self.cluster.resolve(&cluster, &req.target).await {
            Ok(r) => r,
            Err(e) => return cluster_refusal(e),
        };
        let captured = self.evidence_captured(incident, &cluster, &resolved).await;
        let facts = TargetFacts {
            owner: resolved.owner.clone(),
        };
        let passed = match guardrails::check(plan, &rule, &req, &cluster, &facts, captured) {
            Ok(p) => p,
            Err(d) => return Reply::guardrail(d.0),
        };
        // Microseconds, as the ledger keeps time, so the expiry the card shows is the one
        // the ledger's writer enforces.
        let now = self.clock.now().trunc_subsecs(6);
        let ttl = Duration::from_std(rule.pending_ttl).unwrap_or(Duration::MAX);
        let bound = binding(
            req.action,
            &cluster,
            &req.target,
            resolved.uid.as_deref(),
            &req.params,
            &self.plan.digest,
        );
        if let Some(earlier) = incident.same_request(&bound, req.action) {
            let next = match earlier.status {
                RequestStatus::Pending => format!(
                    "approve {} or deny it (its requester may cancel it)",
                    earlier.id()
                ),
                RequestStatus::Executed => {
                    "nothing has changed the target since; undo it first to ask again".to_owned()
                }
                _ => "wait for its outcome".to_owned(),
            };
            let did = if earlier.status == RequestStatus::Executed {
                "already did this"
            } else {
                "already asks for this"
            };
            return Reply::conflict(format!(
                "{} {did} ({}): {} {}; {next}",
                earlier.id(),
                earlier.status.as_str(),
                req.action,
                req.target
            ))
            .for_incident(&incident.id)
            .for_request(earlier.id(), earlier.status.as_str());
        }
        let spec = RequestSpec {
            request: String::new(), // allocated by the ledger's writer
            action: req.action,
            risk: rule.risk,
            cluster: cluster.clone(),
            target: req.target.clone(),
            uid: resolved.uid.clone(),
            binding: bound,
            params: req.params.clone(),
            reason: req.reason.clone(),
            override_reason: req.override_reason.clone(),
            plan_version: self.plan.digest.clone(),
            // Saturating: a plan's counts are unbounded u32s, and a sum that wrapped to 0
            // would run the action with no approver at all.
            approvals_needed: rule
                .approvals
                .saturating_add(passed.extra_approvals)
                .saturating_add(extra),
            expires_at: now
                .checked_add_signed(ttl)
                .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC),
            execute_within_secs: rule.execute_within.as_secs(),
            plan_of_change: None,
            acts_on: None,
            notes: passed.notes.clone(),
        };
        // The plan of change is computed before the request is recorded, so the record (and
        // every later rendering of its card, after a restart too) carries what was shown.
        let spec = if spec.approvals_needed > 0 {
            let asker = match by {
                Actor::Person(p) => p.clone(),
                _ => warroom_commands::request::PROPOSER.into(),
            };
            let mut draft = warroom_commands::Request::opened(spec.clone(), asker, now);
            draft.spec.request = incident.next_request_id();
            let (plan_of_change, acts_on) = self.preview(incident, &draft, &resolved).await;
            RequestSpec {
                plan_of_change: Some(plan_of_change),
                acts_on,
                ..spec
            }
        } else {
            spec
        };
        let committed = match self
            .write(
                self.ledger
                    .append(&incident.id, by, Event::RequestOpened(Box::new(spec))),
            )
            .await
        {
            Ok(c) => c,
            Err(e) => return Reply::from_ledger(e),
        };
        let Some(request) = committed.incident.requests.last().cloned() else {
            return Reply::failed("the request was recorded but cannot be read back".into());
        };
        let id = request.id().to_owned();
        if request.status == RequestStatus::Approved {
            // Read-only, or a policy with no approvers: runs now, still through the ledger's
            // Approved → Executing swap — after its card, so the channel reads in the
            // timeline's order (the request, then its progress, then its outcome).
            let card = render::card(plan, &committed.incident, &request, now);
            self.show_card(&committed.incident, &card).await;
            let outcome = self.run_and_wait(&incident.id, &id).await;
            // The outcome names the request already ("R5 executed: …").
            let said = if outcome.starts_with(&id) {
                outcome
            } else {
                format!("{id}: {outcome}")
            };
            return Reply::ok(said)
                .for_incident(&incident.id)
                .for_request(&id, &self.status_of(&incident.id, &id));
        }
        let card = render::card(plan, &committed.incident, &request, now);
        self.show_card(&committed.incident, &card).await;
        let missing = request.approvals_missing();
        Reply::ok(format!(
            "{id} opened: {} {} needs {missing} approval(s) from someone other than {}; expires in {}",
            req.action,
            req.target,
            match by {
                Actor::Person(p) => p.to_string(),
                _ => "warroom".to_owned(),
            },
            warroom_config::format_duration(rule.pending_ttl)
        ))
        .for_incident(&incident.id)
        .for_request(&id, request.status.as_str())
    }

    /// Whether this incident already holds a capture of the target: the pod itself, a pod of
    /// the workload, or a pod on the node.
    async fn evidence_captured(
        &self,
        incident: &Incident,
        cluster: &str,
        target: &Resolved,
    ) -> bool {
        for r in incident.requests.iter().filter(|r| {
            r.spec.action == ActionName::Capture
                && r.status == RequestStatus::Executed
                && r.spec.cluster == cluster
        }) {
            let t = &r.spec.target;
            // The same object, not merely the same name: a replacement has no evidence yet.
            if *t == target.target {
                if r.spec.uid == target.uid {
                    return true;
                }
                continue;
            }
            let Ok(pod) = self.cluster.resolve(cluster, t).await else {
                continue;
            };
            let on_node = target.target.kind == ObjectKind::Node
                && pod.node.as_deref() == Some(target.target.name.as_str());
            let of_workload = pod.target.namespace == target.target.namespace
                && pod.owner.as_ref().is_some_and(|(k, n)| {
                    k == target.target.kind.as_str() && *n == target.target.name
                });
            if on_node || of_workload {
                return true;
            }
        }
        false
    }

    /// What the action would apply, for the card, and what it found the action acts on
    /// beyond its target (a preview's result, when it has one). Changes nothing.
    async fn preview(
        &self,
        incident: &Incident,
        request: &warroom_commands::Request,
        resolved: &Resolved,
    ) -> (String, Option<serde_json::Value>) {
        let ex = self.execution(incident, request, resolved.clone());
        match self.cluster.preview(&ex).await {
            Ok(o) => (o.summary, (!o.result.is_null()).then_some(o.result)),
            Err(e) => (format!("(no plan of change: {e})"), None),
        }
    }
}

/// Unknown targets and clusters are the user's to fix (404); the rest is ours (500).
pub(super) fn cluster_refusal(e: ClusterError) -> Reply {
    match e {
        ClusterError::NotFound { .. } | ClusterError::UnknownCluster { .. } => {
            Reply::not_found(e.to_string())
        }
        other => Reply::failed(other.to_string()),
    }
}
