//! `protect node NODE` and `unprotect node NODE`: keep a suspect node's instance (and its
//! disks, the evidence) from being terminated, stopped or scaled in while it is investigated.
//!
//! Guarantees: protect sets, in order, EC2 `DisableApiTermination` and `DisableApiStop`, Auto
//! Scaling scale-in protection when the instance is in a group, and the node annotation
//! `karpenter.sh/do-not-disrupt=true`; each part's value before and after is recorded, and
//! unprotect sets each part back to its value before warroom protected it (a part that was
//! already on stays on; see `warroom_commands::undo`), or off when there is no such record
//! (protected in another incident, or by hand). When a part fails, the parts already applied
//! are named in the error and recorded with the failure, so `unprotect` sets them back to
//! what they were before, as after a whole protect. Spot instances are refused with
//! nothing changed: AWS reclaims them regardless of these settings. Assumes the role may call
//! `ec2:DescribeInstances`, `ec2:DescribeInstanceAttribute`, `ec2:ModifyInstanceAttribute`,
//! `autoscaling:DescribeAutoScalingInstances` and `autoscaling:SetInstanceProtection`.
//! Caveats: protection does not stop the instance's own OS from shutting down, a person with
//! rights to change the attributes, or a health-check replacement by the group (suspend the
//! group's `ReplaceUnhealthy` process for that).

use aws_sdk_ec2::types::{AttributeBooleanValue, InstanceAttributeName};
use serde_json::{Value, json};

use super::errors::classify;
use super::instance::Instance;
use crate::cluster::{Cluster, ClusterError, Execution};

/// Karpenter leaves a node with this annotation alone (no consolidation, no drift).
pub const DO_NOT_DISRUPT: &str = "karpenter.sh/do-not-disrupt";

/// One part of protection: its name and its value before and after.
fn part(name: &str, before: Value, after: Value) -> Value {
    json!({ "part": name, "before": before, "after": after })
}

async fn attribute(
    ec2: &aws_sdk_ec2::Client,
    id: &str,
    which: InstanceAttributeName,
) -> Result<bool, ClusterError> {
    let doing = format!("DescribeInstanceAttribute {} of {id}", which.as_str());
    let out = ec2
        .describe_instance_attribute()
        .instance_id(id)
        .attribute(which.clone())
        .send()
        .await
        .map_err(|e| classify(&doing, e))?;
    let value = match which {
        InstanceAttributeName::DisableApiStop => out.disable_api_stop(),
        _ => out.disable_api_termination(),
    };
    Ok(value.and_then(|v| v.value()).unwrap_or(false))
}

async fn set_attribute(
    ec2: &aws_sdk_ec2::Client,
    id: &str,
    which: InstanceAttributeName,
    on: bool,
) -> Result<(), ClusterError> {
    let value = AttributeBooleanValue::builder().value(on).build();
    let call = ec2.modify_instance_attribute().instance_id(id);
    let call = match which {
        InstanceAttributeName::DisableApiStop => call.disable_api_stop(value),
        _ => call.disable_api_termination(value),
    };
    call.send().await.map(|_| ()).map_err(|e| {
        classify(
            &format!("ModifyInstanceAttribute {}={on} on {id}", which.as_str()),
            e,
        )
    })
}

/// The group's scale-in protection of the instance, when it is in one.
async fn scale_in(
    asg: &aws_sdk_autoscaling::Client,
    id: &str,
) -> Result<Option<(String, bool)>, ClusterError> {
    let out = asg
        .describe_auto_scaling_instances()
        .instance_ids(id)
        .send()
        .await
        .map_err(|e| classify(&format!("DescribeAutoScalingInstances {id}"), e))?;
    Ok(out.auto_scaling_instances().first().map(|i| {
        (
            i.auto_scaling_group_name().unwrap_or_default().to_owned(),
            i.protected_from_scale_in().unwrap_or(false),
        )
    }))
}

async fn set_scale_in(
    asg: &aws_sdk_autoscaling::Client,
    group: &str,
    id: &str,
    on: bool,
) -> Result<(), ClusterError> {
    asg.set_instance_protection()
        .auto_scaling_group_name(group)
        .instance_ids(id)
        .protected_from_scale_in(on)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            classify(
                &format!("SetInstanceProtection {on} for {id} in group {group}"),
                e,
            )
        })
}

/// What the protect that `ex` undoes recorded as part `name`'s value before it.
fn recorded_before(ex: &Execution, name: &str) -> Option<Value> {
    ex.undoes.as_ref()?["parts"]
        .as_array()?
        .iter()
        .find(|p| p["part"] == name)
        .map(|p| p["before"].clone())
}

/// Whether the protect being undone failed half-way: the parts it never reached are left
/// as they are (`current`), since warroom did not change them.
fn incomplete(ex: &Execution) -> bool {
    ex.undoes.as_ref().is_some_and(|u| u["incomplete"] == true)
}

/// The value part `name` is set to: on for protect; for unprotect, what protect found (its
/// recorded `before`), so what was on before warroom protected the node stays on; `current`
/// for a part a protect that failed half-way never reached; off when there is no record at
/// all (protected in another incident, or by hand).
fn target(ex: &Execution, on: bool, name: &str, current: bool) -> bool {
    if on {
        return true;
    }
    match recorded_before(ex, name).and_then(|v| v.as_bool()) {
        Some(before) => before,
        None if incomplete(ex) => current,
        None => false,
    }
}

/// For unprotect: the annotation a protect that failed half-way never reached is left as
/// it is.
fn annotation_untouched(ex: &Execution, on: bool) -> bool {
    !on && incomplete(ex) && recorded_before(ex, DO_NOT_DISRUPT).is_none()
}

/// The `karpenter.sh/do-not-disrupt` value to leave (`None`: removed), by the same rule.
fn annotation_target(ex: &Execution, on: bool) -> Option<String> {
    if on {
        return Some("true".to_owned());
    }
    recorded_before(ex, DO_NOT_DISRUPT).and_then(|v| v.as_str().map(str::to_owned))
}

/// What protect (`on`) or unprotect would change, for the approval card.
pub async fn preview(
    ec2: &aws_sdk_ec2::Client,
    asg: &aws_sdk_autoscaling::Client,
    ex: &Execution,
    instance: &Instance,
    on: bool,
) -> Result<String, ClusterError> {
    if on && instance.spot {
        return Ok(spot_refusal(instance));
    }
    let term = attribute(
        ec2,
        &instance.id,
        InstanceAttributeName::DisableApiTermination,
    )
    .await?;
    let stop = attribute(ec2, &instance.id, InstanceAttributeName::DisableApiStop).await?;
    let group = match scale_in(asg, &instance.id).await? {
        Some((g, p)) => format!(
            "scale-in protection in group {g} {p} → {}",
            target(ex, on, SCALE_IN, p)
        ),
        None => "no Auto Scaling group".into(),
    };
    let annotation = match annotation_target(ex, on) {
        _ if annotation_untouched(ex, on) => {
            "left as it is (the protect that failed had not set it)".to_owned()
        }
        Some(v) if on => format!("set to {v}"),
        Some(v) => format!("kept as {v} (as before protect)"),
        None => "removed".to_owned(),
    };
    Ok(format!(
        "will set on {} ({}): DisableApiTermination {term} → {}, DisableApiStop {stop} → {}; {group}; node annotation {DO_NOT_DISRUPT} {annotation}",
        instance.id,
        instance.state,
        target(ex, on, "DisableApiTermination", term),
        target(ex, on, "DisableApiStop", stop),
    ))
}

fn spot_refusal(instance: &Instance) -> String {
    format!(
        "{} is a Spot instance: AWS reclaims Spot capacity whatever these settings say, so it cannot be protected; snapshot it instead (`snapshot node`)",
        instance.id
    )
}

/// Protect (`on`) or unprotect the node's instance, part by part.
pub async fn apply(
    ec2: &aws_sdk_ec2::Client,
    asg: &aws_sdk_autoscaling::Client,
    kube: &dyn Cluster,
    ex: &Execution,
    instance: &Instance,
    on: bool,
) -> Result<(String, Value), ClusterError> {
    if on && instance.spot {
        return Err(ClusterError::Conflict(format!(
            "{}; nothing was changed",
            spot_refusal(instance)
        )));
    }
    let id = &instance.id;
    let mut parts: Vec<Value> = Vec::new();
    let node = &ex.resolved.target.name;
    // A part that failed stops the rest; those already applied are named, and recorded as
    // the result so far (`unprotect` sets them back to what they were).
    let stopped = |parts: &[Value], e: ClusterError| -> ClusterError {
        let done: Vec<&str> = parts
            .iter()
            .filter(|p| p.get("skipped").is_none())
            .filter_map(|p| p["part"].as_str())
            .collect();
        let applied = if done.is_empty() {
            "nothing was changed".to_owned()
        } else {
            format!(
                "already applied: {} (`{}protect node` sets them back)",
                done.join(", "),
                if on { "un" } else { "" }
            )
        };
        // The kind stays, its words once ("access denied: …; already applied: …").
        let error = match e {
            ClusterError::Forbidden(m) => ClusterError::Forbidden(format!("{m}; {applied}")),
            ClusterError::Throttled(m) => ClusterError::Throttled(format!("{m}; {applied}")),
            ClusterError::Conflict(m) => ClusterError::Conflict(format!("{m}; {applied}")),
            ClusterError::Absent(m) => ClusterError::Absent(format!("{m}; {applied}")),
            ClusterError::Upstream(m) => ClusterError::Upstream(format!("{m}; {applied}")),
            other => ClusterError::Upstream(format!("{other}; {applied}")),
        };
        if done.is_empty() {
            return error;
        }
        ClusterError::Partial {
            error: Box::new(error),
            result: json!({ "node": node, "instance": id, "parts": parts, "incomplete": true }),
        }
    };
    for (name, which) in [
        (
            "DisableApiTermination",
            InstanceAttributeName::DisableApiTermination,
        ),
        ("DisableApiStop", InstanceAttributeName::DisableApiStop),
    ] {
        let before = attribute(ec2, id, which.clone())
            .await
            .map_err(|e| stopped(&parts, e))?;
        let after = target(ex, on, name, before);
        set_attribute(ec2, id, which, after)
            .await
            .map_err(|e| stopped(&parts, e))?;
        parts.push(part(name, json!(before), json!(after)));
    }
    match scale_in(asg, id).await.map_err(|e| stopped(&parts, e))? {
        Some((group, before)) => {
            let after = target(ex, on, SCALE_IN, before);
            set_scale_in(asg, &group, id, after)
                .await
                .map_err(|e| stopped(&parts, e))?;
            parts.push(
                json!({ "part": SCALE_IN, "group": group, "before": before, "after": after }),
            );
        }
        None => parts.push(
            json!({ "part": SCALE_IN, "group": null, "skipped": "not in an Auto Scaling group" }),
        ),
    }
    let annotation = annotation_target(ex, on);
    if annotation_untouched(ex, on) {
        parts.push(json!({ "part": DO_NOT_DISRUPT, "skipped": "left as it is: the protect that failed had not set it" }));
    } else {
        let before = kube
            .annotate_node(
                &ex.resolved.cluster,
                node,
                DO_NOT_DISRUPT,
                annotation.as_deref(),
            )
            .await
            .map_err(|e| stopped(&parts, e))?;
        parts.push(part(DO_NOT_DISRUPT, json!(before), json!(annotation)));
    }
    let summary = if on {
        format!(
            "protected node {node} (instance {id}): termination and stop disabled, {}, {DO_NOT_DISRUPT}=true",
            scale_in_words(&parts)
        )
    } else {
        let kept = |name: &str, off: &str, still: &str| {
            let after = parts.iter().find(|p| p["part"] == name);
            if after.is_some_and(|p| p["after"] == true) {
                format!("{still} (as before protect)")
            } else {
                off.to_owned()
            }
        };
        format!(
            "unprotected node {node} (instance {id}): {}, {}, {}, {}",
            kept(
                "DisableApiTermination",
                "termination allowed again",
                "termination still disabled"
            ),
            kept(
                "DisableApiStop",
                "stop allowed again",
                "stop still disabled"
            ),
            scale_in_words(&parts),
            match &annotation {
                _ if annotation_untouched(ex, on) => format!("{DO_NOT_DISRUPT} left as it is"),
                Some(v) => format!("{DO_NOT_DISRUPT}={v} kept (as before protect)"),
                None => format!("{DO_NOT_DISRUPT} removed"),
            }
        )
    };
    Ok((
        summary,
        json!({ "node": node, "instance": id, "parts": parts }),
    ))
}

/// The part's name in the recorded result.
const SCALE_IN: &str = "scale-in protection";

fn scale_in_words(parts: &[Value]) -> String {
    let part = parts.iter().find(|p| p["part"] == SCALE_IN);
    match part.and_then(|p| Some((p["group"].as_str()?, p["after"].as_bool()?))) {
        Some((g, true)) => format!("scale-in protection on in group {g}"),
        Some((g, false)) => format!("scale-in protection off in group {g}"),
        None => "not in an Auto Scaling group".into(),
    }
}
