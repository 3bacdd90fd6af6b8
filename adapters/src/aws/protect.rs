//! `protect node NODE` and `unprotect node NODE`: keep a suspect node's instance (and its
//! disks, the evidence) from being terminated, stopped or scaled in while it is investigated.
//!
//! Guarantees: protect sets, in order, EC2 `DisableApiTermination` and `DisableApiStop`, Auto
//! Scaling scale-in protection when the instance is in a group, and the node annotation
//! `karpenter.sh/do-not-disrupt=true`; each part's value before and after is recorded, and
//! unprotect sets each part back off. When a part fails, the parts already applied are named
//! in the error (nothing is hidden; `unprotect` undoes them). Spot instances are refused with
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

/// What protect (`on`) or unprotect would change, for the approval card.
pub async fn preview(
    ec2: &aws_sdk_ec2::Client,
    asg: &aws_sdk_autoscaling::Client,
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
        Some((g, p)) => format!("scale-in protection in group {g} (now {p})"),
        None => "no Auto Scaling group".into(),
    };
    Ok(format!(
        "will set on {} ({}): DisableApiTermination {term} → {on}, DisableApiStop {stop} → {on}; {group}; node annotation {DO_NOT_DISRUPT} {}",
        instance.id,
        instance.state,
        if on { "set" } else { "removed" }
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
    let stopped = |parts: &[Value], e: ClusterError| -> ClusterError {
        let done: Vec<&str> = parts.iter().filter_map(|p| p["part"].as_str()).collect();
        let applied = if done.is_empty() {
            "nothing was changed".to_owned()
        } else {
            format!(
                "already applied: {} (`{}protect node` sets them back)",
                done.join(", "),
                if on { "un" } else { "" }
            )
        };
        let said = format!("{e}; {applied}");
        match e {
            ClusterError::Forbidden(_) => ClusterError::Forbidden(said),
            ClusterError::Throttled(_) => ClusterError::Throttled(said),
            ClusterError::Conflict(_) => ClusterError::Conflict(said),
            ClusterError::Absent(_) => ClusterError::Absent(said),
            _ => ClusterError::Upstream(said),
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
        set_attribute(ec2, id, which, on)
            .await
            .map_err(|e| stopped(&parts, e))?;
        parts.push(part(name, json!(before), json!(on)));
    }
    match scale_in(asg, id).await.map_err(|e| stopped(&parts, e))? {
        Some((group, before)) => {
            set_scale_in(asg, &group, id, on)
                .await
                .map_err(|e| stopped(&parts, e))?;
            parts.push(json!({ "part": "scale-in protection", "group": group, "before": before, "after": on }));
        }
        None => parts.push(json!({ "part": "scale-in protection", "group": null, "skipped": "not in an Auto Scaling group" })),
    }
    let node = &ex.resolved.target.name;
    let before = kube
        .annotate_node(
            &ex.resolved.cluster,
            node,
            DO_NOT_DISRUPT,
            on.then_some("true"),
        )
        .await
        .map_err(|e| stopped(&parts, e))?;
    parts.push(part(
        DO_NOT_DISRUPT,
        json!(before),
        json!(on.then_some("true")),
    ));
    let summary = if on {
        format!(
            "protected node {node} (instance {id}): termination and stop disabled, {}, {DO_NOT_DISRUPT}=true",
            scale_in_words(&parts, true)
        )
    } else {
        format!(
            "unprotected node {node} (instance {id}): termination and stop allowed again, {}, {DO_NOT_DISRUPT} removed",
            scale_in_words(&parts, false)
        )
    };
    Ok((
        summary,
        json!({ "node": node, "instance": id, "parts": parts }),
    ))
}

fn scale_in_words(parts: &[Value], on: bool) -> String {
    match parts
        .iter()
        .find(|p| p["part"] == "scale-in protection")
        .and_then(|p| p["group"].as_str())
    {
        Some(g) if on => format!("scale-in protection on in group {g}"),
        Some(g) => format!("scale-in protection off in group {g}"),
        None => "not in an Auto Scaling group".into(),
    }
}
