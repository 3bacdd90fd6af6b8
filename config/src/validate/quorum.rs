//! Every action someone may request must be approvable by enough other people.

use crate::locate::FieldPath;
use crate::model::Plan;
use crate::model::action::Risk;
use crate::report::Report;

pub(super) fn check(plan: &Plan, report: &mut Report<'_>) {
    // Counting people of a partly read plan would report quorums that are really fine.
    if ["people", "roles", "actions", "approvals", "critical"]
        .iter()
        .any(|s| !report.is_complete(s))
    {
        return;
    }
    let critical_extra = plan
        .critical
        .iter()
        .map(|c| c.extra_approvals)
        .max()
        .unwrap_or(0);
    for action in plan.actions.keys().copied() {
        let Some(rule) = plan.action_rule(action) else {
            continue;
        };
        let extra = if rule.risk == Risk::Read {
            0
        } else {
            critical_extra
        };
        // Saturating: a sum that wrapped would read as "no approval needed" and pass.
        let needed = rule.approvals.saturating_add(extra);
        if needed == 0 {
            continue;
        }
        let approvers: Vec<&str> = plan
            .people
            .iter()
            .filter(|p| p.has_any_role(&rule.approve))
            .map(|p| p.id.as_str())
            .collect();
        let mut requesters = plan.people.iter().filter(|p| p.has_any_role(&rule.request));
        let Some((requester, others)) = requesters.find_map(|r| {
            let others: Vec<&str> = approvers
                .iter()
                .copied()
                .filter(|a| *a != r.id.as_str())
                .collect();
            (others.len() < needed as usize).then_some((r, others))
        }) else {
            continue;
        };
        let path = FieldPath::root().key("actions").key(action.as_str());
        let path = if plan.actions[&action].approvals.is_some() {
            path.key("approvals")
        } else {
            path
        };
        let needs = if extra > 0 {
            format!(
                "{needed} approvals ({} + {extra} for critical workloads)",
                rule.approvals
            )
        } else {
            plural(needed, "approval")
        };
        let who = if others.is_empty() {
            String::new()
        } else {
            format!(" ({})", others.join(", "))
        };
        report.at(
            &path,
            format!(
                "{action} needs {needs}, but when {} requests it only {}{who} can approve",
                requester.id,
                plural(others.len() as u32, "other person")
            ),
            "give an approve role to more people, widen `approve`, or lower `approvals`; the requester never counts",
        );
    }
}

fn plural(n: u32, noun: &str) -> String {
    match (n, noun) {
        (1, _) => format!("1 {noun}"),
        (_, "other person") => format!("{n} other people"),
        _ => format!("{n} {noun}s"),
    }
}
