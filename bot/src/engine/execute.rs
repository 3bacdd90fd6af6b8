//! Running an approved request, exactly once.
//!
//! Guarantees: the action runs only after the ledger recorded Approved → Executing for it
//! (a compare-and-swap in the single writer), so two approvers, a retried click or a restart
//! cannot run it twice; the outcome (result or error) is recorded before it is announced.
//! Assumes: the target was re-read and matched the approval just before. Caveat: if warroom
//! dies between Executing and the outcome, the request is reported "outcome unknown" at the
//! next start and is never re-run (see `sweeper`).

use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument as _;

use warroom_adapters::chat::MessageRef;
use warroom_adapters::cluster::{Execution, Progress, ProgressUpdate, Resolved};
use warroom_commands::{Actor, Event, Incident, IncidentId, Request, RequestStatus};
use warroom_config::ActionName;

use super::Engine;

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// How long a command's reply waits for the action before saying "still running".
const WAIT_FOR_OUTCOME: Duration = Duration::from_secs(2);

impl Engine {
    pub(super) fn execution(
        &self,
        incident: &Incident,
        request: &Request,
        resolved: Resolved,
    ) -> Execution {
        let plan = &self.plan.plan;
        Execution {
            incident: incident.id.clone(),
            request: request.id().to_owned(),
            action: request.spec.action,
            resolved,
            params: request.spec.params.clone(),
            reason: request.spec.reason.clone(),
            requested_by: request.requested_by.clone(),
            approvers: request.approvers.clone(),
            allow_dns: plan.guardrails.quarantine_allow_dns,
            investigation_labels: plan.guardrails.investigation_labels.clone(),
            progress: None,
            undoes: self.undone_result(incident, request),
            acts_on: request.spec.acts_on.clone(),
        }
    }

    /// What an undo sets back (`unprotect`, `uncordon`, `unrevoke`): the values its target
    /// had before warroom acted, from the results of the `protect` / `cordon` and `drain` /
    /// `revoke` of the same target and cluster executed in this incident since the last
    /// executed undo of it (see [`warroom_commands::undo`]). Dry runs changed nothing and
    /// are left out.
    fn undone_result(&self, incident: &Incident, request: &Request) -> Option<serde_json::Value> {
        let undo = request.spec.action;
        let undone: &[ActionName] = match undo {
            ActionName::Unprotect => &[ActionName::Protect],
            // A drain cordons first, and records what that cordon found.
            ActionName::Uncordon => &[ActionName::Cordon, ActionName::Drain],
            ActionName::Unrevoke => &[ActionName::Revoke],
            _ => return None,
        };
        let same_target = |id: &serde_json::Value| {
            incident
                .requests
                .iter()
                .find(|r| *id == r.id())
                .filter(|r| {
                    r.spec.cluster == request.spec.cluster && r.spec.target == request.spec.target
                })
        };
        let entries = self.ledger.timeline(&incident.id).ok()?;
        // Executed, or failed after changing something (the parts a protect applied, the
        // cordon a drain made before a disruption budget stopped it).
        let acted = entries.iter().filter(|e| {
            (e.kind == "request.executed" && e.data["dry_run"] != true)
                || (e.kind == "request.failed" && e.data["result"].is_object())
        });
        let mut since_undo: Vec<&serde_json::Value> = Vec::new();
        for e in acted {
            match same_target(&e.data["request"]).map(|r| r.spec.action) {
                Some(a) if undone.contains(&a) => since_undo.push(&e.data["result"]),
                Some(a) if a == undo && e.kind == "request.executed" => since_undo.clear(),
                _ => {}
            }
        }
        warroom_commands::undo::before_warroom(since_undo)
    }

    /// Post progress of a long action to the incident's channels as it comes: lines as
    /// messages of their own, the status as one message per channel edited in place.
    fn forward_progress(&self, incident: &Incident) -> Progress {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<ProgressUpdate>();
        let chats = self.chats.clone();
        let channels = self
            .channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&incident.id)
            .cloned()
            .unwrap_or_default();
        tokio::spawn(async move {
            // The status message on each channel, once posted.
            let mut status: Vec<Option<MessageRef>> = vec![None; channels.len()];
            while let Some(update) = rx.recv().await {
                for (ch, shown) in channels.iter().zip(status.iter_mut()) {
                    let Some(chat) = chats.iter().find(|c| c.platform() == ch.platform) else {
                        continue;
                    };
                    match &update {
                        ProgressUpdate::Line(text) => {
                            let _ = chat.post(ch, text).await;
                        }
                        ProgressUpdate::Status(text) => match shown {
                            Some(m) if chat.update(m, text).await.is_ok() => {}
                            // First status, or the edit failed: post it anew.
                            _ => *shown = chat.post(ch, text).await.ok(),
                        },
                    }
                }
            }
        });
        Progress(tx)
    }

    /// Record each artifact an action stored, under the request that approved it.
    async fn record_artifacts(
        &self,
        id: &IncidentId,
        request: &str,
        artifacts: &[warroom_adapters::cluster::CapturedArtifact],
    ) -> Result<(), String> {
        for a in artifacts {
            let evidence = warroom_ledger::NewEvidence {
                name: a.name.clone(),
                sha256: a.stored.sha256.clone(),
                size: a.stored.size,
                location: a.stored.location.clone(),
                approval: Some(request.to_owned()),
            };
            self.write(self.ledger.record_evidence(id, &Actor::System, evidence))
                .await
                .map_err(|e| {
                    format!(
                        "artifact {} stored at {} but not recorded: {e}",
                        a.name, a.stored.location
                    )
                })?;
        }
        Ok(())
    }

    /// Start the run in the background and wait a little for its outcome, so quick actions
    /// answer in one reply and slow ones still answer promptly.
    pub(super) async fn run_and_wait(
        self: &Arc<Self>,
        incident: &IncidentId,
        request: &str,
    ) -> String {
        let engine = self.clone();
        let (incident, request) = (incident.clone(), request.to_owned());
        let task = tokio::spawn(async move { engine.run(&incident, &request).await });
        match tokio::time::timeout(WAIT_FOR_OUTCOME, task).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(e)) => format!("the run stopped unexpectedly ({e}); check the timeline"),
            Err(_) => "running; the outcome will be posted in the channel and timeline".to_owned(),
        }
    }

    /// Run an approved request once.
    ///
    /// Guarantees: the run starts only after `Executing` is durably recorded (the
    /// compare-and-swap a second run loses), with `ack = "replicated"` only once the copy
    /// holds it, and only while this ledger still accepts writes (a lapsed lease or a held
    /// copy stops it just before the action). Assumes the executor refuses a target whose UID
    /// changed. Caveat: a process killed during the action leaves `Executing`, reported
    /// "outcome unknown — verify" on restart, never run again.
    async fn run(&self, id: &IncidentId, request_id: &str) -> String {
        let span = tracing::info_span!("execute", incident = %id, request = request_id);
        self.run_in_span(id, request_id).instrument(span).await
    }

    async fn run_in_span(&self, id: &IncidentId, request_id: &str) -> String {
        let incident = match self.ledger.incident(id) {
            Ok(i) => i,
            Err(e) => return format!("not run: {e}"),
        };
        let Some(request) = incident.request(request_id).cloned() else {
            return format!("not run: no request {request_id}");
        };
        if request.status != RequestStatus::Approved {
            return format!("not run: {request_id} is {}", request.status);
        }
        // Re-read the target: what runs must be what was approved.
        let resolved = match self
            .cluster
            .resolve(&request.spec.cluster, &request.spec.target)
            .await
        {
            Ok(r) if r.uid == request.spec.uid => r,
            Ok(r) => {
                let reason = format!(
                    "{} was replaced before it ran: uid {} is now {}",
                    request.spec.target,
                    request.spec.uid.as_deref().unwrap_or("(unknown)"),
                    r.uid.as_deref().unwrap_or("(unknown)")
                );
                return self.finish_stale(&incident, &request, reason).await;
            }
            Err(e @ warroom_adapters::cluster::ClusterError::NotFound { .. }) => {
                return self.finish_stale(&incident, &request, e.to_string()).await;
            }
            // Not a changed target: the cluster did not answer (its transient errors were
            // already retried). Nothing ran; the timeline says why in those words.
            Err(e) => {
                let reason = format!(
                    "{} could not be read again just before running, so nothing was changed ({e}); ask again once cluster {} answers",
                    request.spec.target, request.spec.cluster
                );
                return self.finish_stale(&incident, &request, reason).await;
            }
        };
        let start = Event::RequestExecuting {
            request: request_id.to_owned(),
        };
        let started = match self
            .write(self.ledger.append(id, &Actor::System, start))
            .await
        {
            Ok(c) => c,
            // Someone else's swap won: that run owns the outcome.
            Err(warroom_ledger::LedgerError::Refused(r)) => return format!("not run again: {r}"),
            Err(e) => return format!("not run: {e}"),
        };
        // With `ack = "replicated"`, the action waits for the copy to hold its approval and
        // this Executing: a standby taking over from a copy that lacks them would find the
        // request still pending, and a second approval there would run it again.
        if let Err(why) = self.copy_holds_all().await
            && self.replicated().is_some_and(|h| {
                h.when_unreachable == warroom_config::model::ha::WhenUnreachable::Refuse
            })
        {
            let error = format!(
                "not run: the ledger's copy does not hold its approval yet ({why}); nothing was changed — ask again once the bucket answers"
            );
            let event = Event::RequestFailed {
                request: request_id.to_owned(),
                error: error.clone(),
                result: None,
            };
            // If even this is refused (the copy holds writes back), the request stays
            // executing here and a restart reports its outcome unknown: never run twice.
            if let Err(refused) = self.decide(&Actor::System, id, request_id, event).await {
                tracing::warn!(error = %refused.message, "the request that did not run could not be recorded as failed");
            }
            return format!("{request_id} {error}");
        }
        self.post(
            &started.incident,
            &format!(
                "{request_id} running: {} {}",
                request.spec.action, request.spec.target
            ),
        )
        .await;
        // The copy wait and the post above may have taken seconds: a leader whose lease lapsed
        // meanwhile (or whose ledger now refuses writes) must not act, since another replica
        // may lead and its outcome could not be recorded. The request stays executing here;
        // whoever leads reports its outcome unknown, never runs it twice.
        if let Some(why) = self.ledger.write_refusal() {
            tracing::warn!(request = request_id, reason = %why, "not run: writes are refused");
            return format!("{request_id} not run: {why}; nothing was changed");
        }
        let mut ex = self.execution(&started.incident, &request, resolved);
        ex.progress = Some(self.forward_progress(&started.incident));
        let (event, label) = match self.cluster.execute(&ex).await {
            Ok(outcome) => match self
                .record_artifacts(id, request_id, &outcome.evidence)
                .await
            {
                Ok(()) => (
                    Event::RequestExecuted {
                        request: request_id.to_owned(),
                        dry_run: outcome.dry_run,
                        summary: outcome.summary,
                        result: outcome.result,
                    },
                    "executed",
                ),
                Err(e) => (
                    Event::RequestFailed {
                        request: request_id.to_owned(),
                        error: e,
                        result: (!outcome.dry_run).then_some(outcome.result),
                    },
                    "failed",
                ),
            },
            Err(e) => {
                self.metrics
                    .action_failed(request.spec.action.as_str(), e.kind());
                let mut error = e.to_string();
                // Evidence stored before the failure is recorded all the same.
                if let warroom_adapters::cluster::ClusterError::WithEvidence { evidence, .. } = &e
                    && let Err(lost) = self.record_artifacts(id, request_id, evidence).await
                {
                    error.push_str(&format!("; {lost}"));
                }
                (
                    Event::RequestFailed {
                        request: request_id.to_owned(),
                        error,
                        result: e.partial_result().cloned(),
                    },
                    "failed",
                )
            }
        };
        self.metrics.executed(label);
        let line = event.describe();
        let Err(refused) = self
            .decide(&Actor::System, id, request_id, event.clone())
            .await
        else {
            return line;
        };
        // The outcome did not fit the timeline (too large, say). A request must not stay
        // Executing for want of a record: keep the summary, and the result's digest.
        tracing::warn!(error = %refused.message, "outcome refused; recording its digest instead");
        let fallback = match event {
            Event::RequestExecuted {
                request,
                dry_run,
                summary,
                result,
            } => {
                let text = result.to_string();
                Event::RequestExecuted {
                    request,
                    dry_run,
                    summary,
                    result: serde_json::json!({
                        "omitted": refused.message,
                        "bytes": text.len(),
                        "sha256": hex_sha256(text.as_bytes()),
                    }),
                }
            }
            // What had been changed is what the undo needs: kept if it fits with the
            // shortened error, else named by its digest.
            Event::RequestFailed {
                request,
                error,
                result,
            } => Event::RequestFailed {
                request,
                error: error.chars().take(2000).collect(),
                result: result.map(|r| {
                    let text = r.to_string();
                    if text.len() <= 16 * 1024 {
                        r
                    } else {
                        serde_json::json!({
                            "omitted": refused.message,
                            "bytes": text.len(),
                            "sha256": hex_sha256(text.as_bytes()),
                        })
                    }
                }),
            },
            other => other,
        };
        match self.decide(&Actor::System, id, request_id, fallback).await {
            Ok(_) => line,
            Err(reply) => {
                tracing::error!(error = %reply.message, "outcome not recorded");
                format!(
                    "{line} — but the outcome could not be recorded: {}",
                    reply.message
                )
            }
        }
    }

    async fn finish_stale(&self, incident: &Incident, request: &Request, reason: String) -> String {
        let event = Event::RequestStale {
            request: request.id().to_owned(),
            reason: reason.clone(),
        };
        if let Err(reply) = self
            .decide(&Actor::System, &incident.id, request.id(), event)
            .await
        {
            tracing::warn!(error = %reply.message, "stale not recorded");
        }
        format!("not run, stale: {reason}")
    }
}
