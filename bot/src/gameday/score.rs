//! The scorecard: how the team did against the plan's `[drill.targets]`, computed from the
//! ledger's timelines (what warroom and the team did), what the drill API server saw (deletes
//! and container logins from anyone), and what the script's attacker did. Pure: the same
//! inputs give the same card, and every time is the drill clock's.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use warroom_config::DrillTargets;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scorecard {
    pub scenario: String,
    pub title: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Times real time; 0 for a manual clock. (An integer: ledger entries hold no floats.)
    pub speed: u32,
    pub state: RunState,
    /// acknowledge, capture, contain, resolve — in that order.
    pub measures: Vec<Measure>,
    /// The two-person rule: each request's wait from proposal to approval.
    pub waits: Vec<Wait>,
    /// Whether evidence was captured before anything destructive touched its target.
    pub evidence_first: bool,
    pub flags: Vec<Flag>,
    pub timeline: Vec<Mark>,
    /// Earlier runs of this scenario, oldest first.
    pub previous: Vec<PreviousRun>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Running,
    Ended,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measure {
    pub name: String,
    /// From the start; `None` while not reached.
    pub seconds: Option<u64>,
    pub target_seconds: Option<u64>,
    /// `None` without a target, or while running and neither met nor already late.
    pub met: Option<bool>,
    pub previous_seconds: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Wait {
    pub request: String,
    pub action: String,
    pub seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flag {
    pub at_seconds: u64,
    pub kind: FlagKind,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagKind {
    Lateral,
    EvidenceLost,
    DestructiveBeforeCapture,
    Exec,
    MassDelete,
    TargetMissed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mark {
    pub at_seconds: u64,
    pub who: Who,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Who {
    Attacker,
    Team,
    Warroom,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreviousRun {
    pub started_at: DateTime<Utc>,
    pub measures: Vec<Measure>,
}

/// One timeline entry of an incident, as the scorecard reads it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub kind: String,
    pub data: Value,
}

/// A request the drill API server answered that a scorecard cares about.
#[derive(Debug, Clone)]
pub struct ClusterSeen {
    pub at: DateTime<Utc>,
    pub verb: String,
    pub resource: String,
    pub subresource: String,
    pub namespace: String,
    pub name: String,
}

/// Everything a card is computed from.
pub struct Inputs<'a> {
    pub scenario: &'a str,
    pub title: &'a str,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
    pub speed: u32,
    /// The timelines of the incidents opened since the start.
    pub incidents: &'a [Vec<Seen>],
    pub cluster: &'a [ClusterSeen],
    /// What the script's attacker did, and what it scored against the team.
    pub attacker: &'a [Mark],
    pub attacker_flags: &'a [Flag],
    pub targets: &'a DrillTargets,
    pub previous: Vec<PreviousRun>,
}

const CAPTURES: &[&str] = &["capture", "checkpoint", "snapshot"];
const CONTAINS: &[&str] = &["quarantine", "cordon", "drain", "revoke"];
const DESTRUCTIVE: &[&str] = &["delete", "restart", "drain", "scale"];
pub const MEASURES: [&str; 4] = ["acknowledge", "capture", "contain", "resolve"];

/// A request as proposed: what, on which target.
pub(crate) struct Asked {
    pub id: String,
    pub action: String,
    /// Lower case, as scripts write it: `pod`, `node`.
    pub kind: String,
    pub namespace: String,
    pub name: String,
    opened: DateTime<Utc>,
    approved: Option<DateTime<Utc>>,
}

impl Asked {
    /// The request a `request.opened` entry asks for.
    pub(crate) fn opened_by(e: &Seen) -> Asked {
        let target = e.data.get("target").cloned().unwrap_or(Value::Null);
        Asked {
            id: str_of(&e.data, "request").to_string(),
            action: str_of(&e.data, "action").to_string(),
            kind: str_of(&target, "kind").to_ascii_lowercase(),
            namespace: str_of(&target, "namespace").to_string(),
            name: str_of(&target, "name").to_string(),
            opened: e.at,
            approved: None,
        }
    }

    /// Whether `e` is this request run for real (not a dry run).
    pub(crate) fn ran_in(&self, e: &Seen) -> bool {
        e.kind == "request.executed"
            && e.data.get("dry_run") != Some(&Value::Bool(true))
            && str_of(&e.data, "request") == self.id
    }

    fn target(&self) -> String {
        if self.namespace.is_empty() {
            format!("{} {}", self.kind, self.name)
        } else {
            format!("{} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn person(actor: &str) -> &str {
    actor
        .strip_prefix("person:")
        .or_else(|| actor.strip_prefix("cli:"))
        .unwrap_or(actor)
}

/// Seconds from `start` to `at`, never negative.
pub fn seconds(start: DateTime<Utc>, at: DateTime<Utc>) -> u64 {
    u64::try_from((at - start).num_seconds()).unwrap_or(0)
}

pub fn score(i: &Inputs) -> Scorecard {
    let secs = |at: DateTime<Utc>| seconds(i.started_at, at);
    let mut timeline: Vec<Mark> = i.attacker.to_vec();
    let mut flags: Vec<Flag> = i.attacker_flags.to_vec();
    let mut first_ack: Option<DateTime<Utc>> = None;
    let mut first_capture: Option<DateTime<Utc>> = None;
    let mut first_contain: Option<DateTime<Utc>> = None;
    let mut resolved: Vec<Option<DateTime<Utc>>> = Vec::new();
    let mut waits = Vec::new();
    // (time, "pod ns/name") of every capture and of every destructive act, from warroom or
    // the API server.
    let mut captured: Vec<(DateTime<Utc>, String)> = Vec::new();
    let mut destroyed: Vec<(DateTime<Utc>, String, String)> = Vec::new();
    let earliest = |slot: &mut Option<DateTime<Utc>>, at| {
        if slot.is_none_or(|s| at < s) {
            *slot = Some(at);
        }
    };
    for timeline_of in i.incidents {
        let mut asked: Vec<Asked> = Vec::new();
        let mut resolved_at = None;
        for e in timeline_of {
            let who = person(&e.actor).to_string();
            match e.kind.as_str() {
                "incident.opened" => timeline.push(Mark {
                    at_seconds: secs(e.at),
                    who: Who::Warroom,
                    text: format!("incident opened: {}", str_of(&e.data, "title")),
                }),
                "page.acknowledged" | "alert.acknowledged" => {
                    earliest(&mut first_ack, e.at);
                    timeline.push(Mark {
                        at_seconds: secs(e.at),
                        who: Who::Team,
                        text: format!("{who} acknowledged"),
                    });
                }
                "request.opened" => {
                    let a = Asked::opened_by(e);
                    // warroom's own proposals (an alert rule's `propose`) are not the team's.
                    let (mark_who, verb) = if e.actor == "warroom" {
                        (Who::Warroom, "proposed")
                    } else {
                        (Who::Team, "asked for")
                    };
                    timeline.push(Mark {
                        at_seconds: secs(e.at),
                        who: mark_who,
                        text: format!("{who} {verb} {} {} ({})", a.action, a.target(), a.id),
                    });
                    asked.push(a);
                }
                "request.approved" => {
                    if let Some(a) = asked
                        .iter_mut()
                        .find(|a| a.id == str_of(&e.data, "request"))
                    {
                        a.approved = Some(e.at);
                        timeline.push(Mark {
                            at_seconds: secs(e.at),
                            who: Who::Team,
                            text: format!("{who} approved {}", a.id),
                        });
                    }
                }
                "request.executed" => {
                    let Some(a) = asked.iter().find(|a| a.ran_in(e)) else {
                        continue;
                    };
                    timeline.push(Mark {
                        at_seconds: secs(e.at),
                        who: Who::Team,
                        text: format!("{} {} done ({})", a.action, a.target(), a.id),
                    });
                    if CAPTURES.contains(&a.action.as_str()) {
                        earliest(&mut first_capture, e.at);
                        captured.push((e.at, a.target()));
                    }
                    if CONTAINS.contains(&a.action.as_str()) {
                        earliest(&mut first_contain, e.at);
                    }
                    if DESTRUCTIVE.contains(&a.action.as_str()) {
                        destroyed.push((e.at, a.target(), format!("{} {}", a.action, a.target())));
                    }
                    if let Some(approved) = a.approved {
                        waits.push(Wait {
                            request: a.id.clone(),
                            action: format!("{} {}", a.action, a.target()),
                            seconds: seconds(a.opened, approved),
                        });
                    }
                }
                "incident.resolved" => {
                    resolved_at = Some(e.at);
                    timeline.push(Mark {
                        at_seconds: secs(e.at),
                        who: Who::Team,
                        text: format!("{who} resolved the incident"),
                    });
                }
                _ => {}
            }
        }
        resolved.push(resolved_at);
    }
    for c in i.cluster.iter().filter(|c| c.resource == "pods") {
        let target = format!("pod {}/{}", c.namespace, c.name);
        match (c.verb.as_str(), c.subresource.as_str()) {
            ("create" | "get", "exec" | "attach") => {
                flags.push(Flag {
                    at_seconds: secs(c.at),
                    kind: FlagKind::Exec,
                    text: format!(
                        "someone tried to log in to {target} ({}): a don't of the playbook, it changes the evidence",
                        c.subresource
                    ),
                });
            }
            ("delete", "") => destroyed.push((c.at, target.clone(), format!("delete {target}"))),
            ("create", "eviction") => {
                destroyed.push((c.at, target.clone(), format!("evict {target}")));
            }
            ("deletecollection", _) => flags.push(Flag {
                at_seconds: secs(c.at),
                kind: FlagKind::MassDelete,
                text: format!(
                    "every pod of namespace {} was deleted at once: a don't of the playbook",
                    c.namespace
                ),
            }),
            _ => {}
        }
    }
    destroyed.sort_by_key(|d| d.0);
    let mut flagged: Vec<String> = Vec::new();
    for (at, target, what) in &destroyed {
        let before = captured.iter().any(|(c, t)| c <= at && t == target);
        if !before && !flagged.contains(target) {
            flagged.push(target.clone());
            flags.push(Flag {
                at_seconds: secs(*at),
                kind: FlagKind::DestructiveBeforeCapture,
                text: format!("{what} before {target} was captured"),
            });
        }
    }
    let ended = i.ended_at.is_some();
    let last_resolved = if !resolved.is_empty() && resolved.iter().all(Option::is_some) {
        resolved.iter().flatten().max().copied()
    } else {
        None
    };
    let previous_last = i.previous.last();
    let targets = [
        i.targets.acknowledge,
        i.targets.capture,
        i.targets.contain,
        i.targets.resolve,
    ];
    let reached = [first_ack, first_capture, first_contain, last_resolved];
    let elapsed = secs(i.ended_at.unwrap_or(i.now));
    let mut measures = Vec::new();
    for (k, name) in MEASURES.iter().enumerate() {
        let seconds = reached[k].map(secs);
        let target_seconds = targets[k].map(|t| t.as_secs());
        let met = match (seconds, target_seconds) {
            (_, None) => None,
            (Some(s), Some(t)) => Some(s <= t),
            (None, Some(t)) if ended || elapsed > t => Some(false),
            (None, Some(_)) => None,
        };
        if met == Some(false) {
            flags.push(Flag {
                at_seconds: target_seconds.unwrap_or(0),
                kind: FlagKind::TargetMissed,
                text: match seconds {
                    Some(s) => format!(
                        "{name}: {} against a target of {}",
                        super::render::duration(s),
                        super::render::duration(target_seconds.unwrap_or(0))
                    ),
                    None => format!(
                        "{name}: not done within its target of {}",
                        super::render::duration(target_seconds.unwrap_or(0))
                    ),
                },
            });
        }
        measures.push(Measure {
            name: (*name).to_string(),
            seconds,
            target_seconds,
            met,
            previous_seconds: previous_last
                .and_then(|p| p.measures.iter().find(|m| m.name == *name))
                .and_then(|m| m.seconds),
        });
    }
    timeline.sort_by_key(|m| m.at_seconds);
    flags.sort_by_key(|f| f.at_seconds);
    Scorecard {
        scenario: i.scenario.to_string(),
        title: i.title.to_string(),
        started_at: i.started_at,
        ended_at: i.ended_at,
        speed: i.speed,
        state: if ended {
            RunState::Ended
        } else {
            RunState::Running
        },
        measures,
        waits,
        evidence_first: !flags
            .iter()
            .any(|f| f.kind == FlagKind::DestructiveBeforeCapture),
        flags,
        timeline,
        previous: i.previous.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn t0() -> DateTime<Utc> {
        "2026-12-01T02:00:00Z".parse().unwrap()
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        t0() + chrono::Duration::seconds(seconds)
    }

    fn seen(seconds: i64, actor: &str, kind: &str, data: Value) -> Seen {
        Seen {
            at: at(seconds),
            actor: actor.into(),
            kind: kind.into(),
            data,
        }
    }

    fn asked(seconds: i64, id: &str, action: &str, pod: &str) -> Seen {
        seen(
            seconds,
            "person:alice",
            "request.opened",
            json!({ "request": id, "action": action, "target": { "kind": "Pod", "namespace": "payments", "name": pod } }),
        )
    }

    fn executed(seconds: i64, id: &str) -> Seen {
        seen(
            seconds,
            "warroom",
            "request.executed",
            json!({ "request": id, "dry_run": false }),
        )
    }

    fn targets() -> DrillTargets {
        DrillTargets {
            acknowledge: Some(Duration::from_secs(300)),
            capture: Some(Duration::from_secs(600)),
            contain: Some(Duration::from_secs(900)),
            resolve: None,
        }
    }

    fn card(incidents: &[Vec<Seen>], cluster: &[ClusterSeen], now: i64, ended: bool) -> Scorecard {
        score(&Inputs {
            scenario: "s",
            title: "t",
            started_at: t0(),
            ended_at: ended.then(|| at(now)),
            now: at(now),
            speed: 0,
            incidents,
            cluster,
            attacker: &[],
            attacker_flags: &[],
            targets: &targets(),
            previous: Vec::new(),
        })
    }

    fn measure<'a>(c: &'a Scorecard, name: &str) -> &'a Measure {
        c.measures.iter().find(|m| m.name == name).unwrap()
    }

    #[test]
    fn measures_are_the_ledger_times_from_the_start_and_waits_are_the_approvals() {
        let timeline = vec![
            seen(0, "warroom", "incident.opened", json!({ "title": "shell" })),
            seen(95, "person:alice", "page.acknowledged", json!({})),
            asked(200, "R1", "capture", "api-7f9c"),
            executed(201, "R1"),
            asked(210, "R2", "quarantine", "api-7f9c"),
            seen(
                250,
                "person:bob",
                "request.approved",
                json!({ "request": "R2" }),
            ),
            executed(251, "R2"),
            seen(1000, "person:alice", "incident.resolved", json!({})),
        ];
        let c = card(&[timeline], &[], 1000, true);
        assert_eq!(measure(&c, "acknowledge").seconds, Some(95));
        assert_eq!(measure(&c, "capture").seconds, Some(201));
        assert_eq!(measure(&c, "contain").seconds, Some(251));
        assert_eq!(measure(&c, "resolve").seconds, Some(1000));
        assert_eq!(measure(&c, "acknowledge").met, Some(true));
        assert_eq!(measure(&c, "resolve").met, None, "no target, no verdict");
        assert_eq!(
            c.waits,
            [Wait {
                request: "R2".into(),
                action: "quarantine pod payments/api-7f9c".into(),
                seconds: 40
            }]
        );
        assert!(c.evidence_first);
        assert!(c.flags.is_empty(), "{:?}", c.flags);
        assert_eq!(c.state, RunState::Ended);
    }

    #[test]
    fn a_target_is_missed_while_running_only_once_its_time_has_passed() {
        let timeline = vec![seen(
            0,
            "warroom",
            "incident.opened",
            json!({ "title": "x" }),
        )];
        let early = card(std::slice::from_ref(&timeline), &[], 299, false);
        assert_eq!(measure(&early, "acknowledge").met, None);
        let late = card(&[timeline], &[], 301, false);
        assert_eq!(measure(&late, "acknowledge").met, Some(false));
        assert!(
            late.flags
                .iter()
                .any(|f| f.kind == FlagKind::TargetMissed && f.at_seconds == 300)
        );
        // Not resolved: no resolve time, however long ago the rest was.
        assert_eq!(measure(&late, "resolve").seconds, None);
    }

    #[test]
    fn destroying_before_capturing_is_flagged_once_per_target_and_captured_first_is_not() {
        let timeline = vec![
            asked(10, "R1", "capture", "api-7f9c"),
            executed(11, "R1"),
            asked(20, "R2", "delete", "api-7f9c"),
            executed(21, "R2"),
            asked(30, "R3", "delete", "web-1"),
            executed(31, "R3"),
        ];
        let cluster = [
            ClusterSeen {
                at: at(31),
                verb: "delete".into(),
                resource: "pods".into(),
                subresource: String::new(),
                namespace: "payments".into(),
                name: "web-1".into(),
            },
            ClusterSeen {
                at: at(40),
                verb: "create".into(),
                resource: "pods".into(),
                subresource: "exec".into(),
                namespace: "payments".into(),
                name: "web-2".into(),
            },
            ClusterSeen {
                at: at(50),
                verb: "deletecollection".into(),
                resource: "pods".into(),
                subresource: String::new(),
                namespace: "payments".into(),
                name: String::new(),
            },
        ];
        let c = card(&[timeline], &cluster, 60, false);
        let kinds: Vec<FlagKind> = c
            .flags
            .iter()
            .filter(|f| f.kind != FlagKind::TargetMissed)
            .map(|f| f.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                FlagKind::DestructiveBeforeCapture,
                FlagKind::Exec,
                FlagKind::MassDelete
            ]
        );
        assert_eq!(c.flags[0].at_seconds, 31);
        assert!(
            c.flags[0].text.contains("pod payments/web-1"),
            "{}",
            c.flags[0].text
        );
        assert!(!c.evidence_first);
    }

    #[test]
    fn warroom_proposals_are_not_the_teams_and_dry_runs_do_not_count() {
        let mut proposal = asked(0, "R1", "quarantine", "api-7f9c");
        proposal.actor = "warroom".into();
        let dry = seen(
            5,
            "warroom",
            "request.executed",
            json!({ "request": "R1", "dry_run": true }),
        );
        let c = card(&[vec![proposal, dry]], &[], 10, false);
        assert_eq!(measure(&c, "contain").seconds, None);
        assert_eq!(c.timeline[0].who, Who::Warroom);
        assert!(c.timeline[0].text.starts_with("warroom proposed"));
    }
}
