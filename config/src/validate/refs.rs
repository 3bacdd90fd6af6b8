//! Everything the plan refers to must be defined in it.

use std::collections::BTreeSet;

use crate::locate::FieldPath;
use crate::model::Plan;
use crate::model::escalation::NotifyTarget;
use crate::model::ids::RoleId;
use crate::report::Report;

struct Known<'p> {
    roles: Option<BTreeSet<&'p str>>,
    people: Option<BTreeSet<&'p str>>,
    teams: Option<BTreeSet<&'p str>>,
    policies: Option<BTreeSet<&'p str>>,
    clusters: Option<BTreeSet<&'p str>>,
    accounts: Option<BTreeSet<&'p str>>,
}

/// `None` when the section could not be read completely: a missing name may just be in the
/// unreadable entry, and the real error is already reported.
fn known<'p>(
    report: &Report<'_>,
    section: &str,
    names: impl Iterator<Item = &'p str>,
) -> Option<BTreeSet<&'p str>> {
    report.is_complete(section).then(|| names.collect())
}

fn listing(names: &BTreeSet<&str>) -> String {
    if names.is_empty() {
        "none are defined".to_owned()
    } else {
        format!(
            "defined: {}",
            names.iter().copied().collect::<Vec<_>>().join(", ")
        )
    }
}

pub(super) fn check(plan: &Plan, report: &mut Report<'_>) {
    let k = Known {
        roles: known(report, "roles", plan.roles.iter().map(|r| r.id.as_str())),
        people: known(report, "people", plan.people.iter().map(|p| p.id.as_str())),
        teams: known(report, "teams", plan.teams.iter().map(|t| t.id.as_str())),
        policies: known(
            report,
            "escalation_policies",
            plan.escalation_policies.iter().map(|p| p.id.as_str()),
        ),
        clusters: known(
            report,
            "clusters",
            plan.clusters.iter().map(|c| c.name.as_str()),
        ),
        accounts: known(
            report,
            "aws_accounts",
            plan.aws_accounts.iter().map(|a| a.name.as_str()),
        ),
    };
    people_and_teams(plan, &k, report);
    escalation(plan, &k, report);
    actions(plan, &k, report);
    infrastructure(plan, &k, report);
    alerts(plan, &k, report);
}

fn reference(
    report: &mut Report<'_>,
    known: &Option<BTreeSet<&str>>,
    path: FieldPath,
    what: &str,
    name: &str,
    define: &str,
) {
    if let Some(names) = known
        && !names.contains(name)
    {
        report.at(
            &path,
            format!("{what} `{name}` is not defined"),
            format!("define it under {define} ({})", listing(names)),
        );
    }
}

fn roles(report: &mut Report<'_>, k: &Known<'_>, path: &FieldPath, what: &str, roles: &[RoleId]) {
    for (j, role) in roles.iter().enumerate() {
        reference(
            report,
            &k.roles,
            path.index(j),
            what,
            role.as_str(),
            "[[roles]]",
        );
    }
}

fn people_and_teams(plan: &Plan, k: &Known<'_>, report: &mut Report<'_>) {
    for (i, person) in plan.people.iter().enumerate() {
        let path = FieldPath::root().key("people").index(i).key("roles");
        roles(report, k, &path, "role", &person.roles);
    }
    for (i, token) in plan.console.tokens.iter().enumerate() {
        let path = FieldPath::root()
            .key("console")
            .key("tokens")
            .index(i)
            .key("person");
        reference(
            report,
            &k.people,
            path,
            "person",
            token.person.as_str(),
            "[[people]]",
        );
    }
    for (i, team) in plan.teams.iter().enumerate() {
        let path = FieldPath::root().key("teams").index(i).key("members");
        for (j, member) in team.members.iter().enumerate() {
            reference(
                report,
                &k.people,
                path.index(j),
                "person",
                member.as_str(),
                "[[people]]",
            );
        }
    }
}

fn escalation(plan: &Plan, k: &Known<'_>, report: &mut Report<'_>) {
    for (i, policy) in plan.escalation_policies.iter().enumerate() {
        let path = FieldPath::root().key("escalation_policies").index(i);
        if policy.tiers.is_empty() {
            report.at(
                &path.key("tiers"),
                format!("escalation policy `{}` has no tiers", policy.id),
                "add at least one [[escalation_policies.tiers]] with notify and escalate_after",
            );
        }
        for (t, tier) in policy.tiers.iter().enumerate() {
            if tier.pagerduty_routing_key.is_some() && plan.paging.pagerduty.is_none() {
                report.at(
                    &path.key("tiers").index(t).key("pagerduty_routing_key"),
                    "a tier's PagerDuty key, but no [paging.pagerduty] to send with",
                    "add [paging.pagerduty] with a routing_key, or remove this key",
                );
            }
            let notify = path.key("tiers").index(t).key("notify");
            if tier.notify.is_empty() {
                report.at(
                    &notify,
                    "this tier notifies nobody",
                    "list e.g. \"person:alice\" or \"team:platform\"",
                );
            }
            for (n, target) in tier.notify.iter().enumerate() {
                match target {
                    NotifyTarget::Person(id) => {
                        reference(
                            report,
                            &k.people,
                            notify.index(n),
                            "person",
                            id.as_str(),
                            "[[people]]",
                        );
                    }
                    NotifyTarget::Team(id) => {
                        reference(
                            report,
                            &k.teams,
                            notify.index(n),
                            "team",
                            id.as_str(),
                            "[[teams]]",
                        );
                    }
                }
            }
        }
    }
}

fn actions(plan: &Plan, k: &Known<'_>, report: &mut Report<'_>) {
    for (action, policy) in &plan.actions {
        let path = FieldPath::root().key("actions").key(action.as_str());
        roles(report, k, &path.key("request"), "role", &policy.request);
        roles(report, k, &path.key("approve"), "role", &policy.approve);
        roles(
            report,
            k,
            &path.key("break_glass"),
            "break-glass role",
            &policy.break_glass,
        );
    }
    if report.is_complete("actions") {
        for (j, action) in plan.guardrails.require_evidence_before.iter().enumerate() {
            if !plan.actions.contains_key(action) {
                report.at(
                    &FieldPath::root()
                        .key("guardrails")
                        .key("require_evidence_before")
                        .index(j),
                    format!("action `{action}` is not defined"),
                    format!("add [actions.{action}] or remove it from this list"),
                );
            }
        }
    }
}

fn infrastructure(plan: &Plan, k: &Known<'_>, report: &mut Report<'_>) {
    for (i, cluster) in plan.clusters.iter().enumerate() {
        if let Some(account) = &cluster.aws_account {
            let path = FieldPath::root()
                .key("clusters")
                .index(i)
                .key("aws_account");
            reference(
                report,
                &k.accounts,
                path,
                "AWS account",
                account,
                "[[aws_accounts]]",
            );
        }
    }
    for (i, workload) in plan.critical.iter().enumerate() {
        let path = FieldPath::root().key("critical").index(i).key("cluster");
        reference(
            report,
            &k.clusters,
            path,
            "cluster",
            &workload.cluster,
            "[[clusters]]",
        );
    }
}

fn alerts(plan: &Plan, k: &Known<'_>, report: &mut Report<'_>) {
    let actions_complete = report.is_complete("actions");
    for (i, rule) in plan.alerts.rules.iter().enumerate() {
        let path = FieldPath::root().key("alerts").key("rules").index(i);
        if let Some(policy) = &rule.page {
            reference(
                report,
                &k.policies,
                path.key("page"),
                "escalation policy",
                policy.as_str(),
                "[[escalation_policies]]",
            );
        }
        if !actions_complete {
            continue;
        }
        for (j, action) in rule.propose.iter().enumerate() {
            if !plan.actions.contains_key(action) {
                report.at(
                    &path.key("propose").index(j),
                    format!("action `{action}` is proposed but not defined"),
                    format!("add [actions.{action}] so someone may request it"),
                );
            }
        }
    }
}
