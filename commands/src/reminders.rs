//! Reminders, as the good incident tools give them: an incident without a commander, or
//! without a status update within the plan's cadence, is told so in its channel — a few
//! times, spaced out, never a flood.
//!
//! Each reminder is a `reminder.sent` timeline entry, and the record counts them, so what is
//! due is a pure function of the record and the time: a restart neither repeats one nor
//! drops one.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::Incident;
use crate::command::IncidentRole;

/// How long an incident may go without a commander before the first reminder.
pub const COMMANDER_AFTER: TimeDelta = TimeDelta::minutes(5);
/// Reminders of one kind per incident (for the status cadence: per missed update).
pub const MAX_REMINDERS: u32 = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reminder {
    /// Nobody took the commander role.
    Commander,
    /// No status update within the cadence.
    StatusUpdate,
}

/// How many reminders of a kind were sent since the last reset, and when the last was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reminded {
    pub count: u32,
    pub last_at: DateTime<Utc>,
}

/// The reminders due for `incident` at `now`, given the plan's status-update cadence.
pub fn due(incident: &Incident, status_every: Duration, now: DateTime<Utc>) -> Vec<Reminder> {
    let cadence = TimeDelta::from_std(status_every).unwrap_or(TimeDelta::MAX);
    let mut found = Vec::new();
    if !incident.roles.contains_key(&IncidentRole::Commander)
        && is_due(
            incident,
            Reminder::Commander,
            incident.opened_at.checked_add_signed(COMMANDER_AFTER),
            cadence.min(TimeDelta::minutes(10)),
            now,
        )
    {
        found.push(Reminder::Commander);
    }
    let since = incident.last_status_update.unwrap_or(incident.opened_at);
    if is_due(
        incident,
        Reminder::StatusUpdate,
        since.checked_add_signed(cadence),
        cadence,
        now,
    ) {
        found.push(Reminder::StatusUpdate);
    }
    found
}

/// The first at `first`, then every `every`, at most [`MAX_REMINDERS`].
fn is_due(
    incident: &Incident,
    kind: Reminder,
    first: Option<DateTime<Utc>>,
    every: TimeDelta,
    now: DateTime<Utc>,
) -> bool {
    let Some(first) = first else {
        return false;
    };
    let next = match incident.reminders.get(&kind) {
        None => Some(first),
        Some(r) if r.count >= MAX_REMINDERS => None,
        Some(r) => r.last_at.checked_add_signed(every),
    };
    next.is_some_and(|next| now >= next.max(first))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Actor, Event, IncidentId, Severity};

    fn at(min: i64) -> DateTime<Utc> {
        "2026-11-27T02:00:00Z".parse::<DateTime<Utc>>().unwrap() + TimeDelta::minutes(min)
    }

    fn incident() -> Incident {
        let id: IncidentId = "INC-20261127-0001".parse().unwrap();
        Incident::opened(id, "t".into(), Severity::Sev2, at(0), Actor::System)
    }

    fn remind(i: &mut Incident, kind: Reminder, when: DateTime<Utc>) {
        i.apply(
            &Event::ReminderSent { reminder: kind },
            &Actor::System,
            when,
            "h",
        )
        .unwrap();
    }

    #[test]
    fn reminders_come_spaced_and_stop_after_three_counted_in_the_record() {
        let every = Duration::from_secs(30 * 60);
        let mut i = incident();
        assert!(due(&i, every, at(4)).is_empty());
        assert_eq!(due(&i, every, at(5)), vec![Reminder::Commander]);
        remind(&mut i, Reminder::Commander, at(5));
        assert!(due(&i, every, at(14)).is_empty(), "spaced ten minutes");
        remind(&mut i, Reminder::Commander, at(15));
        remind(&mut i, Reminder::Commander, at(25));
        assert_eq!(due(&i, every, at(30)), vec![Reminder::StatusUpdate]);
        assert!(!due(&i, every, at(300)).contains(&Reminder::Commander));
    }

    #[test]
    fn a_status_update_starts_the_count_again() {
        let every = Duration::from_secs(30 * 60);
        let mut i = incident();
        for m in [30, 60, 90] {
            remind(&mut i, Reminder::StatusUpdate, at(m));
        }
        assert!(!due(&i, every, at(200)).contains(&Reminder::StatusUpdate));
        i.apply(
            &Event::StatusUpdate { text: "x".into() },
            &Actor::Person("alice".into()),
            at(200),
            "h",
        )
        .unwrap();
        assert!(!due(&i, every, at(229)).contains(&Reminder::StatusUpdate));
        assert!(due(&i, every, at(230)).contains(&Reminder::StatusUpdate));
    }
}
