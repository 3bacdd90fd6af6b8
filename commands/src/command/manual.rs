//! What `help COMMAND` says beyond the usage line: what the command does, what it never does,
//! and an example to copy.

/// `(verb, what it does, what it never does, example)`.
pub const MANUAL: &[(&str, &str, &str, &str)] = &[
    (
        "incident open",
        "Opens an incident with its own channel on every chat platform, pages the plan's policy for the severity and starts the timeline (a SHA-256 hash chain).",
        "Never reuses an id; never opens a second incident for the same alert fingerprint.",
        "incident open \"Shell in payments pod\" --severity sev1",
    ),
    (
        "incident status",
        "Shows the incident's state, severity, roles, pages and open requests.",
        "Reads only: never writes to the timeline.",
        "incident status",
    ),
    (
        "incident severity",
        "Changes the severity; the change is a timeline entry and escalation follows the new severity's policy.",
        "Never re-pages people who already acknowledged.",
        "incident severity sev1",
    ),
    (
        "incident resolve",
        "Resolves the incident with an optional summary and stops paging. With requests still open or objects still contained it first shows them and asks for `--confirm`; then each open request is cancelled in the timeline and its card updated, and the summary lists what stays contained on purpose.",
        "Never undoes containment: what is quarantined or cordoned stays so until released.",
        "incident resolve --confirm \"Pod rebuilt from a clean image; node kept cordoned for forensics\"",
    ),
    (
        "role",
        "Gives a person an incident role (commander, scribe, comms); the plan decides what each role may ask and approve.",
        "Never gives a role to someone the plan does not know.",
        "role commander @alice",
    ),
    (
        "note",
        "Adds a note to the timeline, durable before the reply says \"recorded\".",
        "Never edits or removes an earlier entry: corrections are new notes.",
        "note Attacker IP 203.0.113.7 seen in access logs",
    ),
    (
        "timeline",
        "Shows the latest timeline entries and the chain head that vouches for them.",
        "Reads only.",
        "timeline",
    ),
    (
        "status-update",
        "Posts a status update to the stakeholder channel and the timeline; reminders restart from it.",
        "Never posts outside the plan's stakeholder channels.",
        "status-update Payments API isolated, no customer data accessed so far",
    ),
    (
        "page",
        "Pages a person, a team or an escalation policy on their channels (chat, PagerDuty, e-mail, webhook), with retries.",
        "Never pages the same step twice for one incident.",
        "page security-oncall Need a second pair of eyes on R3",
    ),
    (
        "ack",
        "Acknowledges your page: the one for this channel's incident, your only open one, all of them (`ack all`) or one incident's.",
        "Never acknowledges someone else's page; outside an incident with several pages it asks which.",
        "ack INC-20261201-0001",
    ),
    (
        "capture",
        "Stores the pod's spec as applied, its owners, image digests, events, logs and node info, each hashed into the evidence store and recorded under the request.",
        "Never changes the pod or anything else in the cluster. `pod` may be left out: `capture NS/POD`.",
        "capture pod payments/api-7f9c --reason \"before containment\"",
    ),
    (
        "checkpoint",
        "Checkpoints a running container through the kubelet (CRIU) and records the archive as evidence.",
        "Never stops the container; refused where the kubelet does not allow checkpoints.",
        "checkpoint pod payments/api-7f9c --container api",
    ),
    (
        "quarantine",
        "Isolates the pod with a deny-all NetworkPolicy selected by a quarantine label; `--detach` also takes it out of its Services and owner so it is not replaced.",
        "Never deletes or restarts the pod: its memory and disk stay for investigation. `pod` may be left out: `quarantine NS/POD`.",
        "quarantine pod payments/api-7f9c --reason \"reverse shell\"",
    ),
    (
        "release",
        "Undoes a quarantine: removes the label and warroom's policy for the pod.",
        "Never removes policies warroom did not create.",
        "release pod payments/api-7f9c --reason \"rebuilt and verified\"",
    ),
    (
        "label",
        "Sets one label on a pod or node, with the value before and after in the timeline.",
        "Never removes other labels.",
        "label pod payments/api-7f9c investigation=inc-0001 --reason \"mark for forensics\"",
    ),
    (
        "cordon",
        "Marks the node unschedulable so nothing new lands on it.",
        "Never evicts what already runs there (that is `drain`).",
        "cordon node ip-10-0-1-23.ec2.internal --reason \"miner on node\"",
    ),
    (
        "uncordon",
        "Allows scheduling onto the node again.",
        "Never touches the pods on it.",
        "uncordon node ip-10-0-1-23.ec2.internal --reason \"node replaced\"",
    ),
    (
        "drain",
        "Cordons the node and evicts its pods through the Eviction API, honouring disruption budgets, with progress in the channel.",
        "Never evicts pods under investigation or DaemonSet pods; refused until the node's evidence was captured unless `--override` says why.",
        "drain node ip-10-0-1-23.ec2.internal --reason \"rebuild\"",
    ),
    (
        "protect",
        "Keeps a suspect node's instance: EC2 termination and stop protection, Auto Scaling scale-in protection, Karpenter's do-not-disrupt annotation.",
        "Never changes the workloads; Spot instances are refused (AWS reclaims them regardless).",
        "protect node ip-10-0-1-23.ec2.internal --reason \"keep the disk\"",
    ),
    (
        "unprotect",
        "Sets each part of protect back.",
        "Never terminates or stops the instance.",
        "unprotect node ip-10-0-1-23.ec2.internal --reason \"imaged\"",
    ),
    (
        "snapshot",
        "Snapshots every EBS volume of the node's instance at one moment, tagged with the incident, requester and approver, and records them as evidence; `--lock` locks them as the plan's account says.",
        "Never stops the instance or detaches a volume.",
        "snapshot node ip-10-0-1-23.ec2.internal --lock --reason \"disk evidence\"",
    ),
    (
        "revoke",
        "Denies every session of the pod's or node's IAM role issued before now (inline policy AWSRevokeOlderSessions); the card shows every pod and node holding that role.",
        "Never deletes the role or its other policies; new sessions still work, so isolate the pod first.",
        "revoke creds pod payments/api-7f9c --reason \"keys exfiltrated\"",
    ),
    (
        "unrevoke",
        "Deletes warroom's revocation from the role: sessions issued before it work again if they have not expired.",
        "Never touches the role's other policies.",
        "unrevoke creds pod payments/api-7f9c --reason \"keys rotated\"",
    ),
    (
        "scale",
        "Sets a workload's replicas, with the count before and after in the timeline.",
        "Refused to zero until evidence was captured, unless `--override` says why.",
        "scale deployment payments/api --replicas 0 --reason \"stop the bleed\" --override \"captured in R1\"",
    ),
    (
        "restart",
        "Rolls out a restart of a workload (as kubectl rollout restart).",
        "Never deletes the workload; pods are replaced one by one by their controller.",
        "restart deployment payments/api --reason \"rotate credentials\"",
    ),
    (
        "delete",
        "Deletes one object, after the approvals the plan requires for destructive actions.",
        "Refused until evidence was captured, unless `--override` says why; never deletes more than the named object.",
        "delete pod payments/api-7f9c --reason \"rebuilt\" --override \"captured in R1\"",
    ),
    (
        "approve",
        "Approves a pending request; it runs when it has the approvals it needs.",
        "Never lets you approve your own request or approve twice; a target that changed since the request is refused.",
        "approve R3",
    ),
    (
        "deny",
        "Denies a pending request; one deny ends it.",
        "Never runs anything.",
        "deny R3 wrong pod",
    ),
    (
        "cancel",
        "Withdraws your own pending request.",
        "Never cancels someone else's request.",
        "cancel R3",
    ),
    (
        "break-glass",
        "Runs a request without its approvals, for roles the plan allows, and opens a review by two other people.",
        "Never silent: the channel and the timeline say who broke the glass and why.",
        "break-glass R3 --reason \"attacker is exfiltrating now\"",
    ),
    (
        "evidence",
        "Lists the incident's evidence, or shows one record with its SHA-256 and where to view or download it (re-checked against the hash). An id is the number of the timeline entry that recorded it (E15 = entry 15).",
        "Reads only.",
        "evidence E2",
    ),
    (
        "help",
        "Lists every command, or explains one.",
        "Reads only.",
        "help quarantine",
    ),
];

/// The manual entry of `verb`.
pub fn manual_of(verb: &str) -> Option<(&'static str, &'static str, &'static str)> {
    MANUAL
        .iter()
        .find(|(v, ..)| *v == verb)
        .map(|(_, what, never, example)| (*what, *never, *example))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::usage::USAGES;

    #[test]
    fn every_command_has_a_manual_entry_and_every_example_parses() {
        for (verb, ..) in USAGES {
            let (_, _, example) =
                manual_of(verb).unwrap_or_else(|| panic!("`{verb}` has no manual entry"));
            crate::command::parse(example)
                .unwrap_or_else(|e| panic!("`{verb}`'s example `{example}` does not parse: {e}"));
        }
        assert_eq!(
            MANUAL.len(),
            USAGES.len(),
            "no entry for a command that does not exist"
        );
    }
}
