//! Usage text for every command: shown by `help` and with every parse error.

/// `(verb, usage, what it does)`, in the order `help` lists them.
pub const USAGES: &[(&str, &str, &str)] = &[
    (
        "incident open",
        "incident open \"TITLE\" [--severity sev1|sev2|sev3|sev4]",
        "open an incident (default sev3) and its channel",
    ),
    (
        "incident status",
        "incident status",
        "the incident's state, roles and open requests",
    ),
    (
        "incident severity",
        "incident severity sev1|sev2|sev3|sev4",
        "change the incident's severity",
    ),
    (
        "incident resolve",
        "incident resolve [--confirm] [SUMMARY]",
        "resolve the incident (shows what is still contained or open first; --confirm to go ahead)",
    ),
    (
        "role",
        "role commander|scribe|comms @PERSON",
        "give a person an incident role",
    ),
    ("note", "note TEXT", "add a note to the timeline"),
    (
        "timeline",
        "timeline",
        "the latest timeline entries and the chain head",
    ),
    (
        "status-update",
        "status-update TEXT",
        "post a status update for stakeholders",
    ),
    (
        "page",
        "page PERSON|TEAM|POLICY [TEXT]",
        "page a person, a team or an escalation policy",
    ),
    (
        "ack",
        "ack [all | INC-…]",
        "acknowledge your page (here, your only one, every one, or one incident's)",
    ),
    (
        "capture",
        "capture pod NS/POD [--reason TEXT] [--cluster NAME]",
        "read: capture spec, owners, images, events, logs, node info",
    ),
    (
        "checkpoint",
        "checkpoint pod NS/POD [--container C] [--reason TEXT] [--cluster NAME]",
        "read: checkpoint a container through the kubelet",
    ),
    (
        "quarantine",
        "quarantine pod NS/POD --reason TEXT [--detach] [--cluster NAME]",
        "contain: isolate the pod with a deny-all NetworkPolicy",
    ),
    (
        "release",
        "release pod NS/POD --reason TEXT [--cluster NAME]",
        "contain: undo a quarantine",
    ),
    (
        "label",
        "label pod NS/POD KEY=VALUE --reason TEXT [--cluster NAME]\n       label node NODE KEY=VALUE --reason TEXT [--cluster NAME]",
        "contain: label a pod or node",
    ),
    (
        "cordon",
        "cordon node NODE --reason TEXT [--cluster NAME]",
        "contain: stop scheduling onto a node",
    ),
    (
        "uncordon",
        "uncordon node NODE --reason TEXT [--cluster NAME]",
        "contain: allow scheduling again",
    ),
    (
        "drain",
        "drain node NODE --reason TEXT [--override TEXT] [--cluster NAME]",
        "destructive: evict the node's pods (never those under investigation)",
    ),
    (
        "protect",
        "protect node NODE --reason TEXT [--cluster NAME]",
        "contain: EC2 termination and stop protection, Auto Scaling scale-in protection, Karpenter do-not-disrupt",
    ),
    (
        "unprotect",
        "unprotect node NODE --reason TEXT [--cluster NAME]",
        "contain: undo each part of protect",
    ),
    (
        "snapshot",
        "snapshot node NODE --reason TEXT [--lock] [--cluster NAME]",
        "contain: EBS snapshots of the node's volumes (--lock: EBS snapshot lock as the plan's account sets it)",
    ),
    (
        "revoke",
        "revoke creds pod NS/POD --reason TEXT [--cluster NAME]\n       revoke creds node NODE --reason TEXT [--cluster NAME]",
        "contain: revoke the role's sessions issued before now",
    ),
    (
        "unrevoke",
        "unrevoke creds pod NS/POD --reason TEXT [--cluster NAME]\n       unrevoke creds node NODE --reason TEXT [--cluster NAME]",
        "contain: undo a revocation (sessions issued before it work again)",
    ),
    (
        "scale",
        "scale deployment|statefulset|replicaset NS/NAME --replicas N --reason TEXT [--override TEXT] [--cluster NAME]",
        "destructive: set replicas",
    ),
    (
        "restart",
        "restart deployment|statefulset|daemonset NS/NAME --reason TEXT [--override TEXT] [--cluster NAME]",
        "destructive: rollout restart",
    ),
    (
        "delete",
        "delete pod|deployment|statefulset|daemonset|replicaset NS/NAME --reason TEXT [--override TEXT] [--cluster NAME]",
        "destructive: delete the object",
    ),
    (
        "approve",
        "approve REQUEST-ID",
        "approve someone else's request",
    ),
    (
        "deny",
        "deny REQUEST-ID [REASON]",
        "deny a request; one deny ends it",
    ),
    ("cancel", "cancel REQUEST-ID", "withdraw your own request"),
    (
        "break-glass",
        "break-glass REQUEST-ID --reason TEXT",
        "run a request alone (allowed roles only); opens a review by two others",
    ),
    (
        "evidence",
        "evidence [EVIDENCE-ID]",
        "list the incident's evidence, or show one record",
    ),
    (
        "help",
        "help [COMMAND]",
        "this list, or one command's usage",
    ),
];

/// The usage of one verb (`incident open`, `quarantine`, …).
pub fn usage_of(verb: &str) -> Option<&'static str> {
    USAGES.iter().find(|(v, ..)| *v == verb).map(|(_, u, _)| *u)
}

/// Every usage for a verb family: `incident` gives all `incident …` forms.
pub fn usages_for(topic: &str) -> Vec<&'static str> {
    let topic = topic.trim().trim_start_matches('/');
    USAGES
        .iter()
        .filter(|(v, ..)| *v == topic || v.split(' ').next() == Some(topic))
        .map(|(_, u, _)| *u)
        .collect()
}

/// The whole `help` text.
pub fn help_text() -> String {
    let mut out = String::from(
        "Commands (REQUEST-ID is like R3 in an incident's channel, or INC-20261127-0001-R3):\n",
    );
    for (_, usage, what) in USAGES {
        out.push_str(&format!("  {usage}\n      {what}\n"));
    }
    out
}
