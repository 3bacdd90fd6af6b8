//! The words of a page, shared by every channel: what fired, where, what to read, where to
//! go and exactly how to acknowledge on that channel.

use warroom_commands::outbox::SendKind;

use super::{Outbound, PageContent};

/// One line: `[warroom] PAGE INC-… sev2: title`, or the follow-up's.
pub fn subject(o: &Outbound) -> String {
    let c = &o.content;
    let what = match o.kind {
        SendKind::Page => "PAGE",
        SendKind::Acknowledged => "ACKNOWLEDGED",
        SendKind::Resolved => "RESOLVED",
    };
    format!(
        "{}[warroom] {what} {} {}: {}",
        c.prefix(),
        c.incident,
        c.severity,
        c.title
    )
}

/// How to acknowledge, said for the channel the page came by.
pub fn acknowledge_hint(channel: &str, c: &PageContent) -> String {
    let (id, chat, link) = (&c.incident, &c.channel, &c.link);
    match channel {
        "email" => format!(
            "reply `ack` in {chat}, or open {link} and run `ack {id}` (answering this e-mail does not acknowledge)"
        ),
        "pagerduty" => format!(
            "in warroom: `ack` in {chat}, or `ack {id}` at {link}. Acknowledging in PagerDuty stops PagerDuty's notifications, not warroom's escalation"
        ),
        "webhook" => format!("`ack` in {chat}, or `ack {id}` at {link}"),
        _ => format!("press Acknowledge below, or reply `ack` in {chat} ({link})"),
    }
}

/// The page's body, line by line, for `channel`.
pub fn body_lines(o: &Outbound, channel: &str) -> Vec<String> {
    let c = &o.content;
    let mut lines = Vec::new();
    match o.kind {
        SendKind::Page => {
            lines.push(format!(
                "{}You are paged for {} ({}): {}",
                c.prefix(),
                c.incident,
                c.severity,
                c.title
            ));
            lines.push(format!("Step: {}", c.step));
            if let Some(rule) = &c.rule {
                let source = c.source.as_deref().unwrap_or("an alert");
                lines.push(format!("Fired: rule `{rule}` from {source}"));
            }
            if !c.location.is_empty() {
                let at: Vec<String> = c.location.iter().map(|(k, v)| format!("{k}={v}")).collect();
                lines.push(format!("Where: {}", at.join(" ")));
            }
            if let Some(d) = &c.description {
                lines.push(format!("What: {d}"));
            }
            if let Some(r) = &c.runbook {
                lines.push(format!("Runbook: {r}"));
            }
            if let Some(n) = &c.note {
                lines.push(format!("Note: {n}"));
            }
        }
        SendKind::Acknowledged => lines.push(format!(
            "{}{} ({}) was acknowledged{}: paging stopped. {}",
            c.prefix(),
            c.incident,
            c.title,
            o.by.as_deref()
                .map(|b| format!(" by {b}"))
                .unwrap_or_default(),
            "Nothing more is asked of you unless the channel asks."
        )),
        SendKind::Resolved => lines.push(format!(
            "{}{} ({}) is resolved{}.",
            c.prefix(),
            c.incident,
            c.title,
            o.by.as_deref()
                .map(|b| format!(": {b}"))
                .unwrap_or_default()
        )),
    }
    lines.push(format!("Incident: {}", c.link));
    lines.push(format!("Channel: {}", c.channel));
    if o.kind == SendKind::Page {
        lines.push(format!("Acknowledge: {}", acknowledge_hint(channel, c)));
    }
    lines
}
