//! Game-day scripts: the timed and conditional steps of a scenario's `kind: GameDay` document.
//!
//! A script says what the attacker does and when (alerts fire, objects appear, processes
//! start, nodes are compromised, tokens are used) and how the attacker reacts to what the team
//! did or did not do ("unless `quarantine pod payments/api-7f9c` by 10m, move to checkout").
//! Parsing is pure: every error names `file:line`. Running it is the server's job.

mod lines;
mod parse;
#[cfg(test)]
mod parse_tests;
pub mod payloads;

use std::time::Duration;

use serde_json::Value;

pub(crate) use lines::documents;

/// The `base:` a GameDay document names, if the text has one (read before the rest, since
/// the base's objects load first).
pub(crate) fn base_of(text: &str) -> Option<String> {
    let (doc, _) = documents(text)
        .into_iter()
        .find(|(d, _)| d.lines().any(|l| l.trim() == "kind: GameDay"))?;
    let value: serde_yaml::Value = serde_yaml::from_str(&doc).ok()?;
    value.get("base")?.as_str().map(str::to_owned)
}
pub use parse::{GAME_DAY_API_VERSION, GAME_DAY_KIND};
pub(crate) use parse::{Known, game_day as parse_game_day};

/// A scenario's game day: its name, the script, and when it ends at the latest.
#[derive(Debug, Clone, PartialEq)]
pub struct GameDay {
    /// `metadata.name`: runs of the same scenario are compared under it.
    pub name: String,
    pub title: String,
    /// The game day ends then at the latest.
    pub end: Duration,
    pub steps: Vec<Step>,
}

/// One step: when it runs, what stops it, and what it does.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// 1-based line in the scenario file.
    pub line: usize,
    pub trigger: Trigger,
    /// If this was done (before the trigger), the step does not run.
    pub unless: Option<Condition>,
    pub actions: Vec<Action>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// This long after the start.
    At(Duration),
    /// As soon as this is done, once.
    When(Condition),
}

/// Something the team (or anyone) did, as the script names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Condition {
    /// `ACTION KIND NAMESPACE/NAME` or `ACTION node NAME`: warroom executed it (for `delete
    /// pod`, the API server saw the pod deleted or evicted by anyone).
    Done {
        action: String,
        kind: String,
        namespace: String,
        name: String,
    },
    /// A page was acknowledged.
    Acknowledged,
    /// An incident was resolved.
    Resolved,
}

impl std::fmt::Display for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Condition::Done {
                action,
                kind,
                namespace,
                name,
            } if namespace.is_empty() => write!(f, "{action} {kind} {name}"),
            Condition::Done {
                action,
                kind,
                namespace,
                name,
            } => write!(f, "{action} {kind} {namespace}/{name}"),
            Condition::Acknowledged => f.write_str("acknowledge"),
            Condition::Resolved => f.write_str("resolve"),
        }
    }
}

/// The intakes an alert step can use: the same paths real senders post to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertFormat {
    Alertmanager,
    Falco,
    EventsV2,
    GuardDuty,
}

impl AlertFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertFormat::Alertmanager => "alertmanager",
            AlertFormat::Falco => "falco",
            AlertFormat::EventsV2 => "events-v2",
            AlertFormat::GuardDuty => "guardduty",
        }
    }
}

/// What a step does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Narration, shown on the scorecard's timeline.
    Say(String),
    /// An alert, exactly as its sender posts it.
    Alert { format: AlertFormat, payload: Value },
    /// An object appears in the cluster.
    Create(Value),
    /// A process starts in a container and Falco reports it.
    Process {
        namespace: String,
        pod: String,
        container: String,
        command: String,
        rule: String,
        priority: String,
    },
    /// A node is compromised: a GuardDuty-style finding names its instance.
    Compromise { node: String, finding: String },
    /// A service account's token is used from an outside address.
    Token {
        namespace: String,
        service_account: String,
        from: String,
    },
    /// The attacker moves: scored against the team.
    Lateral { from: String, to: String },
    /// Evidence is gone: scored against the team.
    Lost(String),
}

/// A script the server cannot run, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}:{line}: {problem}")]
pub struct ScriptError {
    pub origin: String,
    pub line: usize,
    pub problem: String,
}

/// `45s`, `10m`, `1h30m`, `90s`: the durations scripts use, read by humantime as the plan's
/// are; unlike a plan's, zero is allowed (`at: 0s` is the start), and a week is the most.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    const WEEK: Duration = Duration::from_secs(7 * 24 * 3600);
    let t = text.trim();
    if t.is_empty() {
        return Err("empty duration: write e.g. 30s, 10m or 1h30m".into());
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{t}` has no unit: write {t}s or {t}m"));
    }
    match humantime::parse_duration(t) {
        Ok(d) if d <= WEEK => Ok(d),
        Ok(_) | Err(humantime::DurationError::NumberOverflow) => {
            Err(format!("`{t}` is longer than a week"))
        }
        Err(_) => Err(format!(
            "`{t}` is not a duration: use a number with s, m or h, e.g. 30s, 10m or 1h30m"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_scripts_write_them() {
        assert_eq!(parse_duration("45s"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert!(parse_duration("10").unwrap_err().contains("no unit"));
        assert!(parse_duration("ten minutes").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("9999h").unwrap_err().contains("week"));
    }
}
