//! Reminders in the incident's channel: no commander, no status update within the cadence.
//! What is due comes from the record (`warroom_commands::reminders`); each reminder is a
//! `reminder.sent` entry written before it is posted, so a restart neither repeats one nor
//! (short of a crash between the write and the post) drops one.

use warroom_commands::reminders::{self, Reminder};
use warroom_commands::{Actor, Event, IncidentId, IncidentStatus};

use super::Engine;

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
        let every = self.plan.plan.communication.status_update_every;
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
            for reminder in reminders::due(&incident, every, now) {
                let event = Event::ReminderSent { reminder };
                let Ok(c) = self
                    .write(self.ledger.append(&id, &Actor::System, event))
                    .await
                else {
                    continue;
                };
                let text = match reminder {
                    Reminder::Commander => format!(
                        "⏰ {} has no commander yet. Someone take it: `role commander @PERSON`.",
                        id
                    ),
                    Reminder::StatusUpdate => format!(
                        "⏰ No status update on {} for {}: stakeholders are waiting. `status-update TEXT`.",
                        id,
                        warroom_config::format_duration(every)
                    ),
                };
                self.post(&c.incident, &text).await;
                sent += 1;
            }
        }
        sent
    }
}
