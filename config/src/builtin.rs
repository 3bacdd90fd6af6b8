//! The example plan, embedded so warroom runs on a fresh machine without a plan file.

use crate::load::{digest, load_str};
use crate::{LoadedPlan, PlanSource};

pub(crate) const EXAMPLE_PLAN: &str = include_str!("../examples/plan.toml");

/// The built-in example plan.
///
/// # Panics
///
/// Only if the embedded example is invalid, which a unit test rules out for every build.
pub fn builtin() -> LoadedPlan {
    let mut plan =
        load_str(PlanSource::Builtin.display().as_str(), EXAMPLE_PLAN).unwrap_or_else(|problems| {
            let listed: Vec<String> = problems.iter().map(ToString::to_string).collect();
            panic!(
                "the embedded example plan is invalid:\n{}",
                listed.join("\n")
            )
        });
    // Running on the built-in plan is practice by definition: nothing real is reachable, and
    // the console lets the newcomer play each person.
    plan.meta.drill = true;
    LoadedPlan {
        plan,
        source: PlanSource::Builtin,
        digest: digest(EXAMPLE_PLAN),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::action::ActionName;

    #[test]
    fn example_plan_loads_without_problems() {
        if let Err(problems) = load_str("plan.toml", EXAMPLE_PLAN) {
            let listed: Vec<String> = problems.iter().map(ToString::to_string).collect();
            panic!("{}", listed.join("\n"));
        }
    }

    #[test]
    fn builtin_has_the_documented_people_and_all_actions() {
        let loaded = builtin();
        let plan = &loaded.plan;
        for id in ["alice", "bob", "carol"] {
            assert!(plan.person(&id.into()).is_some(), "{id} missing");
        }
        assert_eq!(plan.actions.len(), ActionName::ALL.len());
        assert_eq!(plan.action_rule(ActionName::Capture).unwrap().approvals, 0);
        assert_eq!(
            plan.action_rule(ActionName::Quarantine).unwrap().approvals,
            1
        );
        assert_eq!(plan.action_rule(ActionName::Delete).unwrap().approvals, 2);
        assert_eq!(loaded.source, PlanSource::Builtin);
        assert_eq!(loaded.digest.len(), 64);
        assert_eq!(
            plan.data_dir(),
            Some(std::path::Path::new("./warroom-data"))
        );
    }

    #[test]
    fn alice_and_bob_may_request_and_approve_containment() {
        let plan = builtin().plan;
        let rule = plan.action_rule(ActionName::Quarantine).unwrap();
        for id in ["alice", "bob"] {
            let person = plan.person(&id.into()).unwrap();
            assert!(person.has_any_role(&rule.request), "{id} cannot request");
            assert!(person.has_any_role(&rule.approve), "{id} cannot approve");
        }
    }
}
