//! A Kubernetes node's EC2 instance, from `spec.providerID` (`aws:///<az>/<instance-id>`).

use std::fmt;

/// The EC2 instance behind a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRef {
    pub instance_id: String,
    pub availability_zone: String,
    /// The region the availability zone is in.
    pub region: String,
}

/// Why a node has no EC2 instance to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotAnInstance {
    /// No `spec.providerID` at all.
    Missing,
    /// Another provider (`gce://…`, `azure://…`, `kind://…`).
    OtherProvider(String),
    /// An EKS Fargate node: AWS runs it, there is no instance or volume of ours.
    Fargate(String),
    /// `aws://…` that does not name an instance.
    Malformed(String),
}

impl fmt::Display for NotAnInstance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotAnInstance::Missing => f.write_str(
                "the node has no spec.providerID, so it is not known as an EC2 instance (not an AWS node, or its cloud provider never set it)",
            ),
            NotAnInstance::OtherProvider(p) => write!(
                f,
                "the node runs on another provider ({p}), not on EC2: AWS actions do not apply"
            ),
            NotAnInstance::Fargate(p) => write!(
                f,
                "the node is an EKS Fargate node ({p}): AWS runs it, there is no EC2 instance or EBS volume to protect or snapshot"
            ),
            NotAnInstance::Malformed(p) => write!(
                f,
                "the node's providerID `{p}` does not name an EC2 instance (expected aws:///<az>/i-…)"
            ),
        }
    }
}

/// `aws:///eu-central-1a/i-0123456789abcdef0` → the instance, its zone and region.
pub fn parse(provider_id: Option<&str>) -> Result<InstanceRef, NotAnInstance> {
    let p = provider_id.map(str::trim).filter(|p| !p.is_empty());
    let Some(p) = p else {
        return Err(NotAnInstance::Missing);
    };
    let Some(rest) = p.strip_prefix("aws://") else {
        return Err(NotAnInstance::OtherProvider(
            p.split("://").next().unwrap_or(p).to_owned(),
        ));
    };
    let parts: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    let (az, id) = match parts.as_slice() {
        [az, id] => (*az, *id),
        _ => return Err(NotAnInstance::Malformed(p.to_owned())),
    };
    if id.starts_with("fargate-") {
        return Err(NotAnInstance::Fargate(p.to_owned()));
    }
    let hex = id.strip_prefix("i-").unwrap_or_default();
    if hex.is_empty() || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(NotAnInstance::Malformed(p.to_owned()));
    }
    Ok(InstanceRef {
        instance_id: id.to_owned(),
        availability_zone: az.to_owned(),
        region: region_of(az).ok_or_else(|| NotAnInstance::Malformed(p.to_owned()))?,
    })
}

/// `eu-central-1a` → `eu-central-1`; `us-west-2-lax-1a` (a Local Zone) → `us-west-2`.
fn region_of(az: &str) -> Option<String> {
    let parts: Vec<&str> = az.split('-').collect();
    // The region is the first three parts, the third ending in its number.
    if parts.len() < 3 {
        return None;
    }
    let number: String = parts[2].chars().take_while(char::is_ascii_digit).collect();
    if number.is_empty() || parts[0].is_empty() || parts[1].is_empty() {
        return None;
    }
    Some(format!("{}-{}-{number}", parts[0], parts[1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_eks_node_names_its_instance_zone_and_region() {
        let i = parse(Some("aws:///eu-central-1a/i-0123456789abcdef0")).unwrap();
        assert_eq!(i.instance_id, "i-0123456789abcdef0");
        assert_eq!(i.availability_zone, "eu-central-1a");
        assert_eq!(i.region, "eu-central-1");
        let local = parse(Some("aws:///us-west-2-lax-1a/i-0abc")).unwrap();
        assert_eq!(local.region, "us-west-2");
    }

    #[test]
    fn other_nodes_say_why_they_are_not_instances() {
        assert_eq!(parse(None), Err(NotAnInstance::Missing));
        assert_eq!(parse(Some("  ")), Err(NotAnInstance::Missing));
        assert_eq!(
            parse(Some("gce://proj/europe-west1-b/node-1")),
            Err(NotAnInstance::OtherProvider("gce".into()))
        );
        assert!(matches!(
            parse(Some("aws:///us-east-1b/fargate-ip-10-0-1-2.ec2.internal")),
            Err(NotAnInstance::Fargate(_))
        ));
        assert!(matches!(
            parse(Some("aws:///us-east-1b/not-an-id")),
            Err(NotAnInstance::Malformed(_))
        ));
        assert!(matches!(
            parse(Some("aws:///i-0abc")),
            Err(NotAnInstance::Malformed(_))
        ));
        let said = parse(Some("aws:///us-east-1b/fargate-ip-1"))
            .unwrap_err()
            .to_string();
        assert!(said.contains("Fargate"), "{said}");
    }
}
