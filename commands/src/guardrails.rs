//! Guardrails that stand before any approval: protected namespaces, evidence before
//! destruction, a reason for anything that changes the cluster, critical workloads.

use warroom_config::{ActionName, ActionRule, Plan, Risk};

use crate::authorize::Denied;
use crate::command::{ActionRequest, ObjectKind};

/// What the cluster said about the target, as far as the guardrails need it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetFacts {
    /// The controller at the top of the owner chain, e.g. `("Deployment", "api")`.
    pub owner: Option<(String, String)>,
}

/// What the guardrails add to a request that passes them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Passed {
    /// Approvals added because the target is a critical workload.
    pub extra_approvals: u32,
    /// Lines for the approval card and the timeline (overrides, critical workloads).
    pub notes: Vec<String>,
}

/// Check one request. `evidence_captured` tells whether this incident already holds a
/// capture of the target (or of a pod on the node, for a drain).
pub fn check(
    plan: &Plan,
    rule: &ActionRule,
    request: &ActionRequest,
    cluster: &str,
    facts: &TargetFacts,
    evidence_captured: bool,
) -> Result<Passed, Denied> {
    let mut passed = Passed::default();
    let target = &request.target;
    if rule.reason_required
        && request
            .reason
            .as_deref()
            .is_none_or(|r| r.trim().is_empty())
    {
        return Err(Denied(format!(
            "{} is a {} action: give --reason TEXT (it is recorded and shown to approvers)",
            rule.action, rule.risk
        )));
    }
    if rule.risk != Risk::Read
        && target.kind.is_namespaced()
        && plan.guardrails.is_protected_namespace(&target.namespace)
    {
        return Err(Denied(format!(
            "namespace `{}` is protected by the plan ([guardrails] protected_namespaces): warroom does not run {} there",
            target.namespace, rule.action
        )));
    }
    let to_zero = request.params.get("replicas").is_some_and(|r| r == "0");
    let needs_evidence = plan
        .guardrails
        .require_evidence_before
        .contains(&rule.action)
        && (rule.action != ActionName::Scale || to_zero);
    if needs_evidence && !evidence_captured {
        match request.override_reason.as_deref().map(str::trim) {
            Some(why) if !why.is_empty() => passed.notes.push(format!(
                "guardrail overridden: no evidence captured for {target} — {why}"
            )),
            _ => {
                let capture = match target.kind {
                    ObjectKind::Node => {
                        format!("`capture pod NS/POD` for the pods on {}", target.name)
                    }
                    ObjectKind::Pod => format!("`capture pod {}`", target.path()),
                    _ => format!("`capture pod {}/POD` for its pods", target.namespace),
                };
                let what = if rule.action == ActionName::Scale {
                    "scale to zero"
                } else {
                    rule.action.as_str()
                };
                return Err(Denied(format!(
                    "no evidence has been captured for {target} in this incident, and {what} can destroy it: run {capture} first, or add --override \"why\" (recorded)"
                )));
            }
        }
    }
    if rule.risk != Risk::Read {
        let mut extra = plan.extra_approvals_for(
            cluster,
            &target.namespace,
            target.kind.as_str(),
            &target.name,
        );
        if let Some((kind, name)) = &facts.owner {
            extra = extra.max(plan.extra_approvals_for(cluster, &target.namespace, kind, name));
        }
        if extra > 0 {
            passed.extra_approvals = extra;
            passed.notes.push(format!(
                "critical workload: {extra} more approval(s) needed by the plan ([[critical]])"
            ));
        }
    }
    Ok(passed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Command;
    use crate::command::parse;

    fn request(line: &str) -> ActionRequest {
        match parse(line).unwrap() {
            Command::Action(a) => a,
            other => panic!("{other:?}"),
        }
    }

    fn run(line: &str, facts: &TargetFacts, captured: bool) -> Result<Passed, Denied> {
        let plan = warroom_config::builtin().plan;
        let req = request(line);
        let rule = plan.action_rule(req.action).unwrap();
        check(&plan, &rule, &req, "prod-eu", facts, captured)
    }

    #[test]
    fn contain_actions_need_a_reason() {
        let e = run(
            "quarantine pod payments/api-7f9c",
            &TargetFacts::default(),
            false,
        )
        .unwrap_err();
        assert!(e.0.contains("give --reason"), "{e}");
        assert!(
            run(
                "capture pod payments/api-7f9c",
                &TargetFacts::default(),
                false
            )
            .is_ok()
        );
    }

    #[test]
    fn protected_namespaces_refuse_changes_but_allow_reads() {
        let e = run(
            "quarantine pod kube-system/coredns-1 --reason x",
            &TargetFacts::default(),
            false,
        )
        .unwrap_err();
        assert!(e.0.contains("protected"), "{e}");
        assert!(
            run(
                "capture pod kube-system/coredns-1",
                &TargetFacts::default(),
                false
            )
            .is_ok()
        );
    }

    #[test]
    fn scale_to_zero_delete_and_drain_need_evidence_or_an_override() {
        let none = TargetFacts::default();
        for line in [
            "scale deployment payments/api --replicas 0 --reason x",
            "delete pod payments/api-7f9c --reason x",
            "drain node n1 --reason x",
        ] {
            let e = run(line, &none, false).unwrap_err();
            assert!(e.0.contains("no evidence has been captured"), "{line}: {e}");
            assert!(run(line, &none, true).is_ok(), "{line}");
            let over = run(
                &format!("{line} --override 'disk image taken by hand'"),
                &none,
                false,
            )
            .unwrap();
            assert!(over.notes[0].contains("disk image taken by hand"), "{line}");
        }
        assert!(
            run(
                "scale deployment payments/api --replicas 2 --reason x",
                &none,
                false
            )
            .is_ok()
        );
    }

    #[test]
    fn critical_workloads_need_one_more_approval_through_their_owner() {
        let owned = TargetFacts {
            owner: Some(("StatefulSet".into(), "ledger-db".into())),
        };
        let passed = run(
            "quarantine pod payments/ledger-db-0 --reason x",
            &owned,
            false,
        )
        .unwrap();
        assert_eq!(passed.extra_approvals, 1);
        let passed = run(
            "quarantine pod payments/api-7f9c --reason x",
            &TargetFacts::default(),
            false,
        )
        .unwrap();
        assert_eq!(passed.extra_approvals, 0);
    }
}
