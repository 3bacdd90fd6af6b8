//! The alerts a script's attacker steps produce, shaped exactly as their real senders post
//! them (Falco through falcosidekick, GuardDuty through EventBridge), so they take warroom's
//! real intake path.

use serde_json::{Value, json};

/// What a script step knows of when it fires.
pub struct When {
    /// RFC 3339 with nanoseconds, e.g. `2026-12-01T02:00:00.000000000Z`.
    pub rfc3339: String,
    pub unix_nanos: i64,
}

/// Falco's syscall alert for a process started in a container.
pub fn falco_process(
    when: &When,
    namespace: &str,
    pod: &str,
    container: &str,
    command: &str,
    rule: &str,
    priority: &str,
) -> Value {
    let name = command.split_whitespace().next().unwrap_or(command);
    let name = name.rsplit('/').next().unwrap_or(name);
    let clock = when.rfc3339.get(11..29).unwrap_or("00:00:00.000000000");
    json!({
        "hostname": "falco-drill",
        "output": format!(
            "{clock}: {priority} {rule} (user=root k8s.ns={namespace} k8s.pod={pod} container={container} proc={name} cmdline={command})"
        ),
        "priority": priority,
        "rule": rule,
        "source": "syscall",
        "tags": ["container", "mitre_execution", "drill"],
        "time": when.rfc3339,
        "output_fields": {
            "container.name": container,
            "evt.time": when.unix_nanos,
            "k8s.ns.name": namespace,
            "k8s.pod.name": pod,
            "proc.cmdline": command,
            "proc.name": name,
            "user.name": "root",
        }
    })
}

/// Falco's Kubernetes audit alert for a service account token used from an outside address.
pub fn falco_token_use(when: &When, namespace: &str, service_account: &str, from: &str) -> Value {
    let user = format!("system:serviceaccount:{namespace}:{service_account}");
    let clock = when.rfc3339.get(11..29).unwrap_or("00:00:00.000000000");
    json!({
        "hostname": "falco-k8saudit-drill",
        "output": format!(
            "{clock}: Critical Service account token used from outside the cluster (user={user} sourceip={from} verb=list resource=secrets ns={namespace})"
        ),
        "priority": "Critical",
        "rule": "Service account token used from outside the cluster",
        "source": "k8s_audit",
        "tags": ["k8s", "mitre_credential_access", "drill"],
        "time": when.rfc3339,
        "output_fields": {
            "evt.time": when.unix_nanos,
            "ka.user.name": user,
            "ka.sourceips[0]": from,
            "fd.sip": from,
            "ka.verb": "list",
            "ka.target.resource": "secrets",
            "ka.target.namespace": namespace,
            "k8s.ns.name": namespace,
        }
    })
}

/// GuardDuty's EC2 finding for the node's instance, as EventBridge delivers it.
pub fn guardduty_finding(
    when: &When,
    finding: &str,
    instance_id: &str,
    region: &str,
    zone: &str,
    private_ip: &str,
) -> Value {
    let seconds = when.rfc3339.get(..19).unwrap_or("2026-01-01T00:00:00");
    let time = format!("{seconds}Z");
    let id = format!("drill{:x}", when.unix_nanos);
    json!({
        "version": "0",
        "id": id,
        "detail-type": "GuardDuty Finding",
        "source": "aws.guardduty",
        "account": "123456789012",
        "time": time,
        "region": region,
        "resources": [],
        "detail": {
            "schemaVersion": "2.0",
            "accountId": "123456789012",
            "region": region,
            "partition": "aws",
            "id": id,
            "arn": format!("arn:aws:guardduty:{region}:123456789012:detector/drill/finding/{id}"),
            "type": finding,
            "resource": {
                "resourceType": "Instance",
                "instanceDetails": {
                    "instanceId": instance_id,
                    "instanceType": "m6i.large",
                    "networkInterfaces": [{ "privateIpAddress": private_ip }],
                    "instanceState": "running",
                    "availabilityZone": zone,
                }
            },
            "service": {
                "serviceName": "guardduty",
                "detectorId": "drill",
                "resourceRole": "ACTOR",
                "eventFirstSeen": time,
                "eventLastSeen": time,
                "archived": false,
                "count": 1
            },
            "severity": 8,
            "createdAt": time,
            "updatedAt": time,
            "title": format!("EC2 instance {instance_id}: {finding}"),
            "description": format!("EC2 instance {instance_id} shows activity GuardDuty reports as {finding}. This may indicate that the instance is compromised.")
        }
    })
}
