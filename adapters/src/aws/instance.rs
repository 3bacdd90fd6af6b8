//! What warroom needs to know about a node's EC2 instance before acting on it.

use aws_sdk_ec2::types::InstanceLifecycleType;

use super::errors::classify;
use crate::cluster::ClusterError;

/// An instance as `DescribeInstances` (and Auto Scaling) see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub id: String,
    pub state: String,
    pub spot: bool,
    /// Attached EBS volumes: (device, volume id).
    pub volumes: Vec<(String, String)>,
}

pub async fn describe(ec2: &aws_sdk_ec2::Client, id: &str) -> Result<Instance, ClusterError> {
    let doing = format!("DescribeInstances {id}");
    let out = ec2
        .describe_instances()
        .instance_ids(id)
        .send()
        .await
        .map_err(|e| classify(&doing, e))?;
    let found = out
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .find(|i| i.instance_id() == Some(id))
        .ok_or_else(|| ClusterError::Absent(format!("{doing}: no such instance")))?;
    Ok(Instance {
        id: id.to_owned(),
        state: found
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_owned())
            .unwrap_or_default(),
        spot: found.instance_lifecycle() == Some(&InstanceLifecycleType::Spot),
        volumes: found
            .block_device_mappings()
            .iter()
            .filter_map(|m| {
                Some((
                    m.device_name().unwrap_or_default().to_owned(),
                    m.ebs()?.volume_id()?.to_owned(),
                ))
            })
            .collect(),
    })
}
