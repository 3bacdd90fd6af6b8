//! What a parsed command says, independent of the platform it was typed on.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use warroom_config::{ActionName, Severity};

/// One command of the grammar, after parsing.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    IncidentOpen {
        title: String,
        severity: Severity,
    },
    IncidentStatus,
    IncidentSeverity(Severity),
    IncidentResolve {
        summary: Option<String>,
        /// `--confirm`: resolve even with requests open or objects still contained (they are
        /// cancelled, and what stays contained is listed in the summary).
        confirm: bool,
    },
    Role {
        role: IncidentRole,
        person: String,
    },
    Note(String),
    Timeline,
    StatusUpdate(String),
    Page {
        target: String,
        text: Option<String>,
    },
    /// `ack` (the incident at hand, or your one open page), `ack all`, `ack INC-…`.
    Ack(AckScope),
    Action(ActionRequest),
    Approve {
        request: String,
    },
    Deny {
        request: String,
        reason: Option<String>,
    },
    Cancel {
        request: String,
    },
    BreakGlass {
        request: String,
        reason: String,
    },
    Evidence {
        id: Option<String>,
    },
    Help {
        topic: Option<String>,
    },
}

/// Which pages an `ack` acknowledges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckScope {
    /// The incident the command runs in; outside one, the person's only open page (more
    /// than one is refused, listing them).
    Mine,
    /// Every open page of the person.
    All,
    /// The pages of this incident.
    Incident(crate::IncidentId),
}

impl Command {
    /// Commands that act on one incident and so need to know which.
    pub fn needs_incident(&self) -> bool {
        !matches!(
            self,
            Command::IncidentOpen { .. } | Command::Help { .. } | Command::Ack(_)
        )
    }

    /// The verb a user typed, for logs and metrics.
    pub fn verb(&self) -> &'static str {
        match self {
            Command::IncidentOpen { .. } => "incident open",
            Command::IncidentStatus => "incident status",
            Command::IncidentSeverity(_) => "incident severity",
            Command::IncidentResolve { .. } => "incident resolve",
            Command::Role { .. } => "role",
            Command::Note(_) => "note",
            Command::Timeline => "timeline",
            Command::StatusUpdate(_) => "status-update",
            Command::Page { .. } => "page",
            Command::Ack(_) => "ack",
            Command::Action(a) => a.action.as_str(),
            Command::Approve { .. } => "approve",
            Command::Deny { .. } => "deny",
            Command::Cancel { .. } => "cancel",
            Command::BreakGlass { .. } => "break-glass",
            Command::Evidence { .. } => "evidence",
            Command::Help { .. } => "help",
        }
    }
}

/// The incident roles a person can be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentRole {
    Commander,
    Scribe,
    Comms,
}

impl IncidentRole {
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentRole::Commander => "commander",
            IncidentRole::Scribe => "scribe",
            IncidentRole::Comms => "comms",
        }
    }
}

impl fmt::Display for IncidentRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Kinds of Kubernetes object an action can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ObjectKind {
    Pod,
    Node,
    Deployment,
    StatefulSet,
    DaemonSet,
    ReplicaSet,
}

impl ObjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Pod => "Pod",
            ObjectKind::Node => "Node",
            ObjectKind::Deployment => "Deployment",
            ObjectKind::StatefulSet => "StatefulSet",
            ObjectKind::DaemonSet => "DaemonSet",
            ObjectKind::ReplicaSet => "ReplicaSet",
        }
    }

    /// Accepts kubectl's spellings: `deployment`, `deploy`, `sts`, …
    pub fn parse(text: &str) -> Option<ObjectKind> {
        Some(match text.to_ascii_lowercase().as_str() {
            "pod" | "pods" | "po" => ObjectKind::Pod,
            "node" | "nodes" | "no" => ObjectKind::Node,
            "deployment" | "deployments" | "deploy" => ObjectKind::Deployment,
            "statefulset" | "statefulsets" | "sts" => ObjectKind::StatefulSet,
            "daemonset" | "daemonsets" | "ds" => ObjectKind::DaemonSet,
            "replicaset" | "replicasets" | "rs" => ObjectKind::ReplicaSet,
            _ => return None,
        })
    }

    pub fn is_namespaced(self) -> bool {
        self != ObjectKind::Node
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The object an action is aimed at.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Target {
    pub kind: ObjectKind,
    /// Empty for cluster-scoped kinds (nodes).
    pub namespace: String,
    pub name: String,
}

impl Target {
    pub fn pod(namespace: &str, name: &str) -> Self {
        Target {
            kind: ObjectKind::Pod,
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    pub fn node(name: &str) -> Self {
        Target {
            kind: ObjectKind::Node,
            namespace: String::new(),
            name: name.into(),
        }
    }

    /// `pod payments/api-7f9c`, `node ip-10-0-1-23.ec2.internal`.
    pub fn describe(&self) -> String {
        format!(
            "{} {}",
            self.kind.as_str().to_ascii_lowercase(),
            self.path()
        )
    }

    /// `payments/api-7f9c` or the bare node name.
    pub fn path(&self) -> String {
        if self.namespace.is_empty() {
            self.name.clone()
        } else {
            format!("{}/{}", self.namespace, self.name)
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// A containment or forensics action as asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionRequest {
    pub action: ActionName,
    pub target: Target,
    /// Action parameters (`replicas`, `container`, `detach`, `key`, `value`), sorted so the
    /// approval binding is stable.
    pub params: BTreeMap<String, String>,
    pub reason: Option<String>,
    /// Reason to go ahead although a guardrail (no evidence captured yet) would refuse.
    pub override_reason: Option<String>,
    /// `--cluster NAME`; the plan's first cluster when absent.
    pub cluster: Option<String>,
}
