//! The policy half of the two-person rule: may this person ask for, approve or break glass
//! on this action, according to the plan? Checked before anything is written.

use warroom_config::{ActionName, ActionRule, Person, PersonId, Plan, RoleId};

/// A refusal by policy, worded for the person refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Denied(pub String);

/// The plan's person, or a refusal that says the account is not in the plan.
pub fn person<'p>(plan: &'p Plan, id: &PersonId) -> Result<&'p Person, Denied> {
    plan.person(id).ok_or_else(|| {
        Denied(format!(
            "`{id}` is not a person in the response plan; only the plan's people can act (ask the plan owner to add you)"
        ))
    })
}

fn roles_text(roles: &[RoleId]) -> String {
    if roles.is_empty() {
        "nobody".to_owned()
    } else {
        roles
            .iter()
            .map(RoleId::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn person_roles(p: &Person) -> String {
    if p.roles.is_empty() {
        "no roles".to_owned()
    } else {
        roles_text(&p.roles)
    }
}

/// The action's rule, if `who` may ask for it.
pub fn may_request(plan: &Plan, who: &PersonId, action: ActionName) -> Result<ActionRule, Denied> {
    let p = person(plan, who)?;
    let rule = plan.action_rule(action).ok_or_else(|| {
        Denied(format!(
            "`{action}` is disabled in this plan (it has no [actions.{action}] section)"
        ))
    })?;
    if p.has_any_role(&rule.request) {
        Ok(rule)
    } else {
        Err(Denied(format!(
            "{who} ({}) may not request {action}; the plan allows: {}",
            person_roles(p),
            roles_text(&rule.request)
        )))
    }
}

/// Who may still approve `request`: the plan's people holding a role that may approve its
/// action, other than the person who asked and those who already approved. Empty when the
/// request is no longer pending or the action is disabled.
pub fn eligible_approvers(plan: &Plan, request: &crate::Request) -> Vec<PersonId> {
    if request.status != crate::RequestStatus::Pending {
        return Vec::new();
    }
    let Some(rule) = plan.action_rule(request.spec.action) else {
        return Vec::new();
    };
    plan.people
        .iter()
        .filter(|p| p.has_any_role(&rule.approve))
        .map(|p| p.id.clone())
        .filter(|id| *id != request.requested_by && !request.approvers.contains(id))
        .collect()
}

/// The roles that may approve `action`, for "needs 1 of: …" lines.
pub fn approver_roles(plan: &Plan, action: ActionName) -> String {
    plan.action_rule(action)
        .map(|r| roles_text(&r.approve))
        .unwrap_or_else(|| "nobody".to_owned())
}

/// Whether `who` holds a role that may approve under `rule`.
pub fn may_approve(plan: &Plan, who: &PersonId, rule: &ActionRule) -> Result<(), Denied> {
    let p = person(plan, who)?;
    if p.has_any_role(&rule.approve) {
        Ok(())
    } else {
        Err(Denied(format!(
            "{who} ({}) may not approve {}; the plan allows: {}",
            person_roles(p),
            rule.action,
            roles_text(&rule.approve)
        )))
    }
}

pub fn may_break_glass(plan: &Plan, who: &PersonId, rule: &ActionRule) -> Result<(), Denied> {
    let p = person(plan, who)?;
    if rule.break_glass.is_empty() {
        return Err(Denied(format!(
            "break-glass is not allowed for {} in this plan",
            rule.action
        )));
    }
    if p.has_any_role(&rule.break_glass) {
        Ok(())
    } else {
        Err(Denied(format!(
            "{who} ({}) may not break glass on {}; the plan allows: {}",
            person_roles(p),
            rule.action,
            roles_text(&rule.break_glass)
        )))
    }
}

/// Who may approve or deny one request. For a request warroom proposed for an alert on an
/// action the plan lets nobody approve (read-only ones such as `capture`), those who may
/// request it decide instead: their approval stands in for asking themselves.
pub fn may_decide(
    plan: &Plan,
    who: &PersonId,
    rule: &ActionRule,
    requested_by: &PersonId,
) -> Result<(), Denied> {
    if requested_by.as_str() == crate::request::PROPOSER && rule.approve.is_empty() {
        let p = person(plan, who)?;
        return if p.has_any_role(&rule.request) {
            Ok(())
        } else {
            Err(Denied(format!(
                "{who} ({}) may not confirm a proposed {}; the plan allows: {}",
                person_roles(p),
                rule.action,
                roles_text(&rule.request)
            )))
        };
    }
    may_approve(plan, who, rule)
}

/// Whether `who` may close `request` without it running (what resolving an incident does to
/// its open requests): its requester may cancel it, and whoever may decide it may deny it.
/// warroom's own proposal for an alert that nobody approved yet is a suggestion, nobody's
/// ask: whoever resolves the incident drops it.
pub fn may_close(plan: &Plan, who: &PersonId, request: &crate::Request) -> Result<(), Denied> {
    let unapproved_proposal =
        request.requested_by.as_str() == crate::request::PROPOSER && request.approvers.is_empty();
    if &request.requested_by == who || unapproved_proposal {
        return Ok(());
    }
    match plan.action_rule(request.spec.action) {
        Some(rule) => may_decide(plan, who, &rule, &request.requested_by),
        None => Err(Denied(format!(
            "{} is disabled in the current plan: only {}, who asked for it, can cancel it",
            request.spec.action, request.requested_by
        ))),
    }
}

/// Reviewing a break-glass use is an approval after the fact: same roles as approving.
pub fn may_review(plan: &Plan, who: &PersonId, rule: &ActionRule) -> Result<(), Denied> {
    may_approve(plan, who, rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        warroom_config::builtin().plan
    }

    #[test]
    fn a_request_is_closed_by_its_requester_or_whoever_may_decide_it() {
        let plan = plan();
        let r = crate::request::tests::request(1);
        assert!(may_close(&plan, &"alice".into(), &r).is_ok());
        assert!(may_close(&plan, &"bob".into(), &r).is_ok());
        let e = may_close(&plan, &"frank".into(), &r).unwrap_err();
        assert!(e.0.contains("may not approve quarantine"), "{e}");
        // warroom's proposal: anyone's to drop until someone approves it.
        let mut proposal = crate::request::tests::request(2);
        proposal.requested_by = crate::request::PROPOSER.into();
        assert!(may_close(&plan, &"frank".into(), &proposal).is_ok());
        proposal.approvers.push("bob".into());
        assert!(may_close(&plan, &"frank".into(), &proposal).is_err());
    }

    #[test]
    fn responders_may_request_and_approve_quarantine() {
        let plan = plan();
        let rule = may_request(&plan, &"alice".into(), ActionName::Quarantine).unwrap();
        assert!(may_approve(&plan, &"bob".into(), &rule).is_ok());
    }

    #[test]
    fn refusals_name_the_roles_the_plan_allows() {
        let plan = plan();
        let e = may_request(&plan, &"alice".into(), ActionName::Drain).unwrap_err();
        assert!(
            e.0.contains("alice (responder) may not request drain"),
            "{e}"
        );
        assert!(e.0.contains("sre-lead"), "{e}");
        let e = may_request(&plan, &"mallory".into(), ActionName::Capture).unwrap_err();
        assert!(e.0.contains("not a person in the response plan"), "{e}");
    }

    #[test]
    fn a_proposed_read_only_action_is_confirmed_by_those_who_may_request_it() {
        let plan = plan();
        let capture = plan.action_rule(ActionName::Capture).unwrap();
        let warroom: PersonId = crate::request::PROPOSER.into();
        assert!(
            may_approve(&plan, &"alice".into(), &capture).is_err(),
            "nobody approves a person's capture"
        );
        assert!(may_decide(&plan, &"alice".into(), &capture, &warroom).is_ok());
        assert!(may_decide(&plan, &"alice".into(), &capture, &"bob".into()).is_err());
        assert!(may_decide(&plan, &"mallory".into(), &capture, &warroom).is_err());
        // Where the plan names approvers, a proposal is decided by them as usual.
        let quarantine = plan.action_rule(ActionName::Quarantine).unwrap();
        assert_eq!(
            may_decide(&plan, &"bob".into(), &quarantine, &warroom),
            may_approve(&plan, &"bob".into(), &quarantine)
        );
    }

    #[test]
    fn break_glass_is_limited_to_the_plans_roles() {
        let plan = plan();
        let rule = plan.action_rule(ActionName::Quarantine).unwrap();
        assert!(may_break_glass(&plan, &"alice".into(), &rule).is_err());
        assert!(may_break_glass(&plan, &"carol".into(), &rule).is_ok());
        let release = plan.action_rule(ActionName::Release).unwrap();
        assert!(
            may_break_glass(&plan, &"carol".into(), &release)
                .unwrap_err()
                .0
                .contains("not allowed")
        );
    }
}
