//! Running a game day's script: a loop that fires what is due, reads what the team did, and
//! ends the run with its scorecard kept in the ledger and written to files.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use warroom_commands::{Actor, Clock, Event, IncidentId};
use warroom_config::DrillTargets;
use warroom_drill::DrillHandle;
use warroom_drill::script::{Action, AlertFormat, Condition, GameDay, Step, Trigger, payloads};

use super::render;
use super::score::{
    self, Asked, ClusterSeen, Flag, FlagKind, Inputs, Mark, PreviousRun, Scorecard, Seen, Who,
};
use crate::engine::Engine;

/// How often the loop looks at the clock (real time): small beside any step's timing.
const TICK: Duration = Duration::from_millis(100);

/// Delivers an alert body through the intake for its format; the answer says what happened.
pub type Deliver = Arc<
    dyn Fn(
            AlertFormat,
            Vec<u8>,
        ) -> std::pin::Pin<Box<dyn Future<Output = Result<String, String>> + Send>>
        + Send
        + Sync,
>;

/// What a run needs besides the script.
pub struct RunSettings {
    pub engine: Arc<Engine>,
    pub clock: Arc<dyn Clock>,
    /// The cluster the scenario was loaded into.
    pub drill: DrillHandle,
    pub deliver: Deliver,
    pub targets: DrillTargets,
    /// Times real time; 0 for a manual clock.
    pub speed: u32,
    /// Where the scorecard files go: `<data>/drills`.
    pub out: PathBuf,
}

/// A game day in progress (or ended), shared with the API.
pub struct Run {
    game: GameDay,
    settings: RunSettings,
    started_at: DateTime<Utc>,
    previous: Vec<PreviousRun>,
    log: Mutex<Log>,
}

#[derive(Default)]
struct Log {
    fired: Vec<bool>,
    marks: Vec<Mark>,
    flags: Vec<Flag>,
    cluster: Vec<ClusterSeen>,
    seen_requests: usize,
    ended_at: Option<DateTime<Utc>>,
    /// The final card and where its files are, once ended.
    kept: Option<(Scorecard, Option<PathBuf>)>,
}

/// Starts `game` now and returns the run; the loop ends with the game day.
pub fn start(game: GameDay, settings: RunSettings) -> Arc<Run> {
    // The ledger keeps microseconds: a start finer than that would come after an incident
    // opened in the same microsecond.
    let started_at = chrono::SubsecRound::trunc_subsecs(settings.clock.now(), 6);
    let previous = previous_runs(&settings.engine, &game.name);
    let steps = game.steps.len();
    let run = Arc::new(Run {
        game,
        settings,
        started_at,
        previous,
        log: Mutex::new(Log {
            fired: vec![false; steps],
            ..Log::default()
        }),
    });
    crate::logging::notice_info(&format!(
        "game day {} started{}: {} steps, ends by {}; the scorecard is at /api/v1/drill/scorecard",
        run.game.name,
        if run.game.title.is_empty() {
            String::new()
        } else {
            format!(" ({})", run.game.title)
        },
        steps,
        render::duration(run.game.end.as_secs())
    ));
    let looping = run.clone();
    let span = tracing::info_span!("game_day", scenario = %run.game.name);
    tokio::spawn(tracing::Instrument::instrument(
        async move {
            while !looping.tick().await {
                tokio::time::sleep(TICK).await;
            }
        },
        span,
    ));
    run
}

/// Earlier scorecards of `scenario` kept in the ledger, oldest first.
fn previous_runs(engine: &Engine, scenario: &str) -> Vec<PreviousRun> {
    let mut found = Vec::new();
    for incident in engine.ledger.incidents().unwrap_or_default() {
        for e in engine.ledger.timeline(&incident.id).unwrap_or_default() {
            if e.kind != "drill.scored"
                || e.data.get("scenario").and_then(Value::as_str) != Some(scenario)
            {
                continue;
            }
            if let Some(card) = e
                .data
                .get("scorecard")
                .and_then(|c| serde_json::from_value::<Scorecard>(c.clone()).ok())
            {
                found.push(PreviousRun {
                    started_at: card.started_at,
                    measures: card.measures,
                });
            }
        }
    }
    found.sort_by_key(|p| p.started_at);
    found.dedup_by_key(|p| p.started_at);
    found
}

fn lock(log: &Mutex<Log>) -> std::sync::MutexGuard<'_, Log> {
    log.lock().unwrap_or_else(|p| p.into_inner())
}

impl Run {
    /// The scorecard as of now (the kept one once the run ended).
    pub fn scorecard(&self) -> Scorecard {
        if let Some((card, _)) = &lock(&self.log).kept {
            return card.clone();
        }
        self.compute(self.settings.clock.now(), None)
    }

    /// Ends the run now if it has not ended (warroom is stopping): the scorecard of what
    /// happened so far is kept and written like any other.
    pub async fn stop(&self) {
        if lock(&self.log).ended_at.is_some() {
            return;
        }
        let now = self.settings.clock.now();
        let incidents = self.incidents();
        self.end(now, &incidents).await;
    }

    /// Where the ended run's files were written, when they were.
    pub fn files(&self) -> Option<PathBuf> {
        lock(&self.log).kept.as_ref().and_then(|k| k.1.clone())
    }

    /// The incidents opened since the start, with their timelines.
    fn incidents(&self) -> Vec<(IncidentId, Vec<Seen>)> {
        let ledger = &self.settings.engine.ledger;
        let mut found: Vec<(IncidentId, Vec<Seen>)> = ledger
            .incidents()
            .unwrap_or_default()
            .into_iter()
            .filter(|i| i.opened_at >= self.started_at)
            .map(|i| {
                let seen = ledger
                    .timeline(&i.id)
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|e| {
                        Some(Seen {
                            at: e.at.parse().ok()?,
                            actor: e.actor,
                            kind: e.kind,
                            data: e.data,
                        })
                    })
                    .collect();
                (i.id, seen)
            })
            .collect();
        found.sort_by_key(|(_, t)| t.first().map(|s| s.at));
        found
    }

    /// The card as of `now`; `ended_at` for the final one.
    fn compute(&self, now: DateTime<Utc>, ended_at: Option<DateTime<Utc>>) -> Scorecard {
        let incidents: Vec<Vec<Seen>> = self.incidents().into_iter().map(|(_, t)| t).collect();
        let log = lock(&self.log);
        score::score(&Inputs {
            scenario: &self.game.name,
            title: &self.game.title,
            started_at: self.started_at,
            ended_at,
            now,
            speed: self.settings.speed,
            incidents: &incidents,
            cluster: &log.cluster,
            attacker: &log.marks,
            attacker_flags: &log.flags,
            targets: &self.settings.targets,
            previous: self.previous.clone(),
        })
    }

    fn seconds(&self, at: DateTime<Utc>) -> u64 {
        score::seconds(self.started_at, at)
    }

    /// New requests the drill API server answered, stamped with the clock now.
    fn observe_cluster(&self, now: DateTime<Utc>) {
        let requests = self.settings.drill.requests();
        let mut log = lock(&self.log);
        let from = log.seen_requests.min(requests.len());
        for r in &requests[from..] {
            let interesting = r.resource == "pods"
                && !r.dry_run
                && (matches!(r.verb.as_str(), "delete" | "deletecollection")
                    || matches!(r.subresource.as_str(), "exec" | "attach" | "eviction"));
            if interesting {
                log.cluster.push(ClusterSeen {
                    at: now,
                    verb: r.verb.clone(),
                    resource: r.resource.clone(),
                    subresource: r.subresource.clone(),
                    namespace: r.namespace.clone(),
                    name: r.name.clone(),
                });
            }
        }
        log.seen_requests = requests.len();
    }

    /// When `c` was first done, if it was.
    fn done_at(
        &self,
        c: &Condition,
        incidents: &[(IncidentId, Vec<Seen>)],
    ) -> Option<DateTime<Utc>> {
        let mut first: Option<DateTime<Utc>> = None;
        let mut note = |at: DateTime<Utc>| {
            if first.is_none_or(|f| at < f) {
                first = Some(at);
            }
        };
        for (_, timeline) in incidents {
            let mut asked: Vec<Asked> = Vec::new();
            for e in timeline {
                match (c, e.kind.as_str()) {
                    (Condition::Acknowledged, "page.acknowledged" | "alert.acknowledged")
                    | (Condition::Resolved, "incident.resolved") => note(e.at),
                    (Condition::Done { .. }, "request.opened") => asked.push(Asked::opened_by(e)),
                    (
                        Condition::Done {
                            action,
                            kind,
                            namespace,
                            name,
                        },
                        "request.executed",
                    ) if asked.iter().any(|a| {
                        a.ran_in(e)
                            && a.action == *action
                            && a.kind == *kind
                            && a.namespace == *namespace
                            && a.name == *name
                    }) =>
                    {
                        note(e.at)
                    }
                    _ => {}
                }
            }
        }
        if let Condition::Done {
            action,
            kind,
            namespace,
            name,
        } = c
            && action == "delete"
            && kind == "pod"
        {
            for seen in lock(&self.log).cluster.iter().filter(|s| {
                s.namespace == *namespace
                    && s.name == *name
                    && (s.verb == "delete" || s.subresource == "eviction")
            }) {
                note(seen.at);
            }
        }
        first
    }

    /// One pass: fire what is due; returns true once the run has ended.
    async fn tick(&self) -> bool {
        if lock(&self.log).ended_at.is_some() {
            return true;
        }
        let now = self.settings.clock.now();
        self.observe_cluster(now);
        let incidents = self.incidents();
        let elapsed = now - self.started_at;
        for (index, step) in self.game.steps.iter().enumerate() {
            if lock(&self.log).fired[index] {
                continue;
            }
            let due = match &step.trigger {
                Trigger::At(d) => {
                    let d = chrono::Duration::from_std(*d).unwrap_or_default();
                    (elapsed >= d).then_some(self.started_at + d)
                }
                Trigger::When(c) => self.done_at(c, &incidents),
            };
            let Some(due) = due else {
                continue;
            };
            lock(&self.log).fired[index] = true;
            let held = step.unless.as_ref().and_then(|u| {
                self.done_at(u, &incidents)
                    .filter(|at| *at <= due)
                    .map(|at| (u, at))
            });
            if let Some((u, at)) = held {
                let text = format!(
                    "held back: `{u}` was done at {} (line {})",
                    render::duration(self.seconds(at)),
                    step.line
                );
                tracing::info!(line = step.line, "game day step held back: {u} was done");
                lock(&self.log).marks.push(Mark {
                    at_seconds: self.seconds(due),
                    who: Who::Attacker,
                    text,
                });
                continue;
            }
            self.fire(step, due).await;
        }
        let open: Vec<bool> = incidents
            .iter()
            .map(|(_, t)| !t.iter().any(|e| e.kind == "incident.resolved"))
            .collect();
        let all_resolved = !open.is_empty() && open.iter().all(|o| !o);
        let timed_out = elapsed >= chrono::Duration::from_std(self.game.end).unwrap_or_default();
        if all_resolved || timed_out {
            self.end(now, &incidents).await;
            return true;
        }
        false
    }

    /// Why a step ran, for the flags it raises.
    fn because(&self, step: &Step) -> String {
        match (&step.trigger, &step.unless) {
            (Trigger::At(d), Some(u)) => format!(
                "`{u}` was not done within {} (script line {})",
                render::duration(d.as_secs()),
                step.line
            ),
            (Trigger::At(d), None) => format!(
                "at {} (script line {})",
                render::duration(d.as_secs()),
                step.line
            ),
            (Trigger::When(c), Some(u)) => {
                format!("`{c}` was done before `{u}` (script line {})", step.line)
            }
            (Trigger::When(c), None) => format!("`{c}` was done (script line {})", step.line),
        }
    }

    async fn fire(&self, step: &Step, due: DateTime<Utc>) {
        let at_seconds = self.seconds(due);
        let when = payloads::When {
            rfc3339: due.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string(),
            unix_nanos: due.timestamp_nanos_opt().unwrap_or(0),
        };
        for action in &step.actions {
            let (who, text) = match action {
                Action::Say(s) => (Who::Attacker, s.clone()),
                Action::Alert { format, payload } => {
                    let answer = self.deliver(*format, payload).await;
                    (Who::Warroom, format!("{} alert: {answer}", format.as_str()))
                }
                Action::Create(obj) => {
                    let what = format!(
                        "{} {}/{}",
                        obj.get("kind").and_then(Value::as_str).unwrap_or("object"),
                        obj.pointer("/metadata/namespace")
                            .and_then(Value::as_str)
                            .unwrap_or("default"),
                        obj.pointer("/metadata/name")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                    );
                    match self.settings.drill.create(obj.clone()) {
                        Ok(_) => (Who::Attacker, format!("{what} appeared")),
                        Err(e) => (Who::Attacker, format!("{what} could not be created: {e}")),
                    }
                }
                Action::Process {
                    namespace,
                    pod,
                    container,
                    command,
                    rule,
                    priority,
                } => {
                    let body = payloads::falco_process(
                        &when, namespace, pod, container, command, rule, priority,
                    );
                    let answer = self.deliver(AlertFormat::Falco, &body).await;
                    (
                        Who::Attacker,
                        format!("process in {namespace}/{pod}: {command} (falco: {answer})"),
                    )
                }
                Action::Compromise { node, finding } => {
                    let body = self.finding(&when, node, finding);
                    let answer = self.deliver(AlertFormat::GuardDuty, &body).await;
                    (
                        Who::Attacker,
                        format!("node {node} compromised: {finding} (guardduty: {answer})"),
                    )
                }
                Action::Token {
                    namespace,
                    service_account,
                    from,
                } => {
                    let body = payloads::falco_token_use(&when, namespace, service_account, from);
                    let answer = self.deliver(AlertFormat::Falco, &body).await;
                    (
                        Who::Attacker,
                        format!(
                            "token of {namespace}/{service_account} used from {from} (falco: {answer})"
                        ),
                    )
                }
                Action::Lateral { from, to } => {
                    let text = format!(
                        "the attacker moved from {from} to {to} at {}: {}",
                        render::duration(at_seconds),
                        self.because(step)
                    );
                    self.flag(at_seconds, FlagKind::Lateral, text.clone());
                    (Who::Attacker, format!("moved from {from} to {to}"))
                }
                Action::Lost(what) => {
                    self.flag(
                        at_seconds,
                        FlagKind::EvidenceLost,
                        format!("{what}: {}", self.because(step)),
                    );
                    (Who::Attacker, format!("evidence lost: {what}"))
                }
            };
            tracing::info!(line = step.line, at_seconds, "game day: {text}");
            lock(&self.log).marks.push(Mark {
                at_seconds,
                who,
                text,
            });
        }
    }

    fn flag(&self, at_seconds: u64, kind: FlagKind, text: String) {
        lock(&self.log).flags.push(Flag {
            at_seconds,
            kind,
            text,
        });
    }

    /// The node's instance as its providerID and addresses say, in a GuardDuty finding.
    fn finding(&self, when: &payloads::When, node: &str, finding: &str) -> Value {
        let obj = self
            .settings
            .drill
            .object("v1", "Node", "", node)
            .unwrap_or(Value::Null);
        // A node that is no EC2 instance still gets its finding, naming the node.
        let instance = warroom_adapters::aws::provider_id::parse(
            obj.pointer("/spec/providerID").and_then(Value::as_str),
        )
        .unwrap_or_else(|_| warroom_adapters::aws::provider_id::InstanceRef {
            instance_id: node.to_string(),
            availability_zone: String::new(),
            region: String::new(),
        });
        let ip = obj
            .pointer("/status/addresses")
            .and_then(Value::as_array)
            .and_then(|a| {
                a.iter()
                    .find(|x| x.get("type").and_then(Value::as_str) == Some("InternalIP"))
            })
            .and_then(|x| x.get("address").and_then(Value::as_str))
            .unwrap_or("")
            .to_string();
        payloads::guardduty_finding(
            when,
            finding,
            &instance.instance_id,
            &instance.region,
            &instance.availability_zone,
            &ip,
        )
    }

    async fn deliver(&self, format: AlertFormat, body: &Value) -> String {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        match (self.settings.deliver)(format, bytes).await {
            Ok(answer) | Err(answer) => answer,
        }
    }

    /// Ends the run: the card is computed, kept in the ledger (on the first incident the run
    /// opened) and written as JSON, Markdown and SVG.
    async fn end(&self, now: DateTime<Utc>, incidents: &[(IncidentId, Vec<Seen>)]) {
        // Only once it is kept does the API say the run ended: whoever reads "ended" can
        // rely on the ledger holding the card.
        let card = self.compute(now, Some(now));
        let files = match self.write_files(&card) {
            Ok(dir) => Some(dir),
            Err(e) => {
                crate::logging::notice_warn(&format!(
                    "game day {}: cannot write the scorecard files: {e}",
                    self.game.name
                ));
                None
            }
        };
        if let Some((first, _)) = incidents.first() {
            let event = Event::DrillScored {
                scenario: self.game.name.clone(),
                scorecard: serde_json::to_value(&card).unwrap_or(Value::Null),
            };
            if let Err(e) = self
                .settings
                .engine
                .ledger
                .append(first, &Actor::System, event)
                .await
            {
                crate::logging::notice_warn(&format!(
                    "game day {}: the scorecard could not be kept in the ledger ({e}); later runs will not be compared with it",
                    self.game.name
                ));
            }
        }
        crate::logging::notice_info(&format!(
            "game day {} ended: {}{}",
            self.game.name,
            card.measures
                .iter()
                .map(|m| format!(
                    "{} {}",
                    m.name,
                    m.seconds
                        .map_or("not reached".to_string(), render::duration)
                ))
                .collect::<Vec<_>>()
                .join(", "),
            files
                .as_ref()
                .map(|d| format!("; scorecard in {}", d.display()))
                .unwrap_or_default()
        ));
        let mut log = lock(&self.log);
        log.ended_at = Some(now);
        log.kept = Some((card, files));
    }

    fn write_files(&self, card: &Scorecard) -> std::io::Result<PathBuf> {
        let dir = self.settings.out.join(format!(
            "{}-{}",
            self.game.name,
            card.started_at.format("%Y%m%dT%H%M%SZ")
        ));
        std::fs::create_dir_all(&dir)?;
        let json = serde_json::to_vec_pretty(card).map_err(std::io::Error::other)?;
        for (name, bytes) in [
            ("scorecard.json", json),
            ("scorecard.md", render::markdown(card).into_bytes()),
            ("scorecard.svg", render::svg(card).into_bytes()),
        ] {
            std::fs::write(dir.join(name), bytes)?;
        }
        // Said in full, so the path works wherever it is read.
        Ok(std::fs::canonicalize(&dir).unwrap_or(dir))
    }
}
