//! Actions a rule proposes for an alert, opened as pending requests warroom asks for:
//! people still decide, and it takes two of them (warroom is nobody's approver).

use std::sync::Arc;

use warroom_commands::alert::Alert;
use warroom_commands::command::{self, Command};
use warroom_commands::{Actor, Incident};
use warroom_config::{ActionName, AlertRule};

use super::Engine;

impl Engine {
    /// Open the rule's proposals that the alert names a target for; returns one line each
    /// (opened, or why not) for the channel.
    pub(super) async fn propose(
        self: &Arc<Self>,
        incident: &Incident,
        rule: &AlertRule,
        alert: &Alert,
    ) -> Vec<String> {
        let reason = format!("alert {}: {}", rule.name, alert.title)
            .replace(['"', '\n', '\r'], "'")
            .chars()
            .take(200)
            .collect::<String>();
        let mut lines = Vec::new();
        let alert = &self
            .with_node_of_pod(self.with_node_of_instance(alert).await)
            .await;
        for action in &rule.propose {
            let Some(text) = command_for(*action, alert, &reason) else {
                lines.push(format!(
                    "{action}: not proposed (the alert names no target for it; type it yourself)"
                ));
                continue;
            };
            let req = match command::parse(&text) {
                Ok(Command::Action(req)) => req,
                Ok(_) | Err(_) => {
                    lines.push(format!(
                        "{action}: not proposed (the alert's target `{text}` is not a valid name)"
                    ));
                    continue;
                }
            };
            let Some(policy) = self.plan.plan.action_rule(*action) else {
                lines.push(format!("{action}: not proposed (disabled in this plan)"));
                continue;
            };
            // At least two people, and one more than a person's own request would need.
            let extra = if policy.approvals >= 1 { 1 } else { 2 };
            let reply = self
                .open_request(&Actor::System, policy, incident, req, extra)
                .await;
            lines.push(reply.message);
        }
        lines
    }
}

impl Engine {
    /// An alert that names a pod but no node (a Kubernetes audit-log finding): the node the
    /// pod runs on, from the plan's clusters, so node actions can be proposed too.
    async fn with_node_of_pod(&self, mut alert: Alert) -> Alert {
        if alert.fields.contains_key("k8s.node.name") {
            return alert;
        }
        let Some(pod) = command_for(ActionName::Capture, &alert, "") else {
            return alert;
        };
        // "capture pod NS/NAME --reason …": the validated name, nothing the sender smuggled.
        let Some((ns, name)) = pod
            .split_whitespace()
            .nth(2)
            .and_then(|p| p.split_once('/'))
        else {
            return alert;
        };
        let target = warroom_commands::command::Target::pod(ns, name);
        for cluster in &self.plan.plan.clusters {
            if let Ok(found) = self.cluster.resolve(&cluster.name, &target).await
                && let Some(node) = found.node
            {
                alert.fields.insert("k8s.node.name".into(), node);
                break;
            }
        }
        alert
    }

    /// An alert that names an EC2 instance (GuardDuty) but no node: the node whose
    /// `spec.providerID` ends in that instance id, from the plan's clusters, when one does.
    async fn with_node_of_instance(&self, alert: &Alert) -> Alert {
        let mut alert = alert.clone();
        let Some(instance) = alert.fields.get("aws.instance_id").cloned() else {
            return alert;
        };
        if alert.fields.contains_key("k8s.node.name") {
            return alert;
        }
        for cluster in &self.plan.plan.clusters {
            let Ok(ids) = self.cluster.identities(&cluster.name).await else {
                continue;
            };
            let found = ids.nodes.iter().find(|(_, pid)| {
                pid.as_deref()
                    .is_some_and(|p| p.rsplit('/').next() == Some(instance.as_str()))
            });
            if let Some((node, _)) = found {
                alert.fields.insert("k8s.node.name".into(), node.clone());
                break;
            }
        }
        alert
    }
}

/// A Kubernetes object name (DNS-1123), or nothing: alert fields are sender-controlled and
/// must not carry options or spaces into the command.
fn k8s_name(v: &str) -> Option<&str> {
    let ok = !v.is_empty()
        && v.len() <= 253
        && v.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && v.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && v.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric());
    ok.then_some(v)
}

/// The command text for `action` on what the alert is about, if it names it.
fn command_for(action: ActionName, alert: &Alert, reason: &str) -> Option<String> {
    let f = |k: &str| alert.fields.get(k).map(String::as_str).and_then(k8s_name);
    let pod = match (
        f("k8s.ns.name")
            .or(f("ka.target.namespace"))
            .or(f("namespace")),
        f("k8s.pod.name")
            .or(f("pod"))
            .or(match f("ka.target.resource") {
                Some("pods") => f("ka.target.name"),
                _ => None,
            }),
    ) {
        (Some(ns), Some(pod)) => Some(format!("{ns}/{pod}")),
        _ => None,
    };
    let node = f("k8s.node.name").or(f("node"));
    let target = match action {
        ActionName::Capture | ActionName::Checkpoint | ActionName::Quarantine => {
            format!("pod {}", pod?)
        }
        ActionName::Cordon | ActionName::Drain | ActionName::Protect | ActionName::Snapshot => {
            format!("node {}", node?)
        }
        ActionName::Revoke => match (pod, node) {
            (Some(pod), _) => format!("creds pod {pod}"),
            (None, node) => format!("creds node {}", node?),
        },
        // Need values only a person can choose (labels, replicas, what to delete).
        _ => return None,
    };
    Some(format!("{action} {target} --reason \"{reason}\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(fields: &[(&str, &str)]) -> Alert {
        let mut a = warroom_commands::alert::parse_falco(
            br#"{"rule":"r","priority":"Warning","output":"o"}"#,
        )
        .unwrap();
        for (k, v) in fields {
            a.fields.insert((*k).into(), (*v).into());
        }
        a
    }

    #[test]
    fn targets_come_only_from_valid_object_names() {
        let a = alert(&[("k8s.ns.name", "payments"), ("k8s.pod.name", "api-7f9c")]);
        assert_eq!(
            command_for(ActionName::Quarantine, &a, "why").as_deref(),
            Some("quarantine pod payments/api-7f9c --reason \"why\"")
        );
        // A sender cannot smuggle options (another cluster, an override) into the command.
        let evil = alert(&[("node", "n1 --override x --cluster prod-us")]);
        assert_eq!(command_for(ActionName::Cordon, &evil, "why"), None);
        let evil = alert(&[("namespace", "payments"), ("pod", "--cluster")]);
        assert_eq!(command_for(ActionName::Capture, &evil, "why"), None);
        assert_eq!(command_for(ActionName::Label, &a, "why"), None);
    }
}
