//! The containment board: every object warroom changed in an incident and has not changed
//! back — quarantined pods, cordoned or drained nodes, protected instances, revoked roles,
//! scaled workloads, labels, snapshots — each with the command that undoes it. Computed from
//! the record's executed requests alone, so every replica and every restart agrees.

use serde::Serialize;
use warroom_config::ActionName;

use crate::command::Target;
use crate::{Incident, RequestStatus};

/// One change still in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Contained {
    /// The request that made it.
    pub request: String,
    pub action: ActionName,
    pub cluster: String,
    pub target: Target,
    /// What is in place, in words ("quarantined", "cordoned", …).
    pub state: String,
    /// The command that undoes it, or what to do instead.
    pub undo: String,
}

/// Which change an action makes or takes back: actions of one family on one object replace
/// each other (`release` takes back `quarantine`).
fn family(action: ActionName) -> Option<(&'static str, bool)> {
    use ActionName::*;
    Some(match action {
        Quarantine => ("isolation", true),
        Release => ("isolation", false),
        Cordon | Drain => ("scheduling", true),
        Uncordon => ("scheduling", false),
        Protect => ("protection", true),
        Unprotect => ("protection", false),
        Revoke => ("credentials", true),
        Unrevoke => ("credentials", false),
        Scale => ("replicas", true),
        Label => ("label", true),
        Snapshot => ("snapshot", true),
        Capture | Checkpoint | Restart | Delete => return None,
    })
}

fn target_words(t: &Target) -> String {
    let kind = t.kind.as_str().to_ascii_lowercase();
    if t.namespace.is_empty() {
        format!("{kind} {}", t.name)
    } else {
        format!("{kind} {}/{}", t.namespace, t.name)
    }
}

fn state_and_undo(
    action: ActionName,
    t: &Target,
    params: &std::collections::BTreeMap<String, String>,
    request: &str,
) -> (String, String) {
    let on = target_words(t);
    let reason = "--reason \"…\"";
    match action {
        ActionName::Quarantine => ("quarantined".into(), format!("release {on} {reason}")),
        ActionName::Cordon => ("cordoned".into(), format!("uncordon {on} {reason}")),
        ActionName::Drain => (
            "drained and cordoned".into(),
            format!("uncordon {on} {reason}"),
        ),
        ActionName::Protect => ("protected".into(), format!("unprotect {on} {reason}")),
        ActionName::Revoke => (
            "older sessions revoked".into(),
            format!("unrevoke creds {on} {reason}"),
        ),
        ActionName::Scale => (
            format!(
                "scaled to {}",
                params.get("replicas").map(String::as_str).unwrap_or("?")
            ),
            format!("scale {on} --replicas <the count before, in {request}'s result> {reason}"),
        ),
        ActionName::Label => (
            format!(
                "labelled {}={}",
                params.get("key").map(String::as_str).unwrap_or("?"),
                params.get("value").map(String::as_str).unwrap_or("?")
            ),
            format!("label {on} KEY=<the value before, in {request}'s result> {reason}"),
        ),
        ActionName::Snapshot => (
            "EBS snapshots kept (they cost until deleted)".into(),
            format!(
                "none in warroom: delete the snapshots {request} recorded with `aws ec2 delete-snapshot` when no longer needed"
            ),
        ),
        _ => (String::new(), String::new()),
    }
}

/// What is contained now, oldest change first.
pub fn board(incident: &Incident) -> Vec<Contained> {
    let mut board: Vec<(String, Contained)> = Vec::new();
    for r in incident
        .requests
        .iter()
        .filter(|r| r.status == RequestStatus::Executed)
    {
        let Some((family, sets)) = family(r.spec.action) else {
            continue;
        };
        let s = &r.spec;
        // A label is its own change per key; a snapshot never replaces an earlier one.
        let key = match r.spec.action {
            ActionName::Label => format!(
                "label:{}",
                s.params.get("key").map(String::as_str).unwrap_or("")
            ),
            ActionName::Snapshot => format!("snapshot:{}", s.request),
            _ => family.to_owned(),
        };
        let key = format!("{}|{}|{key}", s.cluster, target_words(&s.target));
        board.retain(|(k, _)| *k != key);
        if sets {
            let (state, undo) = state_and_undo(s.action, &s.target, &s.params, &s.request);
            board.push((
                key,
                Contained {
                    request: s.request.clone(),
                    action: s.action,
                    cluster: s.cluster.clone(),
                    target: s.target.clone(),
                    state,
                    undo,
                },
            ));
        }
    }
    board.into_iter().map(|(_, c)| c).collect()
}

/// The board as lines for chat and the CLI; "nothing contained" when empty.
pub fn board_text(board: &[Contained]) -> String {
    if board.is_empty() {
        return "nothing contained: warroom changed nothing that is still in place".to_owned();
    }
    let mut out = format!("contained now ({}):", board.len());
    for c in board {
        out.push_str(&format!(
            "\n  {} {} ({}, {}) — undo: {}",
            target_words(&c.target),
            c.state,
            c.request,
            c.cluster,
            c.undo
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use warroom_config::Risk;

    use super::*;
    use crate::request::Request;
    use crate::{Actor, IncidentId, RequestSpec, Severity};

    /// A request as the test writes it: action, target, parameters, status.
    type Done<'a> = (ActionName, Target, &'a [(&'a str, &'a str)], RequestStatus);

    fn with(done: &[Done<'_>]) -> Incident {
        let at = "2026-11-27T02:00:00Z".parse().unwrap();
        let id: IncidentId = "INC-20261127-0001".parse().unwrap();
        let mut i = Incident::opened(id, "t".into(), Severity::Sev2, at, Actor::System);
        for (n, (action, target, params, status)) in done.iter().enumerate() {
            let spec = RequestSpec {
                request: format!("R{}", n + 1),
                action: *action,
                risk: Risk::Contain,
                cluster: "prod-eu".into(),
                target: target.clone(),
                uid: None,
                params: params
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect::<BTreeMap<_, _>>(),
                reason: None,
                override_reason: None,
                plan_version: "p".into(),
                binding: String::new(),
                approvals_needed: 1,
                expires_at: at,
                execute_within_secs: 300,
                plan_of_change: None,
                acts_on: None,
                notes: Vec::new(),
            };
            let mut r = Request::opened(spec, "alice".into(), at);
            r.status = *status;
            Arc::make_mut(&mut i.requests).push(Arc::new(r));
        }
        i
    }

    #[test]
    fn what_was_undone_leaves_the_board_and_what_was_not_stays_with_its_undo() {
        use ActionName::*;
        use RequestStatus::*;
        let pod = Target::pod("payments", "api-7f9c");
        let other = Target::pod("payments", "api-9x7q");
        let node = Target::node("n1");
        let i = with(&[
            (Quarantine, pod.clone(), &[], Executed),
            (Quarantine, other.clone(), &[], Executed),
            (Release, pod.clone(), &[], Executed),
            (Cordon, node.clone(), &[], Executed),
            (Protect, node.clone(), &[], Failed),
            (Snapshot, node.clone(), &[], Executed),
            (Capture, other.clone(), &[], Executed),
            (
                Scale,
                Target::pod("payments", "x"),
                &[("replicas", "0")],
                Pending,
            ),
        ]);
        let b = board(&i);
        let seen: Vec<(&str, &str)> = b
            .iter()
            .map(|c| (c.request.as_str(), c.state.as_str()))
            .collect();
        assert_eq!(
            seen,
            vec![
                ("R2", "quarantined"),
                ("R4", "cordoned"),
                ("R6", "EBS snapshots kept (they cost until deleted)"),
            ]
        );
        assert_eq!(b[0].undo, "release pod payments/api-9x7q --reason \"…\"");
        assert_eq!(b[1].undo, "uncordon node n1 --reason \"…\"");
        let text = board_text(&b);
        assert!(text.starts_with("contained now (3):"), "{text}");
        assert!(board_text(&[]).starts_with("nothing contained"));
    }
}
