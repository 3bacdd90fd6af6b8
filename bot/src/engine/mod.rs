//! The engine: turns a person's command into decisions and effects.
//!
//! Inputs arrive from any chat platform or the HTTP API already mapped to a person of the
//! plan. The engine parses, authorizes, applies guardrails, writes to the ledger (durable
//! before any reply), and only then calls the cluster and the chat platforms, never inside
//! a ledger write.

mod actions;
mod alerts;
mod announce;
mod decisions;
mod deliveries;
mod execute;
mod incidents;
mod metrics;
mod nudges;
mod page_content;
mod paging;
mod proposals;
mod render;
mod reply;
mod sweeper;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use tracing::{Instrument, info_span};
use warroom_adapters::chat::{ChannelRef, Chat, MessageRef};
use warroom_adapters::cluster::Cluster;
use warroom_commands::command::{self, Command};
use warroom_commands::{Clock, Incident, IncidentId, PersonId};
use warroom_config::LoadedPlan;
use warroom_ledger::{Committed, Ledger, LedgerError};

pub use alerts::{AlertCounts, AlertOutcome};
pub use metrics::Metrics;
pub use reply::{Code, Reply};

/// Somebody changed this incident (or the incident list): live pages re-read.
pub type Notify = Arc<dyn Fn(Option<&IncidentId>) + Send + Sync>;

pub struct Engine {
    pub plan: Arc<LoadedPlan>,
    pub ledger: Arc<Ledger>,
    chats: Vec<Arc<dyn Chat>>,
    cluster: Arc<dyn Cluster>,
    clock: Arc<dyn Clock>,
    notify: Notify,
    pub metrics: Metrics,
    /// Channels per incident and platform, created on first use (again after a restart).
    channels: Mutex<HashMap<IncidentId, Vec<ChannelRef>>>,
    /// Channels (platform, id) that more than one incident recorded: they route to none.
    shared_channels: Mutex<std::collections::HashSet<(String, String)>>,
    /// Held while a channel is named, created and recorded, so two incidents opened at once
    /// with one title cannot both be given the same channel.
    naming_channels: tokio::sync::Mutex<()>,
    /// Approval cards per request, to update them in place.
    cards: Mutex<HashMap<(IncidentId, String), Vec<MessageRef>>>,
    /// Incidents with requests that may expire; the sweeper looks only at these.
    open_requests: Mutex<BTreeSet<IncidentId>>,
    /// Every paging channel: the plan's pagers (PagerDuty, e-mail, webhook) and each chat
    /// platform's direct messages (the console shows pages without owing them).
    pagers: Vec<Arc<dyn warroom_adapters::pager::Pager>>,
    /// Deliveries under way in this process, so none is sent by two tasks at once.
    in_flight: Mutex<std::collections::HashSet<(IncidentId, String)>>,
    /// Incidents with deliveries not settled yet; the sweeper resumes any not under way.
    owing: Mutex<BTreeSet<IncidentId>>,
    /// The alert behind each incident, as pages tell it (rebuilt from the timeline).
    alert_contexts: Mutex<HashMap<IncidentId, Option<Arc<page_content::AlertContext>>>>,
    /// Incidents whose escalation is under way; the sweeper looks only at these.
    escalating: Mutex<BTreeSet<IncidentId>>,
    /// Alert intake's in-memory side: fingerprint cache, repeat counts, unmatched alerts.
    alerts: Mutex<alerts::AlertBook>,
    /// Open incidents, for reminders.
    watched: Mutex<BTreeSet<IncidentId>>,
    /// Alert incidents `recover` found with no page numbered, for `page_unpaged_alerts` to
    /// look at again (fresh) without decoding every record a second time; `None` before
    /// `recover` runs and once they were looked at.
    unpaged_at_start: Mutex<Option<Vec<IncidentId>>>,
}

impl Engine {
    pub fn new(
        plan: Arc<LoadedPlan>,
        ledger: Arc<Ledger>,
        chats: Vec<Arc<dyn Chat>>,
        cluster: Arc<dyn Cluster>,
        clock: Arc<dyn Clock>,
        notify: Notify,
        pagers: Vec<Arc<dyn warroom_adapters::pager::Pager>>,
    ) -> Arc<Engine> {
        let mut pagers = pagers;
        for chat in &chats {
            if chat.platform() != "console" {
                pagers.push(Arc::new(warroom_adapters::pager::ChatPager(chat.clone())));
            }
        }
        Arc::new(Engine {
            plan,
            ledger,
            chats,
            cluster,
            clock,
            notify,
            metrics: Metrics::default(),
            channels: Mutex::new(HashMap::new()),
            shared_channels: Mutex::new(std::collections::HashSet::new()),
            naming_channels: tokio::sync::Mutex::new(()),
            cards: Mutex::new(HashMap::new()),
            open_requests: Mutex::new(BTreeSet::new()),
            pagers,
            in_flight: Mutex::default(),
            owing: Mutex::default(),
            alert_contexts: Mutex::default(),
            escalating: Mutex::new(BTreeSet::new()),
            alerts: Mutex::new(alerts::AlertBook::default()),
            watched: Mutex::new(BTreeSet::new()),
            unpaged_at_start: Mutex::default(),
        })
    }

    /// Handle one command typed by `person`, in the context of `incident` when given.
    pub async fn handle(
        self: &Arc<Self>,
        person: &PersonId,
        text: &str,
        incident: Option<IncidentId>,
    ) -> Reply {
        let span = info_span!(
            "command",
            person = %person,
            incident = incident.as_ref().map(IncidentId::as_str).unwrap_or("-"),
        );
        let before = self.written_so_far();
        let reply = self
            .dispatch(person, text, incident)
            .instrument(span.clone())
            .await;
        let reply = self.once_copied(reply, before).await;
        self.metrics.count(&reply);
        span.in_scope(|| {
            tracing::info!(
                outcome = reply.code.as_str(),
                incident = reply.incident.as_deref().unwrap_or("-"),
                request = reply.request_id.as_deref().unwrap_or("-"),
                "command handled"
            )
        });
        reply
    }

    /// The last journal batch, when replies wait for the copy (`ack = "replicated"`); `None`
    /// otherwise, so the hot path reads nothing more.
    pub fn written_so_far(&self) -> Option<u64> {
        self.replicated().map(|_| self.ledger.last_batch())
    }

    /// With `[ha] ack = "replicated"`, an "ok" reply waits until the bucket holds every batch
    /// written so far (this one's included), at most `replicated_within`; otherwise it is not
    /// an acknowledgement. Guarantees: no reply says "recorded" or "approved" before the
    /// copy holds it. Caveat: what timed out is still recorded here and uploaded later, so a
    /// person told "not yet copied" should check before repeating it.
    /// `before`: the last batch before the work began; when nothing was written since, there
    /// is nothing to wait for.
    pub async fn once_copied(&self, reply: Reply, before: Option<u64>) -> Reply {
        use warroom_config::model::ha::WhenUnreachable;
        let Some(ha) = self.replicated() else {
            return reply;
        };
        if !reply.ok || Some(self.ledger.last_batch()) == before {
            return reply;
        }
        let Err(why) = self.copy_holds_all().await else {
            return reply;
        };
        match ha.when_unreachable {
            WhenUnreachable::CarryOn => Reply {
                message: format!(
                    "{} (durable on this server; its copy to the bucket is behind and catches up)",
                    reply.message
                ),
                ..reply
            },
            WhenUnreachable::Refuse => Reply {
                ok: false,
                code: reply::Code::Unavailable,
                message: format!(
                    "recorded on this server but NOT yet in the ledger's copy ({why}); the plan acknowledges only what is copied ([ha] ack = \"replicated\"). It stays here and is uploaded when the bucket answers: check the timeline before repeating it"
                ),
                ..reply
            },
        }
    }

    /// The `[ha]` section when it acknowledges only what the bucket holds.
    pub(super) fn replicated(&self) -> Option<&warroom_config::model::ha::Ha> {
        use warroom_config::model::ha::Ack;
        self.plan
            .plan
            .ha
            .as_ref()
            .filter(|h| h.ack == Ack::Replicated)
    }

    /// With `[ha] ack = "replicated"`: wait (at most `replicated_within`) until the bucket
    /// holds every batch written so far; why not, if it does not. Without it: at once.
    pub(super) async fn copy_holds_all(&self) -> Result<(), String> {
        let Some(ha) = self.replicated() else {
            return Ok(());
        };
        let target = self.ledger.last_batch();
        let mut copied = self.ledger.copied();
        let waited =
            tokio::time::timeout(ha.replicated_within, copied.wait_for(|b| *b >= target)).await;
        if matches!(waited, Ok(Ok(_))) {
            return Ok(());
        }
        let why = self.ledger.write_refusal().unwrap_or_else(|| {
            format!(
                "{} did not confirm it within {}",
                ha.bucket,
                warroom_config::format_duration(ha.replicated_within)
            )
        });
        tracing::warn!(error = %why, "a write is not yet in the ledger's copy");
        Err(why)
    }

    async fn dispatch(
        self: &Arc<Self>,
        person: &PersonId,
        text: &str,
        incident: Option<IncidentId>,
    ) -> Reply {
        if let Err(denied) = warroom_commands::authorize::person(&self.plan.plan, person) {
            tracing::warn!(person = %person, "command from someone not in the plan refused");
            return Reply::refused(denied.0);
        }
        let cmd = match command::parse(text) {
            Ok(c) => c,
            Err(e) => return Reply::bad_input(e.to_string()),
        };
        let incident = match (incident, request_incident(&cmd)) {
            // `ack INC-…` means that incident wherever it is typed.
            (_, Some(named)) if matches!(cmd, Command::Ack(_)) => Some(named),
            (Some(i), _) => Some(i),
            (None, from_request) => from_request,
        };
        let id = match (&incident, cmd.needs_incident()) {
            (Some(id), _) => Some(id.clone()),
            (None, false) => None,
            (None, true) => {
                return Reply::bad_input(format!(
                    "`{}` acts on an incident: run it in the incident's channel, or pass its id (\"incident\": \"INC-…\"); `incident open \"TITLE\"` starts one",
                    cmd.verb()
                ));
            }
        };
        let record = match &id {
            Some(id) => match self.ledger.incident(id) {
                Ok(r) => Some(r),
                Err(e) => return Reply::from_ledger(e),
            },
            None => None,
        };
        match (cmd, record) {
            (Command::IncidentOpen { title, severity }, _) => {
                self.open(person, &title, severity).await
            }
            (Command::Help { topic }, _) => match command::help_for(topic.as_deref()) {
                Ok(text) => Reply::ok(text),
                Err(e) => Reply::bad_input(e.to_string()),
            },
            (Command::Ack(scope), record) => {
                // `ack all` in a channel still means every page.
                let record = record.filter(|_| scope != command::AckScope::All);
                self.ack(person, &scope, record).await
            }
            (cmd, Some(record)) => self.in_incident(person, cmd, record).await,
            (_, None) => Reply::bad_input("this command needs an incident".to_owned()),
        }
    }

    async fn in_incident(
        self: &Arc<Self>,
        person: &PersonId,
        cmd: Command,
        record: Incident,
    ) -> Reply {
        match cmd {
            Command::IncidentStatus => {
                Reply::ok(render::status(&record, &self.plan.plan)).for_incident(&record.id)
            }
            Command::IncidentSeverity(to) => self.severity(person, &record, to).await,
            Command::IncidentResolve { summary, confirm } => {
                self.resolve(person, &record, summary, confirm).await
            }
            Command::Role { role, person: who } => self.role(person, &record, role, &who).await,
            Command::Note(text) => self.note(person, &record, text).await,
            Command::Timeline => self.timeline(&record),
            Command::StatusUpdate(text) => self.status_update(person, &record, text).await,
            Command::Page { target, text } => self.page(person, &record, &target, text).await,
            Command::Evidence { id } => self.evidence(&record, id.as_deref()),
            Command::Action(request) => self.request_action(person, &record, request).await,
            Command::Approve { request } => self.approve(person, &record, &request).await,
            Command::Deny { request, reason } => self.deny(person, &record, &request, reason).await,
            Command::Cancel { request } => self.cancel(person, &record, &request).await,
            Command::BreakGlass { request, reason } => {
                self.break_glass(person, &record, &request, &reason).await
            }
            Command::IncidentOpen { .. } | Command::Help { .. } | Command::Ack(_) => {
                Reply::bad_input("this command does not act on an incident".to_owned())
            }
        }
    }

    /// Write through the ledger; tell live pages; remember incidents with open requests.
    async fn write(&self, pending: warroom_ledger::Pending) -> Result<Committed, LedgerError> {
        let committed = pending.await?;
        self.metrics.recorded(&committed);
        let incident = &committed.incident;
        // One line per durable entry, with the ids an operator searches logs by.
        let e = &committed.entry;
        tracing::info!(
            incident = %incident.id,
            seq = e.seq,
            kind = %e.kind,
            actor = %e.actor,
            request = e.data.get("request").and_then(serde_json::Value::as_str).unwrap_or("-"),
            "recorded"
        );
        if incident.requests.iter().any(|r| !r.status.is_frozen()) {
            self.open_requests
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(incident.id.clone());
        }
        {
            let mut watched = self.watched.lock().unwrap_or_else(|p| p.into_inner());
            if incident.status == warroom_commands::IncidentStatus::Resolved {
                watched.remove(&incident.id);
                // Its alerts open a new incident if they fire again.
                self.forget_alerts_of(&incident.id);
            } else {
                watched.insert(incident.id.clone());
            }
        }
        (self.notify)(Some(&incident.id));
        Ok(committed)
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }
}

/// `approve INC-20261127-0001-R3` and `ack INC-20261127-0001` name their incident.
fn request_incident(cmd: &Command) -> Option<IncidentId> {
    if let Command::Ack(command::AckScope::Incident(id)) = cmd {
        return Some(id.clone());
    }
    let id = match cmd {
        Command::Approve { request }
        | Command::Deny { request, .. }
        | Command::Cancel { request }
        | Command::BreakGlass { request, .. } => request,
        _ => return None,
    };
    let (inc, _) = id.rsplit_once('-')?;
    inc.parse().ok()
}
#[cfg(test)]
mod engine_tests;
