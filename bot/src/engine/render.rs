//! Text for people: incident status, approval cards, the timeline.

use chrono::{DateTime, Utc};
use warroom_adapters::chat::ApprovalCard;
use warroom_commands::{Event, Incident, Request, RequestStatus};
use warroom_config::Plan;
use warroom_ledger::Entry;

/// The first 12 hex characters: enough to compare heads by eye across platforms.
pub fn short_hash(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

pub fn chain_head(incident: &Incident) -> String {
    format!(
        "chain head {} (entry {})",
        short_hash(&incident.head),
        incident.entries.saturating_sub(1)
    )
}

fn until(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (at - now).num_seconds();
    if secs <= 0 {
        "now".to_owned()
    } else if secs < 120 {
        format!("in {secs}s")
    } else {
        format!("in {}m", secs / 60)
    }
}

pub fn request_line(r: &Request) -> String {
    let s = &r.spec;
    format!(
        "{} {} {} on {} — {} (asked by {}, {}/{} approvals)",
        s.request,
        s.action,
        s.target,
        s.cluster,
        r.status,
        r.requested_by,
        r.approvers.len(),
        s.approvals_needed
    )
}

pub fn status(incident: &Incident, plan: &Plan) -> String {
    let mut out = format!(
        "{} ({}, {}): {}\nopened {} by {}\n",
        incident.id,
        incident.severity,
        incident.status,
        incident.title,
        incident.opened_at.to_rfc3339(),
        incident.opened_by
    );
    if incident.roles.is_empty() {
        out.push_str("roles: nobody assigned — `role commander @PERSON`\n");
    } else {
        let roles: Vec<String> = incident
            .roles
            .iter()
            .map(|(r, p)| format!("{r}: {p}"))
            .collect();
        out.push_str(&format!("roles: {}\n", roles.join(", ")));
    }
    let open: Vec<&Request> = incident
        .requests
        .iter()
        .filter(|r| !r.status.is_frozen())
        .map(|r| r.as_ref())
        .collect();
    if open.is_empty() {
        out.push_str("open requests: none\n");
    } else {
        out.push_str("open requests:\n");
        for r in open {
            out.push_str(&format!("  {}\n", request_line(r)));
        }
    }
    if !incident.unacknowledged.is_empty() {
        let who: Vec<&str> = incident.unacknowledged.iter().map(|p| p.as_str()).collect();
        out.push_str(&format!("paged, not acknowledged: {}\n", who.join(", ")));
    }
    out.push_str(&warroom_commands::containment::board_text(
        &warroom_commands::containment::board(incident),
    ));
    out.push('\n');
    if let Some(at) = incident.last_status_update {
        out.push_str(&format!("last status update: {}\n", at.to_rfc3339()));
    } else {
        out.push_str(&format!(
            "no status update yet (the plan asks for one every {})\n",
            warroom_config::format_duration(plan.communication.status_update_every)
        ));
    }
    out.push_str(&chain_head(incident));
    out
}

pub fn timeline(incident: &Incident, entries: &[Entry], last: usize) -> String {
    let skip = entries.len().saturating_sub(last);
    let mut out = String::new();
    if skip > 0 {
        out.push_str(&format!(
            "… {skip} earlier entries (export the incident for all)\n"
        ));
    }
    for e in &entries[skip..] {
        let what = e
            .event()
            .map(|ev| ev.describe())
            .unwrap_or_else(|_| e.kind.clone());
        out.push_str(&format!(
            "#{} {} {} {} [{}]\n",
            e.seq,
            e.at,
            e.actor,
            what,
            short_hash(&e.hash)
        ));
    }
    out.push_str(&chain_head(incident));
    out
}

/// The approval card: what will change, who asked and why, who decided, and the outcome.
pub fn card(
    plan: &warroom_config::Plan,
    incident: &Incident,
    r: &Request,
    now: DateTime<Utc>,
) -> ApprovalCard {
    let s = &r.spec;
    let mut lines = vec![
        format!(
            "target: {} in cluster {}{}",
            s.target,
            s.cluster,
            s.uid
                .as_deref()
                .map(|u| format!(" (uid {u})"))
                .unwrap_or_default()
        ),
        format!("risk: {}", s.risk),
        format!(
            "asked by {}: {}",
            r.requested_by,
            s.reason.as_deref().unwrap_or("(no reason given)")
        ),
    ];
    if !s.params.is_empty() {
        let params: Vec<String> = s.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        lines.push(format!("parameters: {}", params.join(", ")));
    }
    if let Some(why) = &s.override_reason {
        lines.push(format!("guardrail override: {why}"));
    }
    lines.extend(s.notes.iter().cloned());
    if let Some(p) = &s.plan_of_change {
        lines.push(format!("plan of change: {p}"));
    }
    lines.push(format!(
        "approvals: {}/{}{}",
        r.approvers.len(),
        s.approvals_needed,
        if r.approvers.is_empty() {
            String::new()
        } else {
            format!(
                " — approved by {}",
                r.approvers
                    .iter()
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    ));
    let deciders = warroom_commands::authorize::eligible_approvers(plan, r);
    if r.status == RequestStatus::Pending {
        let names: Vec<&str> = deciders.iter().map(|p| p.as_str()).collect();
        lines.push(format!(
            "needs {} more from one of: {} (roles: {}; not {}, who asked)",
            r.approvals_missing(),
            if names.is_empty() {
                "nobody — no one else holds an approving role; ask the plan owner".to_owned()
            } else {
                names.join(", ")
            },
            warroom_commands::authorize::approver_roles(plan, s.action),
            r.requested_by
        ));
        lines.push(format!(
            "expires {} ({})",
            s.expires_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            until(s.expires_at, now)
        ));
    }
    if let Some(bg) = &r.break_glass {
        lines.push(format!(
            "BREAK-GLASS by {}: {} — review {}/2: {}",
            bg.by,
            bg.reason,
            bg.reviewers.len(),
            if bg.review_closed() {
                "closed"
            } else {
                "two other people run `approve` to close it"
            }
        ));
    }
    if !r.changes.is_empty() {
        lines.push("changed:".to_owned());
        lines.extend(r.changes.iter().map(|c| format!("  • {c}")));
    }
    let status = match (&r.status, &r.outcome) {
        (RequestStatus::Approved, _) if r.break_glass.is_none() => format!(
            "approved by {}",
            r.approvers
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        (st, Some(outcome)) => format!("{st}: {outcome}"),
        (st, None) => st.to_string(),
    };
    ApprovalCard {
        incident: incident.id.clone(),
        request: s.request.clone(),
        title: format!(
            "{} requests {} {} ({})",
            r.requested_by, s.action, s.target, s.request
        ),
        lines,
        status,
        open: r.status == RequestStatus::Pending,
        deciders,
    }
}

/// The line posted to the channel for a decision or outcome, with the chain head.
pub fn decision(incident: &Incident, event: &Event, by: &str) -> String {
    format!("{} — by {by}\n{}", event.describe(), chain_head(incident))
}
