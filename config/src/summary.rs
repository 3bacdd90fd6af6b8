//! A one-screen overview of a plan, for `warroom plan show` and the startup log.

use std::fmt::Write as _;

use crate::model::Plan;
use crate::model::action::{ActionName, Risk};
use crate::model::infra::ClusterAccess;

impl Plan {
    /// About 20 lines describing the plan; contains no secrets (only where they come from).
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let m = &self.meta;
        let drill = if m.drill { "  [DRILL MODE]" } else { "" };
        let _ = writeln!(out, "Plan: {}{drill}", m.name);
        let version = m.version.as_deref().unwrap_or("unversioned");
        let _ = writeln!(
            out,
            "  version {version}, owner {}, time zone {}",
            m.owner, m.timezone
        );
        let people: Vec<&str> = self.people.iter().map(|p| p.id.as_str()).collect();
        let _ = writeln!(out, "People ({}): {}", people.len(), list(&people));
        let roles: Vec<&str> = self.roles.iter().map(|r| r.id.as_str()).collect();
        let _ = writeln!(out, "Roles ({}): {}", roles.len(), list(&roles));
        let teams: Vec<String> = self
            .teams
            .iter()
            .map(|t| format!("{} ({})", t.id, t.members.len()))
            .collect();
        let _ = writeln!(out, "Teams ({}): {}", teams.len(), list(&teams));
        let policies: Vec<String> = self
            .escalation_policies
            .iter()
            .map(|p| format!("{} ({} tiers)", p.id, p.tiers.len()))
            .collect();
        let _ = writeln!(
            out,
            "Escalation policies ({}): {}",
            policies.len(),
            list(&policies)
        );
        self.summarize_actions(&mut out);
        let _ = writeln!(
            out,
            "Protected namespaces: {}",
            list(&self.guardrails.protected_namespaces)
        );
        let extra = self
            .critical
            .iter()
            .map(|c| c.extra_approvals)
            .max()
            .unwrap_or(0);
        let _ = writeln!(
            out,
            "Critical workloads: {} (up to +{extra} approvals)",
            self.critical.len()
        );
        let clusters: Vec<String> = self
            .clusters
            .iter()
            .map(|c| {
                let access = match c.access() {
                    Some(ClusterAccess::Kubeconfig {
                        context: Some(ctx), ..
                    }) => format!("context {ctx}"),
                    Some(ClusterAccess::Kubeconfig { .. }) => "kubeconfig".to_owned(),
                    Some(ClusterAccess::InCluster) => "in-cluster".to_owned(),
                    None => "unreachable".to_owned(),
                };
                format!("{} ({access}, {})", c.name, c.network_policy.as_str())
            })
            .collect();
        let _ = writeln!(out, "Clusters ({}): {}", clusters.len(), list(&clusters));
        let accounts: Vec<String> = self
            .aws_accounts
            .iter()
            .map(|a| format!("{} {} {}", a.name, a.account_id, a.region))
            .collect();
        let _ = writeln!(
            out,
            "AWS accounts ({}): {}",
            accounts.len(),
            list(&accounts)
        );
        let evidence = self
            .storage
            .evidence
            .as_ref()
            .map_or_else(|| "not configured".to_owned(), |e| e.describe());
        let data = self.data_dir().map_or_else(
            || "not set (pass --data)".to_owned(),
            |d| d.display().to_string(),
        );
        let _ = writeln!(out, "Evidence store: {evidence}; ledger in {data}");
        let _ = writeln!(out, "Alert rules: {}", self.alerts.rules.len());
        let c = &self.communication;
        let stakeholders = c.stakeholder_channel.as_deref().unwrap_or("none");
        let _ = writeln!(
            out,
            "Channels: {}, stakeholders {stakeholders}, status every {}",
            c.channel_name,
            crate::duration::format(c.status_update_every)
        );
        let mut chat = Vec::new();
        if let Some(slack) = &c.slack {
            chat.push(format!("Slack ({:?} mode)", slack.mode).to_lowercase());
        }
        if c.discord.is_some() {
            chat.push("discord".to_owned());
        }
        let mut paging = Vec::new();
        if self.paging.pagerduty.is_some() {
            paging.push("pagerduty");
        }
        if self.paging.webhook.is_some() {
            paging.push("webhook");
        }
        if self.paging.email.is_some() {
            paging.push("email");
        }
        let _ = writeln!(
            out,
            "Chat: {}; paging: {} (each delivery retried for {})",
            list(&chat),
            list(&paging),
            crate::format_duration(self.paging.retry_for)
        );
        out
    }

    fn summarize_actions(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "Actions ({} of {}), approvals besides the requester:",
            self.actions.len(),
            ActionName::ALL.len()
        );
        for risk in [Risk::Read, Risk::Contain, Risk::Destructive] {
            let items: Vec<String> = ActionName::ALL
                .into_iter()
                .filter(|a| a.risk() == risk)
                .filter_map(|a| self.action_rule(a))
                .map(|r| {
                    let glass = if r.break_glass.is_empty() { "" } else { "!" };
                    format!("{} {}{glass}", r.action, r.approvals)
                })
                .collect();
            if !items.is_empty() {
                let _ = writeln!(out, "  {risk}: {}", items.join(", "));
            }
        }
        let disabled: Vec<&str> = ActionName::ALL
            .into_iter()
            .filter(|a| !self.actions.contains_key(a))
            .map(ActionName::as_str)
            .collect();
        if !disabled.is_empty() {
            let _ = writeln!(out, "  disabled: {}", disabled.join(", "));
        }
        if self.actions.values().any(|p| !p.break_glass.is_empty()) {
            let _ = writeln!(out, "  (! = break-glass allowed)");
        }
    }
}

fn list<T: AsRef<str>>(items: &[T]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items
            .iter()
            .map(AsRef::as_ref)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use crate::builtin;

    #[test]
    fn summary_of_the_example_fits_one_screen_and_names_the_people() {
        let summary = builtin().plan.summary();
        let lines = summary.lines().count();
        assert!(lines <= 25, "{lines} lines:\n{summary}");
        assert!(
            summary.contains("People (7): alice, bob, carol"),
            "{summary}"
        );
        assert!(summary.contains("delete 2"), "{summary}");
        assert!(summary.contains("capture 0"), "{summary}");
        assert!(summary.contains("kube-system"), "{summary}");
        assert!(summary.contains("Critical workloads: 1"), "{summary}");
        assert!(summary.contains("Alert rules: 7"), "{summary}");
        assert!(summary.contains("inc-{date}-{slug}"), "{summary}");
    }

    #[test]
    fn summary_never_shows_secret_sources_values() {
        let summary = builtin().plan.summary();
        assert!(!summary.contains("SLACK_BOT_TOKEN"));
    }
}
