//! Approval requests: what was asked, who agreed, and where each request stands.
//!
//! The transitions here are the two-person rule's structural half. They run inside the
//! ledger's single committer as each entry is applied, so they act as compare-and-swap:
//! of two approvals racing for the last slot, or two executions of one approved request,
//! exactly one is written and the other is refused. The policy half (which roles may ask or
//! approve) is in [`crate::authorize`], checked before anything is written.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use warroom_config::{ActionName, PersonId, Risk};

use crate::command::Target;

/// The requester recorded for actions warroom proposes for an alert. It is nobody's person
/// id, so it never counts as an approver; such requests need two people (see the engine).
pub const PROPOSER: &str = "warroom";

/// Where a request stands. Denied, expired, cancelled, stale, executed, failed and
/// outcome-unknown requests are frozen: nothing moves them again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    Pending,
    Approved,
    Executing,
    Executed,
    Failed,
    Denied,
    Expired,
    Cancelled,
    Stale,
    OutcomeUnknown,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::Approved => "approved",
            RequestStatus::Executing => "executing",
            RequestStatus::Executed => "executed",
            RequestStatus::Failed => "failed",
            RequestStatus::Denied => "denied",
            RequestStatus::Expired => "expired",
            RequestStatus::Cancelled => "cancelled",
            RequestStatus::Stale => "stale",
            RequestStatus::OutcomeUnknown => "outcome unknown",
        }
    }

    pub fn is_frozen(self) -> bool {
        !matches!(
            self,
            RequestStatus::Pending | RequestStatus::Approved | RequestStatus::Executing
        )
    }
}

impl fmt::Display for RequestStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything an approval binds to, fixed when the request is opened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    /// `R1`, `R2`, … within the incident.
    pub request: String,
    pub action: ActionName,
    pub risk: Risk,
    pub cluster: String,
    pub target: Target,
    /// The object's UID when the cluster told us; a different UID later makes the request stale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Given to pass a guardrail (e.g. no evidence captured yet); recorded for the review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_reason: Option<String>,
    /// SHA-256 of the plan file the policy came from.
    pub plan_version: String,
    /// Hex SHA-256 over action, cluster, target, UID, parameters and plan version.
    pub binding: String,
    /// Approvers needed besides the requester (plan policy plus critical-workload extras).
    pub approvals_needed: u32,
    /// When a pending request expires, RFC 3339 UTC.
    pub expires_at: DateTime<Utc>,
    /// Seconds an approved request stays runnable.
    pub execute_within_secs: u64,
    /// What the action would change, computed when the request was made (a server-side dry
    /// run where the cluster offers one): every rendering of the card shows it. Not part of
    /// the binding: the object's UID and the parameters are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_of_change: Option<String>,
    /// What the plan of change found the action acts on beyond its target (the IAM role a
    /// revocation denies, which a service account's annotation decides): the run must find
    /// the same, or it changes nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acts_on: Option<serde_json::Value>,
    /// What the guardrails said about it (a missing capture, an override), for the card.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// What the binding hash covers: change any of it and earlier approvals no longer apply.
pub fn binding(
    action: ActionName,
    cluster: &str,
    target: &Target,
    uid: Option<&str>,
    params: &BTreeMap<String, String>,
    plan_version: &str,
) -> String {
    let doc = serde_json::json!({
        "action": action.as_str(),
        "cluster": cluster,
        "kind": target.kind.as_str(),
        "namespace": target.namespace,
        "name": target.name,
        "uid": uid,
        "params": params,
        "plan_version": plan_version,
    });
    // serde_json writes struct fields in order and BTreeMaps sorted: a stable text.
    hex::encode(Sha256::digest(doc.to_string().as_bytes()))
}

/// A break-glass use: who ran the request alone and why; closed by two other people.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakGlassUse {
    pub by: PersonId,
    pub reason: String,
    pub at: DateTime<Utc>,
    #[serde(default)]
    pub reviewers: Vec<PersonId>,
}

impl BreakGlassUse {
    pub const REVIEWERS_NEEDED: usize = 2;

    pub fn review_closed(&self) -> bool {
        self.reviewers.len() >= Self::REVIEWERS_NEEDED
    }
}

/// A request as its timeline entries leave it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub spec: RequestSpec,
    pub requested_by: PersonId,
    pub opened_at: DateTime<Utc>,
    pub status: RequestStatus,
    #[serde(default)]
    pub approvers: Vec<PersonId>,
    /// Until when an approved request may start executing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execute_by: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<PersonId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub break_glass: Option<BreakGlassUse>,
    /// One line on how it ended: the result, the error, or why it was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// What the executed action changed, one line each (the card shows them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
}

/// Why a transition was refused. The message goes to the person who tried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no request {0} in this incident")]
    NoSuchRequest(String),
    #[error("{request} is {status}; nothing more can be decided on it")]
    Frozen {
        request: String,
        status: RequestStatus,
    },
    #[error("{request} is {status}, not {expected}")]
    WrongState {
        request: String,
        status: RequestStatus,
        expected: &'static str,
    },
    #[error("{person} asked for {request} and cannot approve it: a second person must")]
    SelfApproval { request: String, person: PersonId },
    #[error("{person} already approved {request}; each person counts once")]
    AlreadyApproved { request: String, person: PersonId },
    #[error("{request} expired at {at}; ask again if it is still needed")]
    Expired { request: String, at: String },
    #[error(
        "{request} changed since it was asked for ({what}); the approval is stale and nothing ran"
    )]
    BindingChanged { request: String, what: String },
    #[error("only {requester}, who asked for {request}, can cancel it")]
    NotRequester {
        request: String,
        requester: PersonId,
    },
    #[error("{person} cannot review the break-glass use of {request}: {why}")]
    Review {
        request: String,
        person: PersonId,
        why: &'static str,
    },
    #[error("decisions are made by people of the plan, not by {0}")]
    NotAPerson(String),
    #[error("the request number {0} is not the next one")]
    OutOfOrder(String),
    #[error("{0} is still running; wait for its outcome before resolving")]
    StillRunning(String),
    #[error("escalation step {0} was already paged")]
    AlreadyPaged(String),
    #[error("escalation step {0} not paged: the pages were acknowledged or the incident resolved")]
    EscalationStopped(String),
    #[error("the page number {0} is not the next one")]
    PageOutOfOrder(String),
    #[error("no delivery {0} is owed in this incident")]
    NoSuchDelivery(String),
    #[error("delivery {delivery} is already {state}")]
    DeliverySettled {
        delivery: String,
        state: &'static str,
    },
    #[error("the escalation already ran out or was stopped")]
    NotEscalating,
    #[error(
        "{earlier} ({status}) already asks for this: the same action on the same target; decide on {earlier} instead"
    )]
    Duplicate {
        earlier: String,
        status: RequestStatus,
    },
}

impl Request {
    pub fn opened(spec: RequestSpec, by: PersonId, at: DateTime<Utc>) -> Request {
        let mut request = Request {
            status: RequestStatus::Pending,
            spec,
            requested_by: by,
            opened_at: at,
            approvers: Vec::new(),
            execute_by: None,
            decided_by: None,
            break_glass: None,
            outcome: None,
            changes: Vec::new(),
        };
        // Read-only actions and policies with no approvers are runnable at once.
        if request.spec.approvals_needed == 0 {
            request.approve_now(at);
        }
        request
    }

    fn approve_now(&mut self, at: DateTime<Utc>) {
        self.status = RequestStatus::Approved;
        // Saturate: an absurd window from a plan or a forged export must not panic here.
        let within = i64::try_from(self.spec.execute_within_secs)
            .ok()
            .and_then(Duration::try_seconds)
            .unwrap_or(Duration::MAX);
        self.execute_by = Some(
            at.checked_add_signed(within)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        );
    }

    /// The incident was resolved: what was still open closes with it, so nothing is
    /// approved or run in a closed incident.
    pub fn close_with_incident(&mut self) {
        if matches!(
            self.status,
            RequestStatus::Pending | RequestStatus::Approved
        ) {
            self.status = RequestStatus::Cancelled;
            self.outcome = Some("cancelled: the incident was resolved".to_owned());
        }
    }

    pub fn id(&self) -> &str {
        &self.spec.request
    }

    /// Approvals still missing.
    pub fn approvals_missing(&self) -> u32 {
        self.spec
            .approvals_needed
            .saturating_sub(u32::try_from(self.approvers.len()).unwrap_or(u32::MAX))
    }

    fn frozen(&self) -> Refusal {
        Refusal::Frozen {
            request: self.id().to_owned(),
            status: self.status,
        }
    }

    fn expect(&self, status: RequestStatus, expected: &'static str) -> Result<(), Refusal> {
        if self.status == status {
            Ok(())
        } else if self.status.is_frozen() {
            Err(self.frozen())
        } else {
            Err(Refusal::WrongState {
                request: self.id().to_owned(),
                status: self.status,
                expected,
            })
        }
    }

    /// Is a pending request past its expiry, or an approved one past its window, at `now`?
    pub fn is_due_to_expire(&self, now: DateTime<Utc>) -> bool {
        match self.status {
            RequestStatus::Pending => now >= self.spec.expires_at,
            RequestStatus::Approved => self.execute_by.is_some_and(|by| now >= by),
            _ => false,
        }
    }

    /// Check that `person` may add an approval now; the same rules [`Self::approve`] applies.
    pub fn check_approval(
        &self,
        person: &PersonId,
        binding: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        let id = self.id().to_owned();
        if self.status == RequestStatus::Approved && self.approvers.contains(person) {
            return Err(Refusal::AlreadyApproved {
                request: id,
                person: person.clone(),
            });
        }
        self.expect(RequestStatus::Pending, "pending")?;
        if &self.requested_by == person {
            return Err(Refusal::SelfApproval {
                request: id,
                person: person.clone(),
            });
        }
        if self.approvers.contains(person) {
            return Err(Refusal::AlreadyApproved {
                request: id,
                person: person.clone(),
            });
        }
        if now >= self.spec.expires_at {
            return Err(Refusal::Expired {
                request: id,
                at: self.spec.expires_at.to_rfc3339(),
            });
        }
        if binding != self.spec.binding {
            return Err(Refusal::BindingChanged {
                request: id,
                what: "target, parameters or plan".into(),
            });
        }
        Ok(())
    }

    pub fn approve(
        &mut self,
        person: &PersonId,
        binding: &str,
        at: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        self.check_approval(person, binding, at)?;
        self.approvers.push(person.clone());
        if self.approvals_missing() == 0 {
            self.approve_now(at);
        }
        Ok(())
    }

    /// One deny ends a pending or approved (not yet running) request.
    pub fn deny(&mut self, person: &PersonId, reason: Option<&str>) -> Result<(), Refusal> {
        if !matches!(
            self.status,
            RequestStatus::Pending | RequestStatus::Approved
        ) {
            return Err(if self.status.is_frozen() {
                self.frozen()
            } else {
                Refusal::WrongState {
                    request: self.id().into(),
                    status: self.status,
                    expected: "pending or approved",
                }
            });
        }
        self.status = RequestStatus::Denied;
        self.decided_by = Some(person.clone());
        self.outcome = Some(match reason {
            Some(r) => format!("denied by {person}: {r}"),
            None => format!("denied by {person}"),
        });
        Ok(())
    }

    pub fn cancel(&mut self, person: &PersonId) -> Result<(), Refusal> {
        if &self.requested_by != person {
            return Err(Refusal::NotRequester {
                request: self.id().into(),
                requester: self.requested_by.clone(),
            });
        }
        self.close(person, format!("cancelled by {person}"))
    }

    /// Cancelled because `person` resolves the incident with it still open.
    pub fn cancel_for_resolve(&mut self, person: &PersonId, why: &str) -> Result<(), Refusal> {
        self.close(person, format!("cancelled by {person}: {why}"))
    }

    /// An open request cancelled by `person`, with `outcome` saying how.
    fn close(&mut self, person: &PersonId, outcome: String) -> Result<(), Refusal> {
        if !matches!(
            self.status,
            RequestStatus::Pending | RequestStatus::Approved
        ) {
            return Err(self.frozen());
        }
        self.status = RequestStatus::Cancelled;
        self.decided_by = Some(person.clone());
        self.outcome = Some(outcome);
        Ok(())
    }

    pub fn expire(&mut self, at: DateTime<Utc>) -> Result<(), Refusal> {
        if !self.is_due_to_expire(at) {
            return Err(Refusal::WrongState {
                request: self.id().into(),
                status: self.status,
                expected: "due to expire",
            });
        }
        self.outcome = Some(match self.status {
            RequestStatus::Pending => format!(
                "expired: {} of {} approvals by {}",
                self.approvers.len(),
                self.spec.approvals_needed,
                self.spec.expires_at.to_rfc3339()
            ),
            _ => "expired: approved but not run within its window".to_owned(),
        });
        self.status = RequestStatus::Expired;
        Ok(())
    }

    pub fn mark_stale(&mut self, reason: &str) -> Result<(), Refusal> {
        if !matches!(
            self.status,
            RequestStatus::Pending | RequestStatus::Approved
        ) {
            return Err(self.frozen());
        }
        self.status = RequestStatus::Stale;
        self.outcome = Some(format!("stale: {reason}"));
        Ok(())
    }

    /// Run alone: the request becomes approved by the break-glass person, and a review opens.
    pub fn break_glass(
        &mut self,
        person: &PersonId,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        self.expect(RequestStatus::Pending, "pending")?;
        if at >= self.spec.expires_at {
            return Err(Refusal::Expired {
                request: self.id().into(),
                at: self.spec.expires_at.to_rfc3339(),
            });
        }
        self.break_glass = Some(BreakGlassUse {
            by: person.clone(),
            reason: reason.to_owned(),
            at,
            reviewers: Vec::new(),
        });
        self.approve_now(at);
        Ok(())
    }

    /// The compare-and-swap that makes execution happen once: Approved → Executing.
    pub fn start(&mut self, at: DateTime<Utc>) -> Result<(), Refusal> {
        self.expect(RequestStatus::Approved, "approved")?;
        if let Some(by) = self.execute_by
            && at >= by
        {
            return Err(Refusal::Expired {
                request: self.id().into(),
                at: by.to_rfc3339(),
            });
        }
        self.status = RequestStatus::Executing;
        Ok(())
    }

    pub fn finish(&mut self, ok: bool, outcome: &str) -> Result<(), Refusal> {
        self.expect(RequestStatus::Executing, "executing")?;
        self.status = if ok {
            RequestStatus::Executed
        } else {
            RequestStatus::Failed
        };
        self.outcome = Some(outcome.to_owned());
        Ok(())
    }

    /// After a crash: the action may or may not have happened. Never re-run it.
    pub fn outcome_unknown(&mut self) -> Result<(), Refusal> {
        self.expect(RequestStatus::Executing, "executing")?;
        self.status = RequestStatus::OutcomeUnknown;
        self.outcome = Some(
            "outcome unknown — warroom stopped while it ran; verify the target by hand".into(),
        );
        Ok(())
    }

    pub fn check_review(&self, person: &PersonId) -> Result<(), Refusal> {
        let request = self.id().to_owned();
        let why = match &self.break_glass {
            None => Some("it was not a break-glass use"),
            Some(bg) if &bg.by == person => Some("they broke the glass themselves"),
            Some(_) if &self.requested_by == person => Some("they asked for it"),
            Some(bg) if bg.reviewers.contains(person) => Some("they already reviewed it"),
            Some(bg) if bg.review_closed() => Some("the review is already closed"),
            Some(_) => None,
        };
        match why {
            Some(why) => Err(Refusal::Review {
                request,
                person: person.clone(),
                why,
            }),
            None => Ok(()),
        }
    }

    pub fn review(&mut self, person: &PersonId) -> Result<(), Refusal> {
        self.check_review(person)?;
        if let Some(bg) = &mut self.break_glass {
            bg.reviewers.push(person.clone());
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        format!("2026-11-27T{s}Z").parse().unwrap()
    }

    /// alice's quarantine of payments/api-7f9c, needing `needed` approvals.
    pub(crate) fn request(needed: u32) -> Request {
        let target = Target::pod("payments", "api-7f9c");
        let params = BTreeMap::new();
        let spec = RequestSpec {
            request: "R1".into(),
            action: ActionName::Quarantine,
            risk: Risk::Contain,
            cluster: "prod-eu".into(),
            binding: binding(
                ActionName::Quarantine,
                "prod-eu",
                &target,
                Some("uid-1"),
                &params,
                "plan-1",
            ),
            target,
            uid: Some("uid-1".into()),
            params,
            reason: Some("shell".into()),
            override_reason: None,
            plan_version: "plan-1".into(),
            approvals_needed: needed,
            expires_at: at("02:15:00"),
            execute_within_secs: 300,
            plan_of_change: None,
            acts_on: None,
            notes: Vec::new(),
        };
        Request::opened(spec, "alice".into(), at("02:00:00"))
    }

    #[test]
    fn the_requester_never_counts_and_each_person_counts_once() {
        let mut r = request(2);
        let b = r.spec.binding.clone();
        assert!(matches!(
            r.approve(&"alice".into(), &b, at("02:01:00")),
            Err(Refusal::SelfApproval { .. })
        ));
        r.approve(&"bob".into(), &b, at("02:01:00")).unwrap();
        assert!(matches!(
            r.approve(&"bob".into(), &b, at("02:02:00")),
            Err(Refusal::AlreadyApproved { .. })
        ));
        assert_eq!(r.status, RequestStatus::Pending);
        r.approve(&"carol".into(), &b, at("02:03:00")).unwrap();
        assert_eq!(r.status, RequestStatus::Approved);
        assert_eq!(r.execute_by, Some(at("02:08:00")));
    }

    #[test]
    fn expiry_follows_the_injected_time_not_the_wall_clock() {
        let mut r = request(1);
        let b = r.spec.binding.clone();
        assert!(!r.is_due_to_expire(at("02:14:59")));
        assert!(matches!(
            r.approve(&"bob".into(), &b, at("02:15:00")),
            Err(Refusal::Expired { .. })
        ));
        r.expire(at("02:15:00")).unwrap();
        assert_eq!(r.status, RequestStatus::Expired);
        assert!(matches!(
            r.approve(&"bob".into(), &b, at("02:15:01")),
            Err(Refusal::Frozen { .. })
        ));
    }

    #[test]
    fn an_approved_request_runs_once_within_its_window() {
        let mut r = request(1);
        let b = r.spec.binding.clone();
        r.approve(&"bob".into(), &b, at("02:01:00")).unwrap();
        let mut late = r.clone();
        assert!(matches!(
            late.start(at("02:06:00")),
            Err(Refusal::Expired { .. })
        ));
        r.start(at("02:02:00")).unwrap();
        assert!(matches!(
            r.start(at("02:02:00")),
            Err(Refusal::WrongState { .. })
        ));
        r.finish(true, "done").unwrap();
        assert!(
            r.outcome_unknown().is_err(),
            "a finished request is not unknown"
        );
    }

    #[test]
    fn a_different_binding_is_refused() {
        let mut r = request(1);
        let other = binding(
            ActionName::Quarantine,
            "prod-eu",
            &Target::pod("payments", "api-7f9c"),
            Some("uid-2"),
            &BTreeMap::new(),
            "plan-1",
        );
        assert_ne!(other, r.spec.binding);
        assert!(matches!(
            r.approve(&"bob".into(), &other, at("02:01:00")),
            Err(Refusal::BindingChanged { .. })
        ));
    }

    #[test]
    fn deny_ends_it_and_cancel_is_for_the_requester() {
        let mut r = request(1);
        assert!(matches!(
            r.cancel(&"bob".into()),
            Err(Refusal::NotRequester { .. })
        ));
        r.deny(&"bob".into(), Some("wrong pod")).unwrap();
        assert_eq!(r.outcome.as_deref(), Some("denied by bob: wrong pod"));
        assert!(r.cancel(&"alice".into()).is_err());
    }

    #[test]
    fn break_glass_reviews_need_two_other_people() {
        let mut r = request(1);
        r.break_glass(&"carol".into(), "exfiltration", at("02:01:00"))
            .unwrap();
        assert_eq!(r.status, RequestStatus::Approved);
        r.start(at("02:01:01")).unwrap();
        r.finish(true, "isolated").unwrap();
        for who in ["carol", "alice"] {
            assert!(r.review(&who.into()).is_err(), "{who}");
        }
        r.review(&"bob".into()).unwrap();
        assert!(r.review(&"bob".into()).is_err());
        r.review(&"dave".into()).unwrap();
        assert!(r.break_glass.as_ref().unwrap().review_closed());
        assert!(r.review(&"erin".into()).is_err());
    }

    #[test]
    fn read_actions_with_no_approvers_are_runnable_at_once() {
        let r = request(0);
        assert_eq!(r.status, RequestStatus::Approved);
    }
}
