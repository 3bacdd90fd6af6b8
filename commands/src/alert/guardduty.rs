//! GuardDuty findings as EventBridge delivers them (an API destination posting the event:
//! `detail-type` "GuardDuty Finding", `source` "aws.guardduty", the finding in `detail`), or
//! a bare finding, or one finding as GuardDuty's API returns it (`aws guardduty get-findings`
//! output: `{"Findings": [finding]}` with PascalCase keys). Rules match `type` (e.g. `CryptoCurrency:EC2/BitcoinTool.B!DNS`),
//! `severity` (GuardDuty's number) and `severity_label` (Low, Medium, High, Critical), and
//! the finding's resource becomes the fields proposals name targets from: EKS findings give
//! `k8s.ns.name`, `k8s.pod.name` and `eks.cluster`; EC2 and runtime findings give
//! `aws.instance_id` (warroom maps it back to its node).

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Alert, AlertError, AlertStatus, Intake, MAX_TITLE_CHARS, cut, put, started_at};

const FORMAT: &str = "GuardDuty finding";

fn text<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// GuardDuty's bands: 1.0–3.9 Low, 4.0–6.9 Medium, 7.0–8.9 High, 9.0–10.0 Critical.
pub fn severity_label(severity: f64) -> &'static str {
    if severity >= 9.0 {
        "Critical"
    } else if severity >= 7.0 {
        "High"
    } else if severity >= 4.0 {
        "Medium"
    } else {
        "Low"
    }
}

/// The API's PascalCase keys as EventBridge's camelCase (`InstanceDetails` → `instanceDetails`).
/// Caveat: map keys of the finding's own data (tags, labels) are changed the same way; none
/// of them is read here.
fn camel_keys(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let mut chars = k.chars();
                    let key = match chars.next() {
                        Some(first) => first.to_lowercase().chain(chars).collect(),
                        None => k,
                    };
                    (key, camel_keys(v))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(camel_keys).collect()),
        other => other,
    }
}

pub fn parse_guardduty(body: &[u8]) -> Result<Alert, AlertError> {
    let mut v: Value = serde_json::from_slice(body)
        .map_err(|e| AlertError::new(FORMAT, "", format!("not JSON: {e}")))?;
    if let Some(findings) = v.get("Findings") {
        let list = findings.as_array().map(Vec::as_slice).unwrap_or_default();
        if list.len() != 1 {
            return Err(AlertError::new(
                FORMAT,
                "Findings",
                format!(
                    "{} findings in one post: post each finding on its own (as EventBridge does)",
                    list.len()
                ),
            ));
        }
        v = camel_keys(list[0].clone());
    }
    let (finding, at) = match v.get("detail") {
        Some(d) => {
            if let Some(source) = text(&v, "/source")
                && source != "aws.guardduty"
            {
                return Err(AlertError::new(
                    FORMAT,
                    "source",
                    format!("`{source}` is not aws.guardduty: send GuardDuty findings here"),
                ));
            }
            (d, "detail.")
        }
        None => (&v, ""),
    };
    let field = |name: &str| format!("{at}{name}");
    let kind = text(finding, "/type")
        .ok_or_else(|| AlertError::new(FORMAT, field("type"), "missing: the finding type"))?;
    let id = text(finding, "/id")
        .ok_or_else(|| AlertError::new(FORMAT, field("id"), "missing: the finding id"))?;
    let severity = finding
        .get("severity")
        .and_then(|s| s.as_f64().or_else(|| s.as_str()?.parse().ok()))
        .filter(|s| (0.0..=10.0).contains(s))
        .ok_or_else(|| {
            AlertError::new(
                FORMAT,
                field("severity"),
                "missing or not a number from 0 to 10",
            )
        })?;
    let resource = finding.get("resource").unwrap_or(&Value::Null);
    let mut fields = BTreeMap::new();
    fields.insert("type".into(), cut(kind, 500));
    fields.insert("severity".into(), format!("{severity:.1}"));
    fields.insert("severity_label".into(), severity_label(severity).into());
    fields.insert("finding_id".into(), cut(id, 200));
    for (key, pointer) in [
        ("title", "/title"),
        ("description", "/description"),
        ("account", "/accountId"),
        ("region", "/region"),
        ("resource_type", "/resource/resourceType"),
    ] {
        if let Some(value) = finding.pointer(pointer) {
            put(&mut fields, key, value);
        }
    }
    let workload = resource.pointer("/kubernetesDetails/kubernetesWorkloadDetails");
    if let Some(w) = workload {
        if let Some(ns) = w.get("namespace") {
            put(&mut fields, "k8s.ns.name", ns);
        }
        // A pod names itself; a Deployment (or other controller) is named as the workload.
        let is_pod = text(w, "/type")
            .is_some_and(|t| t.eq_ignore_ascii_case("pods") || t.eq_ignore_ascii_case("pod"));
        if let Some(name) = w.get("name") {
            put(
                &mut fields,
                if is_pod {
                    "k8s.pod.name"
                } else {
                    "k8s.workload.name"
                },
                name,
            );
        }
        if let Some(t) = w.get("type") {
            put(&mut fields, "k8s.workload.type", t);
        }
    }
    if let Some(c) = resource.pointer("/eksClusterDetails/name") {
        put(&mut fields, "eks.cluster", c);
    }
    if let Some(i) = resource.pointer("/instanceDetails/instanceId") {
        put(&mut fields, "aws.instance_id", i);
    }
    if let Some(ip) =
        finding.pointer("/service/action/networkConnectionAction/remoteIpDetails/ipAddressV4")
    {
        put(&mut fields, "remote_ip", ip);
    }
    let archived = finding
        .pointer("/service/archived")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let title = text(finding, "/title").unwrap_or(kind);
    Ok(Alert {
        intake: Intake::Guardduty,
        // GuardDuty updates one finding (its count grows) rather than sending new ones.
        fingerprint: format!("guardduty:{}", cut(id, 200)),
        status: if archived {
            AlertStatus::Resolved
        } else {
            AlertStatus::Firing
        },
        title: cut(title, MAX_TITLE_CHARS),
        fields,
        annotations: BTreeMap::new(),
        priority: None,
        started_at: started_at(
            text(finding, "/service/eventFirstSeen")
                .or_else(|| text(finding, "/createdAt"))
                .map(str::to_owned),
        ),
    })
}

#[cfg(test)]
mod published {
    //! AWS's own published findings (see fixtures/published/SOURCES.md).
    use super::*;

    fn parsed(name: &str) -> Alert {
        // Cargo sets the crate's folder when it runs the test, wherever it was built.
        let dir = std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned());
        let path = format!("{dir}/src/alert/fixtures/published/{name}");
        parse_guardduty(&std::fs::read(&path).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    #[test]
    fn published_findings_name_their_pod_or_instance() {
        let eks = parsed("eks-privileged-container-getfindings.json");
        assert_eq!(
            eks.fields["type"],
            "PrivilegeEscalation:Kubernetes/PrivilegedContainer"
        );
        assert_eq!(eks.fields["severity_label"], "Medium");
        assert_eq!(eks.fields["k8s.ns.name"], "argocd");
        assert_eq!(eks.fields["k8s.pod.name"], "privileged-pod");
        assert_eq!(eks.fields["eks.cluster"], "guardduty-blueprint");
        assert_eq!(
            eks.fingerprint,
            "guardduty:f2c3859c6ca25b3057d13470a992bbd7"
        );
        for (name, instance, kind) in [
            (
                "ec2-sshbruteforce-sample-detail-only.json",
                "i-99999999",
                "UnauthorizedAccess:EC2/SSHBruteForce",
            ),
            (
                "ec2-canary-bare-finding.json",
                "i-05746eb48123455e0",
                "Canary:EC2/Stateless.IntegTest",
            ),
            (
                "ec2-c2activity-eventbridge-cloudcustodian.json",
                "i-99999999",
                "Backdoor:EC2/C&CActivity.B!DNS",
            ),
        ] {
            let a = parsed(name);
            assert_eq!(a.fields["aws.instance_id"], instance, "{name}");
            assert_eq!(a.fields["type"], kind, "{name}");
            assert!(!a.fields.contains_key("k8s.pod.name"), "{name}");
        }
    }

    #[test]
    fn several_findings_in_one_post_are_refused_plainly() {
        let two = br#"{"Findings":[{"Id":"a","Type":"t","Severity":5},{"Id":"b","Type":"t","Severity":5}]}"#;
        let e = parse_guardduty(two).unwrap_err();
        assert!(e.to_string().contains("2 findings in one post"), "{e}");
        let none = br#"{"Findings":[]}"#;
        assert!(parse_guardduty(none).is_err());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_eks_finding_names_its_pod_and_an_ec2_finding_its_instance() {
        let eks = parse_guardduty(include_bytes!("fixtures/guardduty-eks-runtime.json")).unwrap();
        assert_eq!(eks.intake, Intake::Guardduty);
        assert_eq!(eks.fields["type"], "CryptoCurrency:Runtime/BitcoinTool.B");
        assert_eq!(eks.fields["severity_label"], "High");
        assert_eq!(eks.fields["k8s.ns.name"], "payments");
        assert_eq!(eks.fields["k8s.pod.name"], "api-7f9c");
        assert_eq!(eks.fields["eks.cluster"], "prod-eu");
        assert!(eks.fingerprint.starts_with("guardduty:"));
        let ec2 = parse_guardduty(include_bytes!("fixtures/guardduty-ec2-bitcoin.json")).unwrap();
        assert_eq!(ec2.fields["type"], "CryptoCurrency:EC2/BitcoinTool.B!DNS");
        assert_eq!(ec2.fields["aws.instance_id"], "i-99999999");
        assert!(!ec2.fields.contains_key("k8s.pod.name"));
        assert_eq!(ec2.status, AlertStatus::Firing);
    }

    #[test]
    fn findings_missing_what_rules_need_say_which_field() {
        let e = parse_guardduty(br#"{"source":"aws.guardduty","detail":{"id":"x","severity":5}}"#)
            .unwrap_err();
        assert_eq!(e.field, "detail.type");
        let e = parse_guardduty(
            br#"{"type":"Recon:EC2/PortProbeUnprotectedPort","id":"x","severity":"high"}"#,
        )
        .unwrap_err();
        assert_eq!(e.field, "severity");
        let e =
            parse_guardduty(br#"{"source":"aws.s3","detail":{"type":"t","id":"x","severity":5}}"#)
                .unwrap_err();
        assert!(e.reason.contains("aws.s3"), "{e}");
        assert!(
            parse_guardduty(b"[")
                .unwrap_err()
                .reason
                .contains("not JSON")
        );
        assert_eq!(severity_label(9.0), "Critical");
        assert_eq!(severity_label(3.9), "Low");
    }
}
