//! The pagers the plan's `[paging]` section configures, with their secrets read.

use std::collections::HashMap;
use std::sync::Arc;

use warroom_adapters::pager::{Email, Pager, PagerDuty, Webhook};
use warroom_config::LoadedPlan;

/// Every pager that can be set up; each one that cannot is named with the reason.
pub fn from_plan(plan: &LoadedPlan) -> (Vec<Arc<dyn Pager>>, Vec<String>) {
    let paging = &plan.plan.paging;
    let mut pagers: Vec<Arc<dyn Pager>> = Vec::new();
    let mut problems = Vec::new();
    if let Some(pd) = &paging.pagerduty {
        let mut tier_keys = HashMap::new();
        for policy in &plan.plan.escalation_policies {
            for (n, tier) in policy.tiers.iter().enumerate() {
                if let Some(secret) = &tier.pagerduty_routing_key {
                    match secret.resolve() {
                        Ok(key) => {
                            tier_keys.insert((policy.id.to_string(), n as u32), key);
                        }
                        Err(e) => problems.push(format!(
                            "escalation_policies `{}` tier {}: pagerduty_routing_key: {e}",
                            policy.id,
                            n + 1
                        )),
                    }
                }
            }
        }
        let tiers_read = problems.is_empty();
        match pd.routing_key.resolve() {
            // A tier whose key is unreadable would page the default service in its place
            // and call it delivered: PagerDuty is not started, and its pages fail saying so.
            Ok(_) if !tiers_read => {}
            Ok(key) => pagers.push(Arc::new(PagerDuty::new(
                pd.api_base_url.as_deref(),
                key,
                tier_keys,
            ))),
            Err(e) => problems.push(format!("paging.pagerduty.routing_key: {e}")),
        }
    }
    if let Some(w) = &paging.webhook {
        match w.token.as_ref().map(|t| t.resolve()).transpose() {
            Ok(token) => pagers.push(Arc::new(Webhook::new(w.url.clone(), token))),
            Err(e) => problems.push(format!("paging.webhook.token: {e}")),
        }
    }
    if let Some(m) = &paging.email {
        let credentials = match (&m.username, &m.password) {
            (Some(user), Some(secret)) => match secret.resolve() {
                Ok(p) => Ok(Some((user.clone(), p))),
                Err(e) => Err(format!("paging.email.password: {e}")),
            },
            _ => Ok(None),
        };
        match credentials.and_then(|c| Email::new(&m.smtp_host, m.smtp_port, &m.from, c)) {
            Ok(email) => pagers.push(Arc::new(email)),
            Err(e) => problems.push(e),
        }
    }
    (pagers, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_with_tier_key(tier_key: &str) -> LoadedPlan {
        let text = include_str!("../../config/examples/plan.toml")
            .replace(
                "routing_key = { env = \"PAGERDUTY_ROUTING_KEY\" }",
                "routing_key = { env = \"PATH\" }",
            )
            .replace(
                "# pagerduty_routing_key = { env = \"PAGERDUTY_KEY_INCIDENT_COMMAND\" }",
                &format!("pagerduty_routing_key = {{ env = \"{tier_key}\" }} #"),
            );
        LoadedPlan {
            plan: warroom_config::load_str("plan.toml", &text).expect("the example plan loads"),
            source: warroom_config::PlanSource::Builtin,
            digest: String::new(),
        }
    }

    #[test]
    fn a_tier_whose_pagerduty_key_cannot_be_read_keeps_pagerduty_from_starting() {
        let (pagers, problems) = from_plan(&plan_with_tier_key("WARROOM_TEST_NO_SUCH_KEY"));
        assert!(
            !pagers.iter().any(|p| p.name() == "pagerduty"),
            "PagerDuty would page the default service in that tier's place"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("tier 2: pagerduty_routing_key")
                    && p.contains("WARROOM_TEST_NO_SUCH_KEY")),
            "{problems:?}"
        );
        // With every key readable, it starts.
        let (pagers, _) = from_plan(&plan_with_tier_key("PATH"));
        assert!(pagers.iter().any(|p| p.name() == "pagerduty"));
    }
}
