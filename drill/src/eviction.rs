//! The pods/eviction subresource: deletion that honours PodDisruptionBudgets.

use serde_json::{Value, json};

use crate::status::{self, ApiError};
use crate::store::Store;
use crate::{catalog, crud, meta, selector};

/// A PodDisruptionBudget's arithmetic over the pods it selects right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    pub name: String,
    pub expected: i64,
    pub healthy: i64,
    pub desired: i64,
}

/// An int-or-percent scaled against `total`, percentages rounded up as the disruption
/// controller does.
fn scaled(value: &Value, total: i64) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => {
            let pct: i64 = s.strip_suffix('%')?.trim().parse().ok()?;
            Some((pct * total + 99) / 100)
        }
        _ => None,
    }
}

impl Budget {
    pub fn of(store: &Store, pdb: &Value) -> Self {
        let selector = pdb.pointer("/spec/selector");
        let pods: Vec<&Value> = store
            .list(catalog::pods(), Some(meta::namespace(pdb)))
            .into_iter()
            .filter(|p| meta::pod_active(p) && selector::selects(selector, meta::labels(p)))
            .collect();
        let expected = i64::try_from(pods.len()).unwrap_or(i64::MAX);
        let healthy =
            i64::try_from(pods.iter().filter(|p| meta::pod_ready(p)).count()).unwrap_or(0);
        let desired = if let Some(min) = pdb.pointer("/spec/minAvailable") {
            scaled(min, expected).unwrap_or(0)
        } else if let Some(max) = pdb.pointer("/spec/maxUnavailable") {
            (expected - scaled(max, expected).unwrap_or(0)).max(0)
        } else {
            // Neither set: the disruption controller then requires no healthy pods.
            0
        };
        Self {
            name: meta::name(pdb).to_string(),
            expected,
            healthy,
            desired,
        }
    }
}

fn refusal(budget: &Budget) -> ApiError {
    ApiError::new(
        429,
        "TooManyRequests",
        "Cannot evict pod as it would violate the pod's disruption budget.",
    )
    .with_details(json!({
        "causes": [{
            "reason": "DisruptionBudget",
            "message": format!(
                "The disruption budget {} needs {} healthy pods and has {} currently",
                budget.name, budget.desired, budget.healthy
            ),
        }],
    }))
}

/// Handles `POST .../pods/{name}/eviction`.
pub fn evict(
    store: &mut Store,
    ns: &str,
    name: &str,
    body: &[u8],
    dry_run: bool,
) -> Result<Value, ApiError> {
    let pods = catalog::pods();
    let eviction: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding Eviction: {e}")))?
    };
    if !eviction.is_object() {
        return Err(ApiError::bad_request("an Eviction must be a JSON object"));
    }
    if let Some(kind) = eviction.get("kind").and_then(Value::as_str)
        && kind != "Eviction"
    {
        return Err(ApiError::bad_request(format!(
            "expected an Eviction, got a {kind}"
        )));
    }
    let body_name = meta::name(&eviction);
    if !body_name.is_empty() && body_name != name {
        return Err(ApiError::bad_request(
            "name in URL does not match name in Eviction object",
        ));
    }
    let pod = store
        .get(pods, ns, name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(pods, name))?;
    let options = eviction.get("deleteOptions").cloned().unwrap_or(json!({}));
    crud::check_preconditions(pods, &pod, &options)?;
    let dry_run = dry_run
        || options
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|d| d.iter().any(|x| x.as_str() == Some("All")));

    let terminal = matches!(meta::str_at(&pod, "/status/phase"), "Succeeded" | "Failed");
    if !terminal {
        let budgets: Vec<Value> = store
            .list(catalog::pdbs(), Some(ns))
            .into_iter()
            .filter(|pdb| selector::selects(pdb.pointer("/spec/selector"), meta::labels(&pod)))
            .cloned()
            .collect();
        if budgets.len() > 1 {
            return Err(ApiError::internal(
                "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
            ));
        }
        if let Some(pdb) = budgets.first() {
            let budget = Budget::of(store, pdb);
            // Evicting a healthy pod needs one healthy pod to spare; an unhealthy one costs nothing.
            let allowed = if meta::pod_ready(&pod) {
                budget.healthy > budget.desired
            } else {
                budget.healthy >= budget.desired
            };
            if !allowed {
                return Err(refusal(&budget));
            }
        }
    }
    if !dry_run {
        crud::remove_object(store, pods, ns, name, false);
    }
    Ok(status::success(
        201,
        json!({ "name": name, "kind": "pods" }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_up() {
        assert_eq!(scaled(&json!("50%"), 3), Some(2));
        assert_eq!(scaled(&json!(2), 3), Some(2));
        assert_eq!(scaled(&json!("x"), 3), None);
    }
}
