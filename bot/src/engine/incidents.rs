//! Incident commands: open, severity, resolve, roles, notes, status updates, pages.

use std::sync::Arc;

use warroom_commands::command::{AckScope, IncidentRole};
use warroom_commands::outbox::SendKind;
use warroom_commands::{Actor, Event, Incident, IncidentStatus, PersonId, Severity};

use super::render;
use super::{Engine, Reply};

impl Engine {
    pub(super) async fn open(
        self: &Arc<Self>,
        person: &PersonId,
        title: &str,
        severity: Severity,
    ) -> Reply {
        let actor = Actor::Person(person.clone());
        let committed = match self
            .write(self.ledger.open_incident(title, severity, &actor))
            .await
        {
            Ok(c) => c,
            Err(e) => return Reply::from_ledger(e),
        };
        let incident = committed.incident;
        let name = self.channel_name(&incident);
        self.post_pinned(
            &incident,
            &format!(
                "{} opened by {person} ({severity}): {title}\nNext: `role commander @PERSON`, `capture pod NS/POD`, `status-update TEXT`.\nConsole: {}\n{}",
                incident.id,
                self.plan.plan.console.incident_link(incident.id.as_str()),
                render::chain_head(&incident)
            ),
        )
        .await;
        Reply::ok(format!(
            "opened {} ({severity}): {title} — channel #{name}",
            incident.id
        ))
        .for_incident(&incident.id)
    }

    /// Add a chat message someone marked (📌) to the incident's timeline.
    pub async fn add_to_timeline(
        &self,
        person: &PersonId,
        incident: &warroom_commands::IncidentId,
        event: Event,
    ) -> Reply {
        match self.ledger.incident(incident) {
            Ok(record) => self.record(person, &record, event, true).await,
            Err(e) => Reply::from_ledger(e),
        }
    }

    /// Append one event and post its line to the channel.
    async fn record(
        &self,
        person: &PersonId,
        incident: &Incident,
        event: Event,
        announce: bool,
    ) -> Reply {
        match self.record_as(person, incident, event.clone()).await {
            Ok((c, reply)) => {
                if announce {
                    self.post(
                        &c.incident,
                        &render::decision(&c.incident, &event, person.as_str()),
                    )
                    .await;
                }
                reply
            }
            Err(reply) => reply,
        }
    }

    /// Append one event as `person`: the committed write and the "recorded" reply, or the
    /// ledger's refusal as the reply.
    async fn record_as(
        &self,
        person: &PersonId,
        incident: &Incident,
        event: Event,
    ) -> Result<(warroom_ledger::Committed, Reply), Reply> {
        let line = event.describe();
        match self
            .write(
                self.ledger
                    .append(&incident.id, &Actor::Person(person.clone()), event),
            )
            .await
        {
            Ok(c) => {
                let reply = Reply::ok(format!("recorded: {line} (entry {})", c.entry.seq))
                    .for_incident(&incident.id);
                Ok((c, reply))
            }
            Err(e) => Err(Reply::from_ledger(e)),
        }
    }

    pub(super) async fn severity(
        &self,
        person: &PersonId,
        incident: &Incident,
        to: Severity,
    ) -> Reply {
        if incident.severity == to {
            return Reply::ok(format!("{} is already {to}", incident.id))
                .for_incident(&incident.id);
        }
        self.record(
            person,
            incident,
            Event::SeverityChanged {
                from: incident.severity,
                to,
            },
            true,
        )
        .await
    }

    pub(super) async fn resolve(
        self: &Arc<Self>,
        person: &PersonId,
        incident: &Incident,
        summary: Option<String>,
        confirm: bool,
    ) -> Reply {
        if incident.status == IncidentStatus::Resolved {
            return Reply::conflict(format!("{} is already resolved", incident.id))
                .for_incident(&incident.id);
        }
        let running: Vec<&str> = incident
            .requests
            .iter()
            .filter(|r| r.status == warroom_commands::RequestStatus::Executing)
            .map(|r| r.id())
            .collect();
        if !running.is_empty() {
            return Reply::conflict(format!(
                "{} cannot be resolved while {} is running",
                incident.id,
                running.join(", ")
            ));
        }
        let board = warroom_commands::containment::board(incident);
        let open: Vec<&warroom_commands::Request> = incident
            .requests
            .iter()
            .filter(|r| {
                matches!(
                    r.status,
                    warroom_commands::RequestStatus::Pending
                        | warroom_commands::RequestStatus::Approved
                )
            })
            .map(|r| &**r)
            .collect();
        // Resolving cancels the open requests: only someone who could cancel or deny each
        // may do that, or anyone in the plan could end what others asked and approved.
        let may_not: Vec<String> = open
            .iter()
            .filter_map(|r| {
                let d = warroom_commands::authorize::may_close(&self.plan.plan, person, r).err()?;
                Some(format!(
                    "{} {} {}: {}",
                    r.id(),
                    r.spec.action,
                    r.spec.target,
                    d.0
                ))
            })
            .collect();
        if !may_not.is_empty() {
            return Reply::refused(format!(
                "{} was not resolved: resolving cancels its open requests, and {person} may not close {}:\n{}\nAsk someone who may decide them to deny them or to resolve the incident, or whoever asked to cancel.",
                incident.id,
                if may_not.len() == 1 { "this one" } else { "these" },
                may_not.join("\n")
            ))
            .for_incident(&incident.id);
        }
        if !confirm && (!board.is_empty() || !open.is_empty()) {
            let mut said = format!("{} is not resolved yet:", incident.id);
            if !open.is_empty() {
                let list: Vec<String> = open
                    .iter()
                    .map(|r| format!("{} {} {}", r.id(), r.spec.action, r.spec.target))
                    .collect();
                said.push_str(&format!(
                    "
{} open request(s) would be cancelled: {}",
                    open.len(),
                    list.join("; ")
                ));
            }
            if !board.is_empty() {
                said.push('\n');
                said.push_str(&warroom_commands::containment::board_text(&board));
                said.push_str("\n(resolving leaves these in place)");
            }
            said.push_str(
                "\nUndo what should not stay, or run `incident resolve --confirm [SUMMARY]` to resolve as it is.",
            );
            return Reply::conflict(said).for_incident(&incident.id);
        }
        // One cancellation entry per open request, each card updated, before the resolution.
        for r in &open {
            let cancel = Event::RequestCancelled {
                request: r.id().to_owned(),
                reason: Some("the incident was resolved".to_owned()),
            };
            if let Err(reply) = self
                .decide(&Actor::Person(person.clone()), &incident.id, r.id(), cancel)
                .await
            {
                return reply;
            }
        }
        let mut summary = summary.unwrap_or_else(|| "resolved".to_owned());
        if !board.is_empty() {
            let left: Vec<String> = board
                .iter()
                .map(|c| format!("{} {} ({})", c.target, c.state, c.request))
                .collect();
            summary.push_str(&format!(
                " — left contained on purpose: {}",
                left.join("; ")
            ));
        }
        let reply = self
            .record(
                person,
                incident,
                Event::Resolved {
                    summary: summary.clone(),
                },
                true,
            )
            .await;
        if reply.ok
            && let Ok(now) = self.ledger.incident(&incident.id)
        {
            self.refresh_board(&now).await;
        }
        if reply.ok && !incident.outbox.is_empty() {
            let by = format!("{summary} (resolved by {person})");
            self.follow_up(&incident.id, SendKind::Resolved, Some(by), Some(person))
                .await;
        }
        reply
    }

    pub(super) async fn role(
        &self,
        person: &PersonId,
        incident: &Incident,
        role: IncidentRole,
        who: &str,
    ) -> Reply {
        let who = PersonId::from(who);
        if self.plan.plan.person(&who).is_none() {
            return Reply::not_found(format!(
                "`{who}` is not a person in the plan; roles go to the plan's people"
            ));
        }
        if incident.roles.get(&role) == Some(&who) {
            return Reply::ok(format!("{who} is already {role}")).for_incident(&incident.id);
        }
        self.record(
            person,
            incident,
            Event::RoleAssigned { role, person: who },
            true,
        )
        .await
    }

    pub(super) async fn note(&self, person: &PersonId, incident: &Incident, text: String) -> Reply {
        self.record(person, incident, Event::Note { text }, false)
            .await
    }

    pub(super) fn timeline(&self, incident: &Incident) -> Reply {
        match self.ledger.timeline(&incident.id) {
            Ok(entries) => {
                Reply::ok(render::timeline(incident, &entries, 20)).for_incident(&incident.id)
            }
            Err(e) => Reply::from_ledger(e),
        }
    }

    pub(super) async fn status_update(
        &self,
        person: &PersonId,
        incident: &Incident,
        text: String,
    ) -> Reply {
        let reply = self
            .record(
                person,
                incident,
                Event::StatusUpdate { text: text.clone() },
                true,
            )
            .await;
        // Stakeholders hear it in their channel too.
        if reply.ok
            && let Some(channel) = &self.plan.plan.communication.stakeholder_channel
        {
            let line = format!(
                "📣 {} ({}): {} — status: {text}",
                incident.id, incident.severity, incident.title
            );
            self.announce_in(channel, &line).await;
        }
        reply
    }

    /// The people a page reaches: a person, a team's members, or a policy's first tier.
    fn page_targets(&self, target: &str) -> Result<(String, Vec<PersonId>), String> {
        let plan = &self.plan.plan;
        if let Some(p) = plan.person(&target.into()) {
            return Ok((format!("person:{}", p.id), vec![p.id.clone()]));
        }
        if let Some(t) = plan.team(&target.into()) {
            return Ok((format!("team:{}", t.id), t.members.clone()));
        }
        if let Some(policy) = plan.escalation_policy(&target.into()) {
            let people = self.tier_people(policy, 0);
            return Ok((format!("policy:{}", policy.id), people));
        }
        Err(format!(
            "`{target}` is not a person, team or escalation policy in the plan (people: {}; teams: {}; policies: {})",
            plan.people
                .iter()
                .map(|p| p.id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            plan.teams
                .iter()
                .map(|t| t.id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            plan.escalation_policies
                .iter()
                .map(|p| p.id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        ))
    }

    pub(super) async fn page(
        self: &Arc<Self>,
        person: &PersonId,
        incident: &Incident,
        target: &str,
        text: Option<String>,
    ) -> Reply {
        let (target, people) = match self.page_targets(target) {
            Ok(found) => found,
            Err(e) => return Reply::not_found(e),
        };
        let note = match &text {
            Some(t) => format!("{t} (paged by {person})"),
            None => format!("paged by {person}"),
        };
        let event = Event::Paged {
            target: target.clone(),
            people: people.clone(),
            text: Some(note.clone()),
            step: None,
            page: None,
            deliveries: self.owed_deliveries(&people, false),
            escalated: false,
        };
        match self.record_as(person, incident, event).await {
            Ok((c, reply)) => {
                self.announce_page(&c.incident, &people, None, Some(&note))
                    .await;
                self.deliver_owed(&c.incident, false);
                reply
            }
            Err(reply) => reply,
        }
    }

    /// `ack` in an incident acknowledges its pages; outside one, the person's only open page
    /// (several are refused, listed, unless `ack all`); `ack INC-…` names the incident.
    pub(super) async fn ack(
        self: &Arc<Self>,
        person: &PersonId,
        scope: &AckScope,
        incident: Option<Incident>,
    ) -> Reply {
        let incidents: Vec<Incident> = match incident {
            Some(i) => vec![i],
            None => match self.ledger.incidents() {
                Ok(all) => all
                    .into_iter()
                    .filter(|i| {
                        i.unacknowledged.contains(person) && i.status == IncidentStatus::Open
                    })
                    .collect(),
                Err(e) => return Reply::from_ledger(e),
            },
        };
        let open: Vec<&Incident> = incidents
            .iter()
            .filter(|i| i.unacknowledged.contains(person))
            .collect();
        if open.len() > 1 && *scope == AckScope::Mine {
            let list: Vec<String> = open
                .iter()
                .map(|i| format!("{} ({}: {})", i.id, i.severity, i.title))
                .collect();
            return Reply::bad_input(format!(
                "{person} has {} open pages: {}. Acknowledge one with `ack INC-…` (or in its channel), or every one with `ack all`.",
                open.len(),
                list.join("; ")
            ));
        }
        let mut acked = Vec::new();
        for i in open {
            match self
                .write(self.ledger.append(
                    &i.id,
                    &Actor::Person(person.clone()),
                    Event::PageAcknowledged {},
                ))
                .await
            {
                Ok(c) => {
                    self.post(&c.incident, &format!("{person} acknowledged the page"))
                        .await;
                    // Also after the escalation ran out: its pages may still be open on
                    // the pagers. What an earlier ack or resolve followed is not sent again.
                    self.follow_up(
                        &i.id,
                        SendKind::Acknowledged,
                        Some(person.to_string()),
                        Some(person),
                    )
                    .await;
                    acked.push(i.id.to_string());
                }
                Err(e) => return Reply::from_ledger(e),
            }
        }
        match acked.as_slice() {
            [] => Reply::ok(format!("{person} has no unacknowledged pages")),
            [one] => Reply::ok(format!("acknowledged: {one}")),
            many => Reply::ok(format!(
                "acknowledged all {} of your pages: {}",
                many.len(),
                many.join(", ")
            )),
        }
    }

    pub(super) fn evidence(&self, incident: &Incident, id: Option<&str>) -> Reply {
        let records = match self.ledger.evidence(&incident.id) {
            Ok(r) => r,
            Err(e) => return Reply::from_ledger(e),
        };
        let text = match id {
            Some(id) => match records.iter().find(|r| r.id.eq_ignore_ascii_case(id)) {
                Some(r) => format!(
                    "{}: {} ({} bytes)\nsha256 {}\nin the evidence store as {}\nview or download (re-checked against the sha256): GET /api/v1/incidents/{}/evidence/{}\ncollected by {} at {}{}",
                    r.id,
                    r.name,
                    r.size,
                    r.sha256,
                    r.location,
                    incident.id,
                    r.id,
                    r.collected_by,
                    r.collected_at,
                    r.approval
                        .as_deref()
                        .map(|a| format!("\nunder approval {a}"))
                        .unwrap_or_default()
                ),
                None => {
                    return Reply::not_found(format!(
                        "no evidence `{id}` in {}; `evidence` lists them",
                        incident.id
                    ));
                }
            },
            None if records.is_empty() => format!(
                "no evidence recorded in {} yet; `capture pod NS/POD` collects it",
                incident.id
            ),
            None => records
                .iter()
                .map(|r| {
                    format!(
                        "{} {} {} bytes sha256 {}",
                        r.id,
                        r.name,
                        r.size,
                        render::short_hash(&r.sha256)
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
        };
        Reply::ok(text).for_incident(&incident.id)
    }
}
