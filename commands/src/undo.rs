//! What an undo sets back: the values a target had before warroom acted on it, from the
//! results its actions recorded (`protect`'s parts, `cordon`'s and `drain`'s
//! `unschedulable`, `revoke`'s replaced policy).
//!
//! Per value, the earliest action's `before` since the last undo: a later action found
//! warroom's own earlier work (a drain after a cordon finds the node cordoned, a second
//! protect finds protection on), which is not what to go back to. Unless the later action
//! found something other than what the previous one left: then someone changed it by hand
//! in between, and that later `before` is what was there before warroom acted again.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// (key, before, after) of each value a result records.
fn values(result: &Value) -> Vec<(String, Value, Value)> {
    let mut out = Vec::new();
    for p in result["parts"].as_array().into_iter().flatten() {
        if let Some(name) = p["part"].as_str()
            && p.get("skipped").is_none()
        {
            out.push((
                format!("part:{name}"),
                p["before"].clone(),
                p["after"].clone(),
            ));
        }
    }
    if let Some(before) = result.get("unschedulable_before") {
        out.push((
            "unschedulable".into(),
            before.clone(),
            result["unschedulable_after"].clone(),
        ));
    }
    if let Some(policy) = result.get("policy") {
        out.push(("policy".into(), result["replaced"].clone(), policy.clone()));
    }
    out
}

/// A policy document recorded as text compares equal to the same document as JSON.
fn comparable(v: &Value) -> Value {
    v.as_str()
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
        .filter(Value::is_object)
        .unwrap_or_else(|| v.clone())
}

/// The values before warroom acted, from `results` in the order their actions ran since the
/// target's last undo, in the shape the executors read: `parts` (`{part, before}`),
/// `unschedulable_before`, `replaced`, and `incomplete` when one of them failed half-way
/// (the parts it never reached are not recorded: leave them as they are). `None` when they
/// record nothing.
pub fn before_warroom<'a>(results: impl IntoIterator<Item = &'a Value>) -> Option<Value> {
    let mut first: BTreeMap<String, Value> = BTreeMap::new();
    let mut left: BTreeMap<String, Value> = BTreeMap::new();
    let mut incomplete = false;
    for result in results {
        // An action that failed half-way: what it never reached has no record here.
        incomplete |= result["incomplete"] == true;
        for (key, before, after) in values(result) {
            let changed_by_hand = left
                .get(&key)
                .is_some_and(|a| comparable(a) != comparable(&before));
            if !first.contains_key(&key) || changed_by_hand {
                first.insert(key.clone(), before);
            }
            left.insert(key, after);
        }
    }
    if first.is_empty() {
        return None;
    }
    let mut out = json!({});
    if incomplete {
        out["incomplete"] = json!(true);
    }
    let parts: Vec<Value> = first
        .iter()
        .filter_map(|(k, v)| Some(json!({ "part": k.strip_prefix("part:")?, "before": v })))
        .collect();
    if !parts.is_empty() {
        out["parts"] = Value::Array(parts);
    }
    if let Some(v) = first.get("unschedulable") {
        out["unschedulable_before"] = v.clone();
    }
    if let Some(v) = first.get("policy") {
        out["replaced"] = v.clone();
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cordon(before: bool) -> Value {
        json!({ "node": "n1", "unschedulable_before": before, "unschedulable_after": true })
    }

    #[test]
    fn a_drain_after_a_cordon_does_not_make_the_cordon_look_older_than_warroom() {
        // The cordon found it schedulable; the drain found the cordon's work.
        let got = before_warroom([&cordon(false), &cordon(true)]).unwrap();
        assert_eq!(got["unschedulable_before"], false);
    }

    #[test]
    fn a_change_by_hand_between_two_actions_is_what_was_there_before() {
        // Cordoned by warroom (it was cordoned by its operators), uncordoned by hand, then
        // cordoned again: the second cordon's `before` stands.
        let hand = json!({ "unschedulable_before": false, "unschedulable_after": true });
        let got = before_warroom([&cordon(true), &hand]).unwrap();
        assert_eq!(got["unschedulable_before"], false);
    }

    #[test]
    fn a_second_protect_keeps_the_first_ones_record_per_part() {
        let first = json!({ "parts": [
            { "part": "DisableApiTermination", "before": true, "after": true },
            { "part": "DisableApiStop", "before": false, "after": true },
            { "part": "scale-in protection", "group": null, "skipped": "not in a group" },
        ]});
        let second = json!({ "parts": [
            { "part": "DisableApiTermination", "before": true, "after": true },
            { "part": "DisableApiStop", "before": true, "after": true },
        ]});
        let got = before_warroom([&first, &second]).unwrap();
        assert_eq!(
            got["parts"],
            json!([
                { "part": "DisableApiStop", "before": false },
                { "part": "DisableApiTermination", "before": true },
            ])
        );
    }

    #[test]
    fn a_second_revoke_does_not_put_back_the_first_ones_policy() {
        let doc = |t: &str| json!({ "Statement": [{ "Condition": { "DateLessThan": { "aws:TokenIssueTime": t } } }] });
        let first = json!({ "policy": doc("T1"), "replaced": null });
        // IAM hands the document back as text.
        let second = json!({ "policy": doc("T2"), "replaced": doc("T1").to_string() });
        let got = before_warroom([&first, &second]).unwrap();
        assert_eq!(got["replaced"], Value::Null, "nothing was there before");
    }

    #[test]
    fn results_that_record_nothing_give_nothing() {
        assert_eq!(before_warroom([&json!({ "node": "n1" })]), None);
        assert_eq!(before_warroom(std::iter::empty()), None);
    }
}
