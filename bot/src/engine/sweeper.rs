//! Time-driven work: expiring requests, escalating pages, and recovering from a crash
//! mid-action.

use std::sync::Arc;
use std::time::Duration;

use warroom_commands::{Actor, Event, RequestStatus};

use super::{Engine, render};

impl Engine {
    /// Requests found `Executing` at start: warroom died while they ran. Their outcome is
    /// unknown; say so in the timeline and channel and never run them again.
    pub async fn recover(&self) -> Result<usize, warroom_ledger::LedgerError> {
        let mut found = 0;
        let all = self.ledger.incidents()?;
        self.watch_escalations(&all);
        *self
            .unpaged_at_start
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(
            all.iter()
                .filter(|i| super::alerts::may_be_unpaged_alert(i))
                .map(|i| i.id.clone())
                .collect(),
        );
        // Deliveries owed when warroom stopped are sent again by the sweeper.
        self.owing.lock().unwrap_or_else(|p| p.into_inner()).extend(
            all.iter()
                .filter(|i| {
                    warroom_commands::outbox::unsettled(&i.outbox)
                        .next()
                        .is_some()
                })
                .map(|i| i.id.clone()),
        );
        self.watched
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(
                all.iter()
                    .filter(|i| i.status != warroom_commands::IncidentStatus::Resolved)
                    .map(|i| i.id.clone()),
            );
        for incident in all {
            let open: Vec<_> = incident
                .requests
                .iter()
                .filter(|r| !r.status.is_frozen())
                .map(|r| r.id().to_owned())
                .collect();
            if !open.is_empty() {
                self.open_requests
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(incident.id.clone());
            }
            for r in incident
                .requests
                .iter()
                .filter(|r| r.status == RequestStatus::Executing)
            {
                let event = Event::RequestOutcomeUnknown {
                    request: r.id().to_owned(),
                };
                let c = self
                    .write(self.ledger.append(&incident.id, &Actor::System, event))
                    .await?;
                found += 1;
                tracing::warn!(incident = %incident.id, request = r.id(), "request was executing when warroom stopped: outcome unknown");
                self.post(
                    &c.incident,
                    &format!(
                        "⚠ {} outcome unknown — verify: warroom stopped while it ran {} {} on {}. It will not be re-run; check the target by hand and record what you find with `note`.\n{}",
                        r.id(), r.spec.action, r.spec.target, r.spec.cluster, render::chain_head(&c.incident)
                    ),
                )
                .await;
            }
        }
        Ok(found)
    }

    /// Expire what is due now. Returns how many requests expired.
    pub async fn sweep(&self) -> usize {
        let now = self.clock.now();
        let ids: Vec<_> = self
            .open_requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect();
        let mut expired = 0;
        for id in ids {
            let Ok(incident) = self.ledger.incident(&id) else {
                continue;
            };
            for r in incident.requests.iter().filter(|r| r.is_due_to_expire(now)) {
                let event = Event::RequestExpired {
                    request: r.id().to_owned(),
                };
                // A decision may have won the race since we read: a refusal is fine.
                if self
                    .decide(&Actor::System, &id, r.id(), event)
                    .await
                    .is_ok()
                {
                    expired += 1;
                }
            }
            // Under the lock, so a request written meanwhile (write() inserts after its
            // commit, under the same lock) is not dropped from the sweep.
            let mut open = self.open_requests.lock().unwrap_or_else(|p| p.into_inner());
            if let Ok(now_incident) = self.ledger.incident(&id)
                && now_incident.requests.iter().all(|r| r.status.is_frozen())
            {
                open.remove(&id);
            }
        }
        expired
    }

    /// Sweep once a second until the process ends.
    pub fn start_sweeper(self: &Arc<Self>) {
        let engine = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                engine.sweep().await;
                engine.resume_deliveries().await;
                engine.escalate_due().await;
                engine.flush_alert_edits().await;
                engine.nudge_due().await;
            }
        });
    }
}
