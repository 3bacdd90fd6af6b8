//! What a page says beyond the incident's title: what fired (rule, source), where (cluster,
//! namespace, pod or node, image), the alert's description and runbook, and where to go.

use std::collections::BTreeMap;
use std::sync::Arc;

use warroom_adapters::pager::PageContent;
use warroom_commands::outbox::SendKind;
use warroom_commands::{EscalationStep, Event, Incident, IncidentId};

use super::Engine;

/// The alert behind an incident, as pages tell it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertContext {
    pub rule: String,
    pub source: String,
    pub location: BTreeMap<String, String>,
    pub description: Option<String>,
    pub runbook: Option<String>,
}

/// Where an alert fired, from the field names Alertmanager (Kubernetes labels), Falco and
/// Events API senders use, first found wins.
const WHERE: [(&str, &[&str]); 5] = [
    (
        "cluster",
        &[
            "cluster",
            "k8s.cluster.name",
            "cluster_name",
            "custom_details.cluster",
        ],
    ),
    (
        "namespace",
        &[
            "namespace",
            "k8s.ns.name",
            "exported_namespace",
            "custom_details.namespace",
        ],
    ),
    (
        "pod",
        &["pod", "k8s.pod.name", "pod_name", "custom_details.pod"],
    ),
    (
        "node",
        &[
            "node",
            "k8s.node.name",
            "kubernetes_node",
            "evt.hostname",
            "hostname",
            "custom_details.node",
        ],
    ),
    (
        "image",
        &[
            "image",
            "container.image",
            "container.image.repository",
            "container_image",
            "custom_details.image",
        ],
    ),
];

const DESCRIPTION: [&str; 3] = ["description", "custom_details.description", "message"];
const RUNBOOK: [&str; 5] = [
    "runbook_url",
    "runbook",
    "custom_details.runbook_url",
    "custom_details.runbook",
    "playbook",
];

/// The context of an `alert.received` entry.
pub fn context_of(event: &Event) -> Option<AlertContext> {
    let Event::AlertReceived {
        intake,
        rule,
        fields,
        annotations,
        ..
    } = event
    else {
        return None;
    };
    let find = |names: &[&str]| {
        names.iter().find_map(|n| {
            annotations
                .get(*n)
                .or_else(|| fields.get(*n))
                .filter(|v| !v.trim().is_empty())
                .cloned()
        })
    };
    let mut location = BTreeMap::new();
    for (name, keys) in WHERE {
        if let Some(v) = find(keys) {
            location.insert(name.to_owned(), v);
        }
    }
    // Falco names the image by repository and tag.
    if let (Some(image), Some(tag)) = (location.get_mut("image"), fields.get("container.image.tag"))
        && !image.contains(':')
        && !tag.is_empty()
    {
        image.push(':');
        image.push_str(tag);
    }
    Some(AlertContext {
        rule: rule.clone(),
        source: intake.clone(),
        location,
        description: find(&DESCRIPTION),
        runbook: find(&RUNBOOK),
    })
}

impl Engine {
    /// Everything a page (or follow-up) of `record` says.
    pub(super) fn page_content(
        &self,
        record: &Incident,
        kind: SendKind,
        step: Option<&EscalationStep>,
        note: Option<&str>,
    ) -> Arc<PageContent> {
        let alert = self.alert_context(&record.id);
        let alert = alert.as_deref();
        Arc::new(PageContent {
            incident: record.id.clone(),
            title: record.title.clone(),
            severity: record.severity.to_string(),
            step: step
                .map(ToString::to_string)
                .unwrap_or_else(|| "a page by hand".to_owned()),
            rule: alert.map(|a| a.rule.clone()),
            source: alert.map(|a| a.source.clone()),
            location: alert.map(|a| a.location.clone()).unwrap_or_default(),
            description: alert.and_then(|a| a.description.clone()),
            runbook: alert.and_then(|a| a.runbook.clone()),
            link: self.plan.plan.console.incident_link(record.id.as_str()),
            channel: format!("#{}", self.channel_name(record)),
            note: (kind == SendKind::Page)
                .then(|| note.map(str::to_owned))
                .flatten(),
            drill: self.plan.plan.is_drill(),
        })
    }

    /// The latest alert of the incident: cached, read from the timeline after a restart.
    fn alert_context(&self, id: &IncidentId) -> Option<Arc<AlertContext>> {
        if let Some(found) = self
            .alert_contexts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
        {
            return found.clone();
        }
        let found = self.ledger.timeline(id).ok().and_then(|entries| {
            entries
                .iter()
                .rev()
                .filter_map(|e| e.event().ok())
                .find_map(|e| context_of(&e))
                .map(Arc::new)
        });
        self.alert_contexts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone(), found.clone());
        found
    }

    /// An `alert.received` was written: pages from now on tell this alert.
    pub(super) fn remember_alert(&self, id: &IncidentId, event: &Event) {
        if let Some(c) = context_of(event) {
            self.alert_contexts
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id.clone(), Some(Arc::new(c)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falco_and_alertmanager_fields_say_where_and_what() {
        let falco = Event::AlertReceived {
            intake: "falco".into(),
            rule: "shell-in-container".into(),
            fingerprint: "f".into(),
            title: "t".into(),
            fields: [
                ("k8s.ns.name", "payments"),
                ("k8s.pod.name", "api-7d9"),
                ("container.image.repository", "ghcr.io/acme/api"),
                ("container.image.tag", "1.4.2"),
                ("evt.hostname", "node-a"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
            annotations: BTreeMap::new(),
            started_at: None,
        };
        let c = context_of(&falco).unwrap();
        assert_eq!(c.location["namespace"], "payments");
        assert_eq!(c.location["pod"], "api-7d9");
        assert_eq!(c.location["node"], "node-a");
        assert_eq!(c.location["image"], "ghcr.io/acme/api:1.4.2");
        let am = Event::AlertReceived {
            intake: "alertmanager".into(),
            rule: "payments-api-down".into(),
            fingerprint: "f".into(),
            title: "t".into(),
            fields: [("cluster", "prod-eu"), ("namespace", "payments")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            annotations: [
                ("description", "5xx above 20% for 5m"),
                ("runbook_url", "https://runbooks.example/api-down"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
            started_at: None,
        };
        let c = context_of(&am).unwrap();
        assert_eq!(c.location["cluster"], "prod-eu");
        assert_eq!(c.description.as_deref(), Some("5xx above 20% for 5m"));
        assert_eq!(
            c.runbook.as_deref(),
            Some("https://runbooks.example/api-down")
        );
    }
}
