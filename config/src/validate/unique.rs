//! Ids that must be unique, and chat accounts that belong to exactly one person.

use std::collections::HashMap;

use crate::locate::FieldPath;
use crate::model::Plan;
use crate::report::Report;

pub(super) fn check(plan: &Plan, report: &mut Report<'_>) {
    ids(
        report,
        "roles",
        "id",
        "role",
        plan.roles.iter().map(|r| r.id.as_str()),
    );
    ids(
        report,
        "people",
        "id",
        "person",
        plan.people.iter().map(|p| p.id.as_str()),
    );
    ids(
        report,
        "teams",
        "id",
        "team",
        plan.teams.iter().map(|t| t.id.as_str()),
    );
    ids(
        report,
        "escalation_policies",
        "id",
        "escalation policy",
        plan.escalation_policies.iter().map(|p| p.id.as_str()),
    );
    ids(
        report,
        "clusters",
        "name",
        "cluster",
        plan.clusters.iter().map(|c| c.name.as_str()),
    );
    ids(
        report,
        "aws_accounts",
        "name",
        "AWS account",
        plan.aws_accounts.iter().map(|a| a.name.as_str()),
    );
    alert_rule_names(plan, report);
    accounts(plan, report);
    reserved_person_ids(plan, report);
}

/// `warroom` is who proposes actions for alerts; a person with that id could never be told
/// apart from it in the timeline.
fn reserved_person_ids(plan: &Plan, report: &mut Report<'_>) {
    for (i, p) in plan.people.iter().enumerate() {
        if p.id.as_str() == "warroom" {
            report.at(
                &FieldPath::root().key("people").index(i).key("id"),
                "person id `warroom` is reserved: warroom records its own actions under it",
                "give this person another id, e.g. their user name",
            );
        }
    }
}

fn ids<'a>(
    report: &mut Report<'_>,
    section: &str,
    field: &str,
    what: &str,
    values: impl Iterator<Item = &'a str>,
) {
    let list = FieldPath::root().key(section);
    // Compared without case: `alice` and `Alice` are one human to the people reading the
    // timeline, and two approvers to a quorum if they were let in.
    let mut seen: HashMap<String, &str> = HashMap::new();
    for (i, value) in values.enumerate() {
        if let Some(first) = seen.insert(value.to_ascii_lowercase(), value) {
            let message = if first == value {
                format!("duplicate {what} {field} `{value}`; it is already defined above")
            } else {
                format!(
                    "duplicate {what} {field} `{value}`: `{first}` is already defined above (ids must differ by more than case)"
                )
            };
            report.at(
                &list.index(i).key(field),
                message,
                "each id must be unique; rename or remove one of them",
            );
        }
    }
}

fn alert_rule_names(plan: &Plan, report: &mut Report<'_>) {
    let list = FieldPath::root().key("alerts").key("rules");
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, rule) in plan.alerts.rules.iter().enumerate() {
        if seen.insert(rule.name.as_str(), i).is_some() {
            report.at(
                &list.index(i).key("name"),
                format!(
                    "duplicate alert rule name `{}`; it is already defined above",
                    rule.name
                ),
                "each rule name must be unique, since incidents and the ledger refer to it",
            );
        }
    }
}

/// A chat account or email on two people would let one human count twice for approvals.
fn accounts(plan: &Plan, report: &mut Report<'_>) {
    let hint = "one chat account belongs to exactly one person; remove it from one of them";
    let mut slack: HashMap<&str, &str> = HashMap::new();
    let mut discord: HashMap<&str, &str> = HashMap::new();
    let mut email: HashMap<String, &str> = HashMap::new();
    let people = FieldPath::root().key("people");
    for (i, person) in plan.people.iter().enumerate() {
        let id = person.id.as_str();
        if let Some(account) = person.slack.as_deref()
            && let Some(owner) = slack.insert(account, id).filter(|o| *o != id)
        {
            report.at(
                &people.index(i).key("slack"),
                format!("Slack user {account} is already mapped to person {owner}"),
                hint,
            );
            slack.insert(account, owner);
        }
        if let Some(account) = person.discord.as_deref()
            && let Some(owner) = discord.insert(account, id).filter(|o| *o != id)
        {
            report.at(
                &people.index(i).key("discord"),
                format!("Discord user {account} is already mapped to person {owner}"),
                hint,
            );
            discord.insert(account, owner);
        }
        if let Some(address) = person.email.as_deref()
            && let Some(owner) = email
                .insert(address.to_lowercase(), id)
                .filter(|o| *o != id)
        {
            report.at(
                &people.index(i).key("email"),
                format!("email {address} is already mapped to person {owner}"),
                "an email address belongs to exactly one person; remove it from one of them",
            );
            email.insert(address.to_lowercase(), owner);
        }
    }
}
