//! Counters for `/metrics`: commands by outcome, requests, decisions and actions, pages and
//! escalations. Counted from what the ledger recorded (see [`Metrics::recorded`]), so a
//! counter never runs ahead of the record.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use super::reply::Reply;

#[derive(Default)]
pub struct Metrics {
    commands: Mutex<BTreeMap<&'static str, u64>>,
    executions: Mutex<BTreeMap<&'static str, u64>>,
    /// (channel, result) → count: `delivered`, `retried` (one per failed attempt), `failed`.
    deliveries: Mutex<BTreeMap<(String, &'static str), u64>>,
    alerts_rejected: std::sync::atomic::AtomicU64,
    /// (action, error kind) → count: why executions failed (forbidden, throttled, …).
    failures: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    /// Recorded events, as the families below read them.
    recorded: Mutex<Recorded>,
}

#[derive(Default)]
struct Recorded {
    /// action → requests opened.
    requests: BTreeMap<&'static str, u64>,
    /// outcome → decisions (approved, denied, cancelled, expired, stale, break_glass).
    decisions: BTreeMap<&'static str, u64>,
    /// (action, result) → actions that ended (executed, failed, outcome_unknown).
    actions: BTreeMap<(&'static str, &'static str), u64>,
    /// why → pages (escalation, manual).
    pages: BTreeMap<&'static str, u64>,
    /// Escalation policies that ran out with nobody acknowledging.
    exhausted: u64,
}

impl Metrics {
    pub fn count(&self, reply: &Reply) {
        *self
            .commands
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(reply.code.as_str())
            .or_default() += 1;
    }

    /// An alert body that could not be read (400).
    pub fn alert_rejected(&self) {
        self.alerts_rejected
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn executed(&self, outcome: &'static str) {
        *self
            .executions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(outcome)
            .or_default() += 1;
    }

    pub fn action_failed(&self, action: &'static str, kind: &'static str) {
        *self
            .failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((action, kind))
            .or_default() += 1;
    }

    /// Count what a durable write recorded.
    pub fn recorded(&self, committed: &warroom_ledger::Committed) {
        // By the entry's kind and a field or two: no need to parse the whole event on the
        // write path.
        let e = &committed.entry;
        let field = |name: &str| e.data.get(name).and_then(serde_json::Value::as_str);
        let action_of = || {
            field("request")
                .and_then(|id| committed.incident.request(id))
                .map(|r| r.spec.action.as_str())
                .unwrap_or("unknown")
        };
        let mut r = self.recorded.lock().unwrap_or_else(|p| p.into_inner());
        let decision = match e.kind.as_str() {
            "request.opened" => {
                *r.requests.entry(action_of()).or_default() += 1;
                return;
            }
            "request.approved" => "approved",
            "request.denied" => "denied",
            "request.cancelled" => "cancelled",
            "request.expired" => "expired",
            "request.stale" => "stale",
            "request.break_glass" => "break_glass",
            "request.executed" | "request.failed" | "request.outcome_unknown" => {
                let result = match e.kind.as_str() {
                    "request.executed" => "executed",
                    "request.failed" => "failed",
                    _ => "outcome_unknown",
                };
                *r.actions.entry((action_of(), result)).or_default() += 1;
                return;
            }
            "page.sent" => {
                let why = if e.data.get("step").is_some_and(|s| !s.is_null()) {
                    "escalation"
                } else {
                    "manual"
                };
                *r.pages.entry(why).or_default() += 1;
                return;
            }
            "escalation.exhausted" => {
                r.exhausted += 1;
                return;
            }
            _ => return,
        };
        *r.decisions.entry(decision).or_default() += 1;
    }

    pub fn delivery(&self, channel: &str, result: &'static str) {
        *self
            .deliveries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((channel.to_owned(), result))
            .or_default() += 1;
    }

    /// Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "# HELP warroom_commands_total Commands handled, by outcome.\n# TYPE warroom_commands_total counter\n",
        );
        for (code, n) in self
            .commands
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(out, "warroom_commands_total{{outcome=\"{code}\"}} {n}");
        }
        out.push_str("# HELP warroom_executions_total Approved actions run, by result.\n# TYPE warroom_executions_total counter\n");
        for (outcome, n) in self
            .executions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(out, "warroom_executions_total{{result=\"{outcome}\"}} {n}");
        }
        out.push_str("# HELP warroom_action_failures_total Actions that failed, by action and kind of error (forbidden, not_found, throttled, conflict, upstream, not_configured, failed).\n# TYPE warroom_action_failures_total counter\n");
        for ((action, kind), n) in self
            .failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "warroom_action_failures_total{{action=\"{action}\",kind=\"{kind}\"}} {n}"
            );
        }
        out.push_str("# HELP warroom_page_deliveries_total Page deliveries by channel and result (delivered, retried, failed).\n# TYPE warroom_page_deliveries_total counter\n");
        for ((channel, result), n) in self
            .deliveries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "warroom_page_deliveries_total{{channel=\"{channel}\",result=\"{result}\"}} {n}"
            );
        }
        let r = self.recorded.lock().unwrap_or_else(|p| p.into_inner());
        family(
            &mut out,
            "warroom_requests_total",
            "Requests opened (recorded), by action.",
            r.requests
                .iter()
                .map(|(a, n)| (format!("action=\"{a}\""), *n)),
        );
        family(
            &mut out,
            "warroom_request_decisions_total",
            "Decisions recorded on requests, by outcome (approved, denied, cancelled, expired, stale, break_glass).",
            r.decisions
                .iter()
                .map(|(o, n)| (format!("outcome=\"{o}\""), *n)),
        );
        family(
            &mut out,
            "warroom_actions_total",
            "Actions that ended, by action and result (executed, failed, outcome_unknown).",
            r.actions
                .iter()
                .map(|((a, res), n)| (format!("action=\"{a}\",result=\"{res}\""), *n)),
        );
        family(
            &mut out,
            "warroom_pages_total",
            "Pages recorded, by why (escalation, manual).",
            r.pages.iter().map(|(w, n)| (format!("reason=\"{w}\""), *n)),
        );
        let _ = writeln!(
            out,
            "# HELP warroom_escalations_exhausted_total Escalation policies that ran out with nobody acknowledging.\n# TYPE warroom_escalations_exhausted_total counter\nwarroom_escalations_exhausted_total {}",
            r.exhausted
        );
        drop(r);
        let _ = writeln!(
            out,
            "# HELP warroom_alerts_malformed_total Alert bodies refused as unreadable.\n# TYPE warroom_alerts_malformed_total counter\nwarroom_alerts_malformed_total {}",
            self.alerts_rejected
                .load(std::sync::atomic::Ordering::Relaxed)
        );
        out
    }
}

/// One counter family: HELP, TYPE, and a line per label set.
fn family(out: &mut String, name: &str, help: &str, rows: impl Iterator<Item = (String, u64)>) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    for (labels, n) in rows {
        let _ = writeln!(out, "{name}{{{labels}}} {n}");
    }
}
