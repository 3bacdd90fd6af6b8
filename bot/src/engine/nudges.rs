//! Reminders, as the good incident tools give them: an incident without a commander, or
//! without a status update within the plan's cadence, is told so in its channel — a few
//! times, spaced out, never a flood.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use warroom_commands::command::IncidentRole;
use warroom_commands::{Incident, IncidentId, IncidentStatus};

use super::Engine;

/// How long an incident may go without a commander before the first reminder.
pub const COMMANDER_AFTER: TimeDelta = TimeDelta::minutes(5);
/// Reminders of one kind per incident (for the status cadence: per missed update).
pub const MAX_NUDGES: u32 = 3;

/// What was last said, per incident and kind.
#[derive(Default)]
pub struct NudgeLog {
    sent: HashMap<(IncidentId, Kind), Sent>,
}

/// Reminders sent so far, the last one's time, and the epoch they belong to.
type Sent = (u32, DateTime<Utc>, Option<DateTime<Utc>>);

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Commander,
    StatusUpdate,
}

impl Engine {
    /// Post the reminders that are due; returns how many.
    pub async fn nudge_due(&self) -> usize {
        let now = self.clock.now();
        let ids: Vec<IncidentId> = self
            .watched
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect();
        let mut sent = 0;
        for id in ids {
            let Ok(incident) = self.ledger.incident(&id) else {
                continue;
            };
            if incident.status == IncidentStatus::Resolved {
                self.watched
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&id);
                continue;
            }
            for text in self.due_nudges(&incident, now) {
                self.post(&incident, &text).await;
                sent += 1;
            }
        }
        sent
    }

    fn due_nudges(&self, incident: &Incident, now: DateTime<Utc>) -> Vec<String> {
        let cadence = TimeDelta::from_std(self.plan.plan.communication.status_update_every)
            .unwrap_or(TimeDelta::MAX);
        let mut due = Vec::new();
        if !incident.roles.contains_key(&IncidentRole::Commander)
            && self.nudge(
                incident,
                Kind::Commander,
                incident.opened_at + COMMANDER_AFTER,
                cadence.min(TimeDelta::minutes(10)),
                None,
                now,
            )
        {
            due.push(format!(
                "⏰ {} has no commander yet. Someone take it: `role commander @PERSON`.",
                incident.id
            ));
        }
        let since = incident.last_status_update.unwrap_or(incident.opened_at);
        if let Some(first) = since.checked_add_signed(cadence)
            && self.nudge(
                incident,
                Kind::StatusUpdate,
                first,
                cadence,
                Some(since),
                now,
            )
        {
            due.push(format!(
                "⏰ No status update on {} for {}: stakeholders are waiting. `status-update TEXT`.",
                incident.id,
                warroom_config::format_duration(self.plan.plan.communication.status_update_every)
            ));
        }
        due
    }

    /// Whether a reminder of `kind` is due: the first at `first`, then every `every`, at most
    /// [`MAX_NUDGES`]; a new `epoch` (a status update was posted) starts the count again.
    fn nudge(
        &self,
        incident: &Incident,
        kind: Kind,
        first: DateTime<Utc>,
        every: TimeDelta,
        epoch: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> bool {
        if now < first {
            return false;
        }
        let mut log = self.nudges.lock().unwrap_or_else(|p| p.into_inner());
        let entry = log
            .sent
            .entry((incident.id.clone(), kind))
            .or_insert((0, first, epoch));
        if entry.2 != epoch {
            *entry = (0, first, epoch);
        }
        let (count, last, _) = *entry;
        let next = if count == 0 { first } else { last + every };
        if count >= MAX_NUDGES || now < next {
            return false;
        }
        *entry = (count + 1, now, epoch);
        true
    }
}
