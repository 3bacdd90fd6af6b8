//! Reads the parsed tree into a [`Plan`] piece by piece, so one bad entry does not hide others.

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use crate::locate::{FieldPath, subtree_contains};
use crate::model::Plan;
use crate::model::action::ActionName;
use crate::report::Report;

pub(crate) const SECTIONS: [&str; 19] = [
    "plan",
    "storage",
    "roles",
    "people",
    "teams",
    "escalation_policies",
    "approvals",
    "actions",
    "guardrails",
    "evidence",
    "critical",
    "communication",
    "alerts",
    "clusters",
    "aws_accounts",
    "paging",
    "console",
    "drill",
    "ha",
];

pub(crate) fn build(root: &Spanned<DeTable<'_>>, report: &mut Report<'_>) -> Plan {
    let mut plan = Plan::default();
    for (key, value) in root.get_ref() {
        let name: &str = key.get_ref();
        let path = FieldPath::root().key(name);
        match name {
            "plan" => set(&mut plan.meta, value, &path, report),
            "storage" => set(&mut plan.storage, value, &path, report),
            "roles" => plan.roles = list(value, &path, report),
            "people" => plan.people = list(value, &path, report),
            "teams" => plan.teams = list(value, &path, report),
            "escalation_policies" => plan.escalation_policies = list(value, &path, report),
            "approvals" => set(&mut plan.approvals, value, &path, report),
            "actions" => actions(&mut plan, value, &path, report),
            "guardrails" => set(&mut plan.guardrails, value, &path, report),
            "evidence" => set(&mut plan.evidence, value, &path, report),
            "critical" => plan.critical = list(value, &path, report),
            "communication" => set(&mut plan.communication, value, &path, report),
            "alerts" => alerts(&mut plan, value, &path, report),
            "clusters" => plan.clusters = list(value, &path, report),
            "aws_accounts" => plan.aws_accounts = list(value, &path, report),
            "paging" => set(&mut plan.paging, value, &path, report),
            "console" => set(&mut plan.console, value, &path, report),
            "drill" => set(&mut plan.drill, value, &path, report),
            "ha" => set(&mut plan.ha, value, &path, report),
            other => report.at_offset(
                key.span().start,
                &path,
                format!("unknown section `{other}`"),
                format!("valid sections: {}", SECTIONS.join(", ")),
            ),
        }
    }
    if !root.get_ref().contains_key("plan") {
        report.mark_incomplete("plan");
        report.at_offset(
            0,
            &FieldPath::root().key("plan"),
            "missing section [plan]",
            "add [plan] with name and owner at the top of the file",
        );
    }
    plan
}

fn set<T: DeserializeOwned>(
    target: &mut T,
    value: &Spanned<DeValue<'_>>,
    path: &FieldPath,
    report: &mut Report<'_>,
) {
    match recover(value, report) {
        Some(v) => *target = v,
        None => report.mark_incomplete(&path.to_string()),
    }
}

/// An array of tables, element by element; remembers where each kept element came from.
fn list<T: DeserializeOwned>(
    value: &Spanned<DeValue<'_>>,
    path: &FieldPath,
    report: &mut Report<'_>,
) -> Vec<T> {
    let DeValue::Array(items) = value.get_ref() else {
        report.mark_incomplete(&path.to_string());
        report.at_offset(
            value.span().start,
            path,
            format!("`{path}` must be a list of tables"),
            format!("write each entry as a [[{path}]] table"),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut source = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match recover(item, report) {
            Some(v) => {
                out.push(v);
                source.push(i);
            }
            None => report.mark_incomplete(&path.to_string()),
        }
    }
    report.set_source_index(path, source);
    out
}

fn actions(
    plan: &mut Plan,
    value: &Spanned<DeValue<'_>>,
    path: &FieldPath,
    report: &mut Report<'_>,
) {
    let Some(table) = value.get_ref().as_table() else {
        report.mark_incomplete("actions");
        report.at_offset(
            value.span().start,
            path,
            "`actions` must be a table of [actions.<name>] sections",
            "write e.g. [actions.quarantine]",
        );
        return;
    };
    for (key, policy) in table {
        let name: &str = key.get_ref();
        let action_path = path.key(name);
        let Ok(action) = name.parse::<ActionName>() else {
            report.at_offset(
                key.span().start,
                &action_path,
                format!("unknown action `{name}`"),
                format!("valid actions: {}", ActionName::valid_list()),
            );
            continue;
        };
        match recover(policy, report) {
            Some(p) => {
                plan.actions.insert(action, p);
            }
            None => report.mark_incomplete("actions"),
        }
    }
}

fn alerts(
    plan: &mut Plan,
    value: &Spanned<DeValue<'_>>,
    path: &FieldPath,
    report: &mut Report<'_>,
) {
    let Some(table) = value.get_ref().as_table() else {
        report.mark_incomplete("alerts.rules");
        report.at_offset(
            value.span().start,
            path,
            "`alerts` must be a table",
            "write each rule as a [[alerts.rules]] table",
        );
        return;
    };
    for (key, item) in table {
        let name: &str = key.get_ref();
        if name == "rules" {
            plan.alerts.rules = list(item, &path.key("rules"), report);
        } else if name == "intake" {
            set(&mut plan.alerts.intake, item, &path.key("intake"), report);
        } else {
            report.at_offset(
                key.span().start,
                &path.key(name),
                format!("unknown field `{name}`"),
                "check the spelling; valid fields: `rules`, `intake`",
            );
        }
    }
}

/// Deserializes `value`; on each error, reports it, drops the offending entry and tries again,
/// so every bad field of one table is reported, not only the first.
fn recover<T: DeserializeOwned>(
    value: &Spanned<DeValue<'_>>,
    report: &mut Report<'_>,
) -> Option<T> {
    let mut current = value.clone();
    let mut removed: Vec<String> = Vec::new();
    loop {
        let err = match T::deserialize(ValueDeserializer::from(current.clone())) {
            Ok(v) => return Some(v),
            Err(err) => err,
        };
        // A required field we dropped ourselves was already reported.
        if removed
            .iter()
            .any(|k| err.message().starts_with(&format!("missing field `{k}`")))
        {
            return None;
        }
        report.serde_error(&err, current.span().start);
        let offset = err.span()?.start;
        let DeValue::Table(table) = current.get_mut() else {
            return None;
        };
        let key = table
            .iter()
            .find(|(k, v)| k.span().contains(&offset) || subtree_contains(v, offset))
            .map(|(k, _)| k.get_ref().to_string())?;
        if removed.contains(&key) {
            return None;
        }
        table.remove(key.as_str());
        removed.push(key);
    }
}
