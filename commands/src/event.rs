//! What can happen in an incident: each timeline entry records one event.
//!
//! On the wire an event is split into `kind` (a dotted name) and `data` (an object), so that
//! an auditor's script can read the timeline without knowing every kind.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Severity;
use crate::command::IncidentRole;
use crate::outbox::{Delivery, SendKind};
use crate::reminders::Reminder;
use crate::request::RequestSpec;
use warroom_config::PersonId;

/// One tier of an escalation policy, in one run-through (`round` 0 is the first).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationStep {
    pub policy: String,
    pub tier: u32,
    pub round: u32,
}

impl std::fmt::Display for EscalationStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} tier {} (round {})",
            self.policy,
            self.tier + 1,
            self.round + 1
        )
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", deny_unknown_fields)]
pub enum Event {
    #[serde(rename = "incident.opened")]
    IncidentOpened {
        title: String,
        severity: Severity,
        /// The alert rule that opened it, in the same write: a restart that finds it never
        /// paged pages it as the rule says.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        alert_rule: Option<String>,
    },
    #[serde(rename = "incident.severity")]
    SeverityChanged { from: Severity, to: Severity },
    #[serde(rename = "incident.resolved")]
    Resolved { summary: String },
    #[serde(rename = "note")]
    Note { text: String },
    /// An alert met a plan rule and opened or joined this incident.
    #[serde(rename = "alert.received")]
    AlertReceived {
        /// `alertmanager`, `falco` or `events_v2`.
        intake: String,
        rule: String,
        fingerprint: String,
        title: String,
        /// The alert's fields as received (bounded), for the record.
        fields: std::collections::BTreeMap<String, String>,
        /// Alertmanager's annotations (description, runbook_url, …), bounded likewise.
        #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
        annotations: std::collections::BTreeMap<String, String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        started_at: Option<String>,
    },
    /// The sender says someone acknowledged the alert at its side (Events API v2
    /// `acknowledge`, as PagerDuty takes it): escalation stops.
    #[serde(rename = "alert.acknowledged")]
    AlertAcknowledged { fingerprint: String },
    /// The sender said the alert is over.
    #[serde(rename = "alert.resolved")]
    AlertResolved {
        fingerprint: String,
        repeats: u64,
        /// Its escalation had run out with nobody acknowledging: a refire pages again, as
        /// after an end while paging went on.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        after_exhausted: bool,
    },
    /// A chat message someone marked for the timeline (📌 on Slack), kept with its own
    /// author and time so the timeline reads in the order things were said.
    #[serde(rename = "message.pinned")]
    MessagePinned {
        platform: String,
        channel: String,
        /// The platform's message id (Slack: `ts`).
        message: String,
        /// `person:ID` when the author is in the plan, else the platform's user id.
        author: String,
        /// When the message was posted (RFC 3339).
        posted_at: String,
        text: String,
        permalink: String,
    },
    /// An artifact stored in the evidence store. The chain carries its digest, so an export
    /// proves which bytes were collected, by whom and under which approval.
    #[serde(rename = "evidence.recorded")]
    EvidenceRecorded {
        evidence_id: String,
        name: String,
        sha256: String,
        size: u64,
        location: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        approval: Option<String>,
    },
    #[serde(rename = "incident.role")]
    RoleAssigned {
        role: IncidentRole,
        person: PersonId,
    },
    /// A status update for stakeholders.
    #[serde(rename = "status.update")]
    StatusUpdate { text: String },
    #[serde(rename = "page.sent")]
    Paged {
        target: String,
        people: Vec<PersonId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        /// Set when an escalation policy pages: which tier of which run-through.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<EscalationStep>,
        /// The page's number (`P2`), given by the ledger's writer; deliveries are named
        /// after it. Absent in entries written before pages had an outbox.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        page: Option<String>,
        /// Every (person, channel) delivery the page owes, recorded before anyone is
        /// contacted.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        deliveries: Vec<Delivery>,
        /// Set when the escalation's timer decided this step (the next tier, or the next
        /// run-through): refused if the escalation stopped before it was written (someone
        /// acknowledged, or the alert ended), since it was decided before that. A refire's
        /// first step is not one of these.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        escalated: bool,
    },
    /// The channels that paged are told the pages stopped mattering (acknowledged or
    /// resolved): owed like a page's deliveries.
    #[serde(rename = "page.follow_up")]
    PageFollowUp {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        page: Option<String>,
        about: SendKind,
        /// Who acknowledged, or how it was resolved: what the follow-up tells.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
        deliveries: Vec<Delivery>,
    },
    /// A channel accepted an owed delivery.
    #[serde(rename = "page.delivered")]
    PageDelivered {
        delivery: String,
        attempts: u32,
        /// What the channel knows it by: `dedup_key …`, `Message-ID <…>`,
        /// `Idempotency-Key …`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        receipt: Option<String>,
    },
    /// A channel refused or did not answer; warroom keeps trying (written once per delivery).
    #[serde(rename = "page.retrying")]
    PageRetrying {
        delivery: String,
        attempts: u32,
        error: String,
    },
    /// Warroom gave up on a delivery.
    #[serde(rename = "page.failed")]
    PageFailed {
        delivery: String,
        attempts: u32,
        error: String,
    },
    /// The escalation policy ran out with nobody acknowledging.
    #[serde(rename = "escalation.exhausted")]
    EscalationExhausted { policy: String, rounds: u32 },
    /// The incident's channel on a chat platform (created or found), so a restart finds it
    /// again without asking the platform.
    #[serde(rename = "chat.channel")]
    ChatChannel {
        platform: String,
        channel: String,
        name: String,
    },
    /// Where a request's approval card was posted, so a later decision edits that message.
    #[serde(rename = "chat.card")]
    ChatCard {
        platform: String,
        request: String,
        channel: String,
        message: String,
    },
    /// A reminder was posted in the incident's channel.
    #[serde(rename = "reminder.sent")]
    ReminderSent { reminder: Reminder },
    /// The entry's actor acknowledged their pages.
    #[serde(rename = "page.acknowledged")]
    PageAcknowledged {},
    #[serde(rename = "request.opened")]
    RequestOpened(Box<RequestSpec>),
    /// The entry's actor approved; `binding` is what they saw, checked against the request.
    #[serde(rename = "request.approved")]
    RequestApproved { request: String, binding: String },
    #[serde(rename = "request.denied")]
    RequestDenied {
        request: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    #[serde(rename = "request.cancelled")]
    /// Withdrawn by its requester; or, with `reason`, cancelled by whoever resolved the
    /// incident (`incident resolve --confirm`), one entry per open request.
    RequestCancelled {
        request: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    #[serde(rename = "request.expired")]
    RequestExpired { request: String },
    /// The target or plan changed after the request was made: nothing runs.
    #[serde(rename = "request.stale")]
    RequestStale { request: String, reason: String },
    #[serde(rename = "request.break_glass")]
    BreakGlass { request: String, reason: String },
    #[serde(rename = "request.executing")]
    RequestExecuting { request: String },
    #[serde(rename = "request.executed")]
    RequestExecuted {
        request: String,
        /// True when nothing was changed: the result says what would have been applied.
        dry_run: bool,
        summary: String,
        /// The objects and patches applied (or that would be), before/after where known.
        result: Value,
    },
    #[serde(rename = "request.failed")]
    RequestFailed {
        request: String,
        error: String,
        /// What the action had already changed when it failed (same shape as
        /// `request.executed`'s result), when it changed anything.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        result: Option<Value>,
    },
    #[serde(rename = "request.outcome_unknown")]
    RequestOutcomeUnknown { request: String },
    /// A game day's scorecard, kept so later runs of the same scenario are compared with it.
    #[serde(rename = "drill.scored")]
    DrillScored { scenario: String, scorecard: Value },
    /// One of the two reviews a break-glass use needs.
    #[serde(rename = "review.signed")]
    ReviewSigned {
        request: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("timeline entry kind `{kind}` with data {data} is not understood: {reason}")]
    Unreadable {
        kind: String,
        data: String,
        reason: String,
    },
}

impl Event {
    /// Split into the `(kind, data)` pair stored in a timeline entry.
    pub fn to_parts(&self) -> (String, Value) {
        // Serialising a plain enum of strings and integers into a Value cannot fail.
        let mut value = serde_json::to_value(self).unwrap_or(Value::Null);
        let kind = value
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let data = value
            .as_object_mut()
            .and_then(|o| o.remove("data"))
            .unwrap_or(Value::Object(Default::default()));
        (kind, data)
    }

    pub fn from_parts(kind: &str, data: &Value) -> Result<Event, EventError> {
        let joined = serde_json::json!({ "kind": kind, "data": data });
        serde_json::from_value(joined).map_err(|e| EventError::Unreadable {
            kind: kind.to_string(),
            data: data.to_string(),
            reason: e.to_string(),
        })
    }

    /// What an executed action changed, one line each (see [`crate::change`]); empty for
    /// every other event.
    pub fn changes(&self) -> Vec<String> {
        match self {
            Event::RequestExecuted { result, .. } => crate::change::lines(result),
            _ => Vec::new(),
        }
    }

    /// One line for humans: the Markdown export and `incident show` use it.
    pub fn describe(&self) -> String {
        match self {
            Event::IncidentOpened {
                title, severity, ..
            } => {
                format!("Incident opened ({severity}): {title}")
            }
            Event::SeverityChanged { from, to } => format!("Severity changed {from} → {to}"),
            Event::Resolved { summary } => format!("Resolved: {summary}"),
            Event::Note { text } => format!("Note: {text}"),
            Event::AlertReceived {
                intake,
                rule,
                title,
                ..
            } => format!("Alert from {intake} (rule {rule}): {title}"),
            Event::AlertAcknowledged { fingerprint } => {
                format!("Alert acknowledged at its source ({fingerprint}); escalation stopped")
            }
            Event::AlertResolved {
                fingerprint,
                repeats,
                ..
            } => format!("Alert resolved by its sender ({fingerprint}, {repeats} repeat(s))"),
            Event::MessagePinned {
                author,
                posted_at,
                text,
                permalink,
                ..
            } => format!("Pinned message by {author} at {posted_at}: {text} ({permalink})"),
            Event::EvidenceRecorded {
                name, sha256, size, ..
            } => format!("Evidence `{name}` recorded ({size} bytes, sha256 {sha256})"),
            Event::RoleAssigned { role, person } => format!("{person} is {role}"),
            Event::StatusUpdate { text } => format!("Status update: {text}"),
            Event::Paged {
                target,
                people,
                text,
                step,
                page,
                deliveries,
                ..
            } => {
                let who: Vec<&str> = people.iter().map(PersonId::as_str).collect();
                let mut line = match page {
                    Some(p) => format!("Page {p}: paged {target} ({})", who.join(", ")),
                    None => format!("Paged {target} ({})", who.join(", ")),
                };
                if let Some(step) = step {
                    line.push_str(&format!(", step {step}"));
                }
                if let Some(t) = text {
                    line.push_str(&format!(": {t}"));
                }
                if !deliveries.is_empty() {
                    line.push_str(&format!(" [{} deliveries owed]", deliveries.len()));
                }
                line
            }
            Event::PageFollowUp {
                page,
                about,
                deliveries,
                ..
            } => format!(
                "Follow-up {}: pages {about}, {} deliveries owed",
                page.as_deref().unwrap_or("-"),
                deliveries.len()
            ),
            Event::PageDelivered {
                delivery,
                attempts,
                receipt,
            } => match receipt {
                Some(r) => format!("Delivered {delivery} (attempt {attempts}, {r})"),
                None => format!("Delivered {delivery} (attempt {attempts})"),
            },
            Event::PageRetrying {
                delivery,
                attempts,
                error,
            } => format!("Retrying {delivery} after attempt {attempts}: {error}"),
            Event::PageFailed {
                delivery,
                attempts,
                error,
            } => format!("FAILED {delivery} after {attempts} attempt(s): {error}"),
            Event::EscalationExhausted { policy, rounds } => format!(
                "Escalation {policy} ran out after {rounds} round(s) with nobody acknowledging"
            ),
            Event::ChatChannel {
                platform,
                channel,
                name,
            } => format!("Channel #{name} on {platform} ({channel})"),
            Event::ChatCard {
                platform,
                request,
                message,
                ..
            } => format!("Approval card for {request} posted on {platform} ({message})"),
            Event::ReminderSent { reminder } => match reminder {
                Reminder::Commander => "Reminder: no commander".to_owned(),
                Reminder::StatusUpdate => "Reminder: status update overdue".to_owned(),
            },
            Event::PageAcknowledged {} => "Page acknowledged".to_owned(),
            Event::RequestOpened(spec) => {
                let reason = spec
                    .reason
                    .as_deref()
                    .map(|r| format!(" — {r}"))
                    .unwrap_or_default();
                format!(
                    "{} requested: {} {} on {} ({} approval(s) needed){reason}",
                    spec.request, spec.action, spec.target, spec.cluster, spec.approvals_needed
                )
            }
            Event::RequestApproved { request, .. } => format!("{request} approved"),
            Event::RequestDenied { request, reason } => match reason {
                Some(r) => format!("{request} denied: {r}"),
                None => format!("{request} denied"),
            },
            Event::RequestCancelled {
                request,
                reason: None,
            } => format!("{request} cancelled"),
            Event::RequestCancelled {
                request,
                reason: Some(why),
            } => format!("{request} cancelled: {why}"),
            Event::RequestExpired { request } => format!("{request} expired"),
            Event::RequestStale { request, reason } => format!("{request} stale: {reason}"),
            Event::BreakGlass { request, reason } => format!("BREAK-GLASS on {request}: {reason}"),
            Event::RequestExecuting { request } => format!("{request} executing"),
            Event::RequestExecuted {
                request,
                dry_run,
                summary,
                ..
            } => {
                let mode = if *dry_run { " (dry run)" } else { "" };
                format!("{request} executed{mode}: {summary}")
            }
            Event::RequestFailed { request, error, .. } => format!("{request} failed: {error}"),
            Event::RequestOutcomeUnknown { request } => {
                format!("{request} outcome unknown — verify the target by hand")
            }
            Event::ReviewSigned { request, .. } => {
                format!("Break-glass review of {request} signed")
            }
            Event::DrillScored { scenario, .. } => {
                format!("Game day {scenario} scored (the scorecard is in this entry's data)")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_into_kind_and_data_and_back() {
        let e = Event::IncidentOpened {
            title: "Shell in payments-api".into(),
            severity: Severity::Sev2,
            alert_rule: None,
        };
        let (kind, data) = e.to_parts();
        assert_eq!(kind, "incident.opened");
        assert_eq!(data["severity"], "sev2");
        assert_eq!(Event::from_parts(&kind, &data).unwrap(), e);
    }

    #[test]
    fn unknown_kinds_and_fields_are_reported_not_guessed() {
        let err = Event::from_parts("incident.exploded", &serde_json::json!({})).unwrap_err();
        assert!(err.to_string().contains("incident.exploded"));
        let err =
            Event::from_parts("note", &serde_json::json!({"text": "x", "extra": 1})).unwrap_err();
        assert!(err.to_string().contains("extra"), "{err}");
    }
}
