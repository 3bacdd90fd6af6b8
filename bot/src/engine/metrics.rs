//! Counters for `/metrics`: commands by outcome, requests by result.

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
        let _ = writeln!(
            out,
            "# HELP warroom_alerts_malformed_total Alert bodies refused as unreadable.\n# TYPE warroom_alerts_malformed_total counter\nwarroom_alerts_malformed_total {}",
            self.alerts_rejected
                .load(std::sync::atomic::Ordering::Relaxed)
        );
        out
    }
}
