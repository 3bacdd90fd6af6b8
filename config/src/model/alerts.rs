//! `[[alerts.rules]]`: which incoming alerts open incidents, page and propose actions.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::action::ActionName;
use super::ids::PolicyId;
use super::severity::Severity;
use super::values::{Cidr, ClockTime, LabelPattern, Weekday};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alerts {
    #[serde(default)]
    pub rules: Vec<AlertRule>,
    /// How each intake endpoint authenticates its sender; an intake without an entry
    /// refuses every request.
    #[serde(default)]
    pub intake: IntakeAuth,
}

/// `[alerts.intake.<source>]`, one per endpoint.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntakeAuth {
    /// `POST /alerts/alertmanager`.
    #[serde(default)]
    pub alertmanager: Option<IntakeCredentials>,
    /// `POST /alerts/falco`.
    #[serde(default)]
    pub falco: Option<IntakeCredentials>,
    /// `POST /alerts/events/v2`; rules match these with `source = "generic"`.
    #[serde(default)]
    pub events_v2: Option<IntakeCredentials>,
    /// `POST /alerts/guardduty`: findings as an EventBridge API destination posts them.
    #[serde(default)]
    pub guardduty: Option<IntakeCredentials>,
}

/// A sender proves itself with a bearer token, an HMAC of the body, or (Events API v2) the
/// routing key in the body. Any one configured credential that matches is enough.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntakeCredentials {
    /// `Authorization: Bearer <token>` (Alertmanager's `http_config.authorization`).
    #[serde(default)]
    pub token: Option<crate::SecretRef>,
    /// `X-Warroom-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>` with
    /// `X-Warroom-Timestamp: <unix seconds>` within 5 minutes.
    #[serde(default)]
    pub hmac_secret: Option<crate::SecretRef>,
    /// Events API v2 only: the `routing_key` senders put in the body.
    #[serde(default)]
    pub routing_key: Option<crate::SecretRef>,
}

/// Falco's priorities, least to most severe, so a rule can say "at least warning".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FalcoPriority {
    Debug,
    Informational,
    Notice,
    Warning,
    Error,
    Critical,
    Alert,
    Emergency,
}

impl std::str::FromStr for FalcoPriority {
    type Err = String;

    /// Case-insensitive, with Falco's aliases (`info`, `warn`, `err`, `crit`, `emerg`).
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "debug" => FalcoPriority::Debug,
            "informational" | "info" => FalcoPriority::Informational,
            "notice" => FalcoPriority::Notice,
            "warning" | "warn" => FalcoPriority::Warning,
            "error" | "err" => FalcoPriority::Error,
            "critical" | "crit" => FalcoPriority::Critical,
            "alert" => FalcoPriority::Alert,
            "emergency" | "emerg" => FalcoPriority::Emergency,
            other => {
                return Err(format!(
                    "`{other}` is not a Falco priority (debug, informational, notice, warning, error, critical, alert, emergency)"
                ));
            }
        })
    }
}

impl<'de> Deserialize<'de> for FalcoPriority {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::textual::parse_with(d, "a Falco priority such as \"warning\"", str::parse)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertSource {
    Alertmanager,
    Falco,
    Generic,
    Guardduty,
}

impl AlertSource {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertSource::Alertmanager => "alertmanager",
            AlertSource::Falco => "falco",
            AlertSource::Generic => "generic",
            AlertSource::Guardduty => "guardduty",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRule {
    pub name: String,
    pub source: AlertSource,
    /// Label name -> regex that must match the whole label value; all must match.
    #[serde(rename = "match", default)]
    pub matchers: BTreeMap<String, LabelPattern>,
    pub severity: Severity,
    /// Escalation policy to page; none means the alert only opens the incident.
    #[serde(default)]
    pub page: Option<PolicyId>,
    /// Only act inside this window; outside it the alert is recorded but nobody is paged.
    #[serde(default)]
    pub active: Option<ActiveWindow>,
    /// Only act outside this window (e.g. business hours: nights and weekends match).
    #[serde(default)]
    pub outside: Option<ActiveWindow>,
    /// Falco alerts only: the event's priority must be at least this.
    #[serde(default)]
    pub priority_at_least: Option<FalcoPriority>,
    /// The alert field holding an address to test (e.g. Falco's `fd.sip`, or `instance`).
    #[serde(default)]
    pub address_field: Option<String>,
    /// The address must be inside one of these networks.
    #[serde(default)]
    pub address_in: Vec<Cidr>,
    /// The address must be outside all of these networks ("from outside our ranges").
    #[serde(default)]
    pub address_not_in: Vec<Cidr>,
    /// Source addresses allowed to send this alert; empty means any.
    #[serde(default)]
    pub allow_from: Vec<Cidr>,
    /// Actions proposed as pending requests in the incident (two people decide).
    #[serde(default)]
    pub propose: Vec<ActionName>,
    /// Also announce a new incident of this rule in this existing channel (a team's
    /// on-call channel, by name, without `#`).
    #[serde(default)]
    pub channel: Option<String>,
    /// Accepted so plans written for time-windowed deduplication still load, and has no
    /// effect: an alert joins its fingerprint's incident for as long as that incident is
    /// open, whatever the time between repeats, and one arriving after people resolved it
    /// opens a new incident (a recurrence must page, not fold into a closed one).
    #[serde(
        default = "default_dedup",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub dedup_window: Duration,
}

fn default_dedup() -> Duration {
    Duration::from_secs(5 * 60)
}

impl AlertRule {
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matchers
            .iter()
            .all(|(name, p)| labels.get(name).is_some_and(|v| p.is_match(v)))
    }
}

/// Days and a daily time range in the plan's time zone; `from` after `to` wraps past midnight.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActiveWindow {
    pub days: Vec<Weekday>,
    pub from: ClockTime,
    pub to: ClockTime,
}

impl ActiveWindow {
    /// `day` is the weekday of `minute_of_day`; for a wrapping window the after-midnight part
    /// belongs to the day the window started.
    pub fn contains(&self, day: Weekday, previous_day: Weekday, minute_of_day: u16) -> bool {
        let (from, to) = (self.from.minute_of_day(), self.to.minute_of_day());
        if from <= to {
            self.days.contains(&day) && (from..to).contains(&minute_of_day)
        } else {
            (self.days.contains(&day) && minute_of_day >= from)
                || (self.days.contains(&previous_day) && minute_of_day < to)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(from: &str, to: &str) -> ActiveWindow {
        ActiveWindow {
            days: vec![Weekday::Mon],
            from: from.parse().unwrap(),
            to: to.parse().unwrap(),
        }
    }

    #[test]
    fn window_within_a_day() {
        let w = window("08:00", "18:00");
        assert!(w.contains(Weekday::Mon, Weekday::Sun, 9 * 60));
        assert!(!w.contains(Weekday::Mon, Weekday::Sun, 18 * 60));
        assert!(!w.contains(Weekday::Tue, Weekday::Mon, 9 * 60));
    }

    #[test]
    fn window_wrapping_midnight_belongs_to_its_start_day() {
        let w = window("22:00", "06:00");
        assert!(w.contains(Weekday::Mon, Weekday::Sun, 23 * 60));
        assert!(w.contains(Weekday::Tue, Weekday::Mon, 60));
        assert!(!w.contains(Weekday::Mon, Weekday::Sun, 60));
    }

    #[test]
    fn rule_matches_all_labels() {
        let rule: AlertRule = toml::from_str(
            "name = \"r\"\nsource = \"falco\"\nseverity = \"sev1\"\nmatch = { rule = \"Terminal shell.*\", namespace = \"payments\" }",
        )
        .unwrap();
        let mut labels = BTreeMap::new();
        labels.insert("rule".to_owned(), "Terminal shell in container".to_owned());
        labels.insert("namespace".to_owned(), "payments".to_owned());
        assert!(rule.matches(&labels));
        labels.insert("namespace".to_owned(), "payments-dev".to_owned());
        assert!(!rule.matches(&labels));
    }
}
