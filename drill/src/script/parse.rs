//! Reading a `kind: GameDay` document into a [`GameDay`], naming `file:line` on every error.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::lines::DocLines;
use super::{Action, AlertFormat, Condition, GameDay, ScriptError, Step, Trigger, parse_duration};

pub const GAME_DAY_API_VERSION: &str = "drill.warroom.io/v1";
pub const GAME_DAY_KIND: &str = "GameDay";

/// A game day ends by then when its script does not say.
const DEFAULT_END_SECS: u64 = 3600;

/// Actions a condition may name: warroom's own.
const ACTIONS: &[&str] = &[
    "capture",
    "checkpoint",
    "quarantine",
    "release",
    "label",
    "cordon",
    "uncordon",
    "drain",
    "protect",
    "unprotect",
    "snapshot",
    "revoke",
    "unrevoke",
    "scale",
    "restart",
    "delete",
];
const KINDS: &[&str] = &[
    "pod",
    "node",
    "deployment",
    "statefulset",
    "daemonset",
    "replicaset",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Doc {
    #[serde(rename = "apiVersion")]
    _api_version: String,
    #[serde(rename = "kind")]
    _kind: String,
    metadata: Meta,
    /// Read by the scenario loader before this document (see `base_of`).
    #[serde(default, rename = "base")]
    _base: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    end: Option<String>,
    script: Vec<RawStep>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Meta {
    name: String,
    #[serde(default)]
    _labels: Option<serde_yaml::Value>,
    #[serde(default)]
    _annotations: Option<serde_yaml::Value>,
}

/// A step, or one action of a step's `then` (which may not have `at`, `when`, `unless` or
/// `then` of its own).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawStep {
    at: Option<String>,
    when: Option<String>,
    unless: Option<String>,
    then: Option<Vec<RawStep>>,
    say: Option<String>,
    alert: Option<RawAlert>,
    create: Option<serde_yaml::Value>,
    process: Option<RawProcess>,
    compromise: Option<RawCompromise>,
    token: Option<RawToken>,
    lateral: Option<RawLateral>,
    lost: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlert {
    format: String,
    payload: Option<serde_yaml::Value>,
    file: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProcess {
    pod: String,
    container: Option<String>,
    command: String,
    rule: Option<String>,
    priority: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCompromise {
    node: String,
    finding: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    serviceaccount: String,
    from: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLateral {
    from: String,
    to: String,
}

/// What the rest of the scenario holds, for checking the names a script uses.
pub(crate) trait Known {
    /// Whether an object of `kind` (`pod`, `node`, `serviceaccount`) exists.
    fn has(&self, kind: &str, namespace: &str, name: &str) -> bool;
}

struct Reader<'a> {
    origin: &'a str,
    lines: DocLines<'a>,
    base: Option<&'a Path>,
    known: &'a dyn Known,
    /// Pods the script itself creates: conditions may name them.
    created: Vec<(String, String, String)>,
}

/// Reads the GameDay document `text`, whose first line is `first` in the file `origin`;
/// alert `file:`s are read relative to `base`.
pub(crate) fn game_day(
    origin: &str,
    text: &str,
    first: usize,
    base: Option<&Path>,
    known: &dyn Known,
) -> Result<GameDay, ScriptError> {
    let doc: Doc = serde_yaml::from_str(text).map_err(|e| ScriptError {
        origin: origin.to_string(),
        line: first + e.location().map_or(0, |l| l.line().saturating_sub(1)),
        // Its position is the document's, not the file's: the line above says where.
        problem: e
            .to_string()
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_string(),
    })?;
    let mut r = Reader {
        origin,
        lines: DocLines::new(text, first),
        base,
        known,
        created: Vec::new(),
    };
    let len = r.lines.len();
    let script_key = r.lines.key("script", 0, len);
    let fail_at = |r: &Reader, index: Option<usize>, problem: String| ScriptError {
        origin: r.origin.to_string(),
        line: r.lines.number(index.unwrap_or(0)),
        problem,
    };
    if doc.metadata.name.trim().is_empty() {
        return Err(fail_at(
            &r,
            r.lines.key("name", 0, len),
            "metadata.name is empty: name the game day (runs are compared under it)".into(),
        ));
    }
    let end = match &doc.end {
        None => std::time::Duration::from_secs(DEFAULT_END_SECS),
        Some(e) => parse_duration(e)
            .map_err(|p| fail_at(&r, r.lines.key("end", 0, len), format!("end: {p}")))?,
    };
    if doc.script.is_empty() {
        return Err(fail_at(
            &r,
            script_key,
            "script is empty: a game day needs at least one step".into(),
        ));
    }
    let items = script_key
        .map(|k| r.lines.items(k, len))
        .unwrap_or_default();
    // Objects a `create` step adds count as known for every step, whatever its time.
    for raw in &doc.script {
        for s in std::iter::once(raw).chain(raw.then.iter().flatten()) {
            if let Some(obj) = &s.create {
                let obj = serde_json::to_value(obj).unwrap_or(Value::Null);
                let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
                let ns = obj
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or("default");
                let name = obj
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                r.created
                    .push((kind.to_ascii_lowercase(), ns.to_string(), name.to_string()));
            }
        }
    }
    let mut steps = Vec::new();
    for (i, raw) in doc.script.iter().enumerate() {
        let at = items.get(i).copied().or(script_key);
        let next = items.get(i + 1).copied().unwrap_or(len);
        steps.push(r.step(raw, at, next, end)?);
    }
    Ok(GameDay {
        name: doc.metadata.name,
        title: doc.title.unwrap_or_default(),
        end,
        steps,
    })
}

impl Reader<'_> {
    fn fail(&self, index: Option<usize>, problem: String) -> ScriptError {
        ScriptError {
            origin: self.origin.to_string(),
            line: self.lines.number(index.unwrap_or(0)),
            problem,
        }
    }

    fn step(
        &self,
        raw: &RawStep,
        at: Option<usize>,
        next: usize,
        end: std::time::Duration,
    ) -> Result<Step, ScriptError> {
        let from = at.unwrap_or(0);
        let line_of = |key: &str| self.lines.key(key, from, next).or(at);
        let trigger = match (&raw.at, &raw.when) {
            (Some(_), Some(_)) => {
                return Err(self.fail(
                    line_of("when"),
                    "a step has `at` (a time) or `when` (something done), not both".into(),
                ));
            }
            (None, None) => {
                return Err(self.fail(
                    at,
                    "a step needs `at` (e.g. `at: 5m`) or `when` (e.g. `when: delete pod payments/api-7f9c`)".into(),
                ));
            }
            (Some(t), None) => {
                let d =
                    parse_duration(t).map_err(|p| self.fail(line_of("at"), format!("at: {p}")))?;
                if d > end {
                    return Err(self.fail(
                        line_of("at"),
                        format!(
                            "at: {t} is after the game day's end ({}s): it would never run",
                            end.as_secs()
                        ),
                    ));
                }
                Trigger::At(d)
            }
            (None, Some(c)) => Trigger::When(
                self.condition(c)
                    .map_err(|p| self.fail(line_of("when"), format!("when: {p}")))?,
            ),
        };
        let unless = match &raw.unless {
            None => None,
            Some(c) => Some(
                self.condition(c)
                    .map_err(|p| self.fail(line_of("unless"), format!("unless: {p}")))?,
            ),
        };
        let mut actions = self.inline_actions(raw, at)?;
        if let Some(then) = &raw.then {
            if !actions.iter().all(|a| matches!(a, Action::Say(_))) {
                return Err(self.fail(
                    line_of("then"),
                    "a step has its actions inline or in `then`, not both".into(),
                ));
            }
            let key = self.lines.key("then", from, next);
            let inner = key.map(|k| self.lines.items(k, next)).unwrap_or_default();
            for (j, sub) in then.iter().enumerate() {
                let line = inner.get(j).copied().or(key).or(at);
                if sub.at.is_some() || sub.when.is_some() || sub.unless.is_some() {
                    return Err(self.fail(
                        line,
                        "an action in `then` runs with its step: it cannot have `at`, `when` or `unless` of its own (make it a step)".into(),
                    ));
                }
                if sub.then.is_some() {
                    return Err(self.fail(line, "`then` cannot be nested".into()));
                }
                let found = self.inline_actions(sub, line)?;
                if found.is_empty() {
                    return Err(self.fail(line, empty_action()));
                }
                actions.extend(found);
            }
        }
        if actions.is_empty() {
            return Err(self.fail(at, empty_action()));
        }
        Ok(Step {
            line: self.lines.number(at.unwrap_or(0)),
            trigger,
            unless,
            actions,
        })
    }

    fn inline_actions(&self, raw: &RawStep, at: Option<usize>) -> Result<Vec<Action>, ScriptError> {
        let mut actions = Vec::new();
        if let Some(s) = &raw.say {
            actions.push(Action::Say(s.clone()));
        }
        let mut doing = Vec::new();
        if let Some(a) = &raw.alert {
            doing.push(
                self.alert(a)
                    .map_err(|p| self.fail(at, format!("alert: {p}")))?,
            );
        }
        if let Some(obj) = &raw.create {
            let obj =
                serde_json::to_value(obj).map_err(|e| self.fail(at, format!("create: {e}")))?;
            if obj.get("kind").and_then(Value::as_str).is_none()
                || obj
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .is_none()
            {
                return Err(self.fail(
                    at,
                    "create: the object needs apiVersion, kind and metadata.name, as in a manifest"
                        .into(),
                ));
            }
            doing.push(Action::Create(obj));
        }
        if let Some(p) = &raw.process {
            let (namespace, pod) = self
                .object("pod", &p.pod)
                .map_err(|e| self.fail(at, format!("process: {e}")))?;
            doing.push(Action::Process {
                namespace,
                pod,
                container: p.container.clone().unwrap_or_default(),
                command: p.command.clone(),
                rule: p
                    .rule
                    .clone()
                    .unwrap_or_else(|| "Unexpected process in container".into()),
                priority: p.priority.clone().unwrap_or_else(|| "Critical".into()),
            });
        }
        if let Some(c) = &raw.compromise {
            let (_, node) = self
                .object("node", &c.node)
                .map_err(|e| self.fail(at, format!("compromise: {e}")))?;
            doing.push(Action::Compromise {
                node,
                finding: c
                    .finding
                    .clone()
                    .unwrap_or_else(|| "CryptoCurrency:EC2/BitcoinTool.B!DNS".into()),
            });
        }
        if let Some(t) = &raw.token {
            let (namespace, service_account) = self
                .object("serviceaccount", &t.serviceaccount)
                .map_err(|e| self.fail(at, format!("token: {e}")))?;
            if t.from.parse::<std::net::IpAddr>().is_err() {
                return Err(self.fail(at, format!("token: from `{}` is not an IP address", t.from)));
            }
            doing.push(Action::Token {
                namespace,
                service_account,
                from: t.from.clone(),
            });
        }
        if let Some(l) = &raw.lateral {
            for (field, target) in [("from", &l.from), ("to", &l.to)] {
                self.object("pod", target)
                    .map_err(|e| self.fail(at, format!("lateral: {field}: {e}")))?;
            }
            doing.push(Action::Lateral {
                from: l.from.clone(),
                to: l.to.clone(),
            });
        }
        if let Some(text) = &raw.lost {
            doing.push(Action::Lost(text.clone()));
        }
        if doing.len() > 1 {
            return Err(self.fail(
                at,
                "a step or `then` item does one thing (with an optional `say`): split it, or list the actions under `then`".into(),
            ));
        }
        actions.extend(doing);
        Ok(actions)
    }

    fn alert(&self, a: &RawAlert) -> Result<Action, String> {
        let format = match a.format.as_str() {
            "alertmanager" => AlertFormat::Alertmanager,
            "falco" => AlertFormat::Falco,
            "events-v2" | "events_v2" => AlertFormat::EventsV2,
            "guardduty" => AlertFormat::GuardDuty,
            other => {
                return Err(format!(
                    "format `{other}` is not an intake: use alertmanager, falco, events-v2 or guardduty"
                ));
            }
        };
        let payload = match (&a.payload, &a.file) {
            (Some(_), Some(_)) => return Err("give `payload` or `file`, not both".into()),
            (None, None) => {
                return Err("give the alert as `payload` (inline) or `file` (a JSON file beside the scenario)".into());
            }
            (Some(p), None) => serde_json::to_value(p).map_err(|e| e.to_string())?,
            (None, Some(f)) => {
                let Some(base) = self.base else {
                    return Err(format!(
                        "file {f}: this scenario was not read from a file, so a payload file has no folder to be read from"
                    ));
                };
                let path = base.join(f);
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                serde_json::from_str(&text)
                    .map_err(|e| format!("{} is not JSON: {e}", path.display()))?
            }
        };
        if !payload.is_object() {
            return Err("the payload must be a JSON object, as its sender posts it".into());
        }
        Ok(Action::Alert { format, payload })
    }

    /// `namespace/name` (or a node's `name`) of an object the scenario has or the script creates.
    fn object(&self, kind: &str, target: &str) -> Result<(String, String), String> {
        let (namespace, name) = if kind == "node" {
            (String::new(), target.to_string())
        } else {
            let (ns, name) = target.split_once('/').ok_or_else(|| {
                format!(
                    "`{target}` needs its namespace: write NAMESPACE/NAME, e.g. payments/{target}"
                )
            })?;
            (ns.to_string(), name.to_string())
        };
        let created = self
            .created
            .iter()
            .any(|(k, ns, n)| k == kind && *n == name && (kind == "node" || *ns == namespace));
        if !created && !self.known.has(kind, &namespace, &name) {
            return Err(format!(
                "{kind} {target} is not in the scenario (nor created by the script)"
            ));
        }
        Ok((namespace, name))
    }

    fn condition(&self, text: &str) -> Result<Condition, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        match words.as_slice() {
            ["acknowledge"] | ["ack"] => Ok(Condition::Acknowledged),
            ["resolve"] => Ok(Condition::Resolved),
            [action, kind, target] => {
                if !ACTIONS.contains(action) {
                    return Err(format!(
                        "`{action}` is not an action: use one of {}, or `acknowledge` / `resolve`",
                        ACTIONS.join(", ")
                    ));
                }
                let kind = kind.to_ascii_lowercase();
                if !KINDS.contains(&kind.as_str()) {
                    return Err(format!(
                        "`{kind}` is not a kind: use one of {}",
                        KINDS.join(", ")
                    ));
                }
                let (namespace, name) = if kind == "pod" || kind == "node" {
                    self.object(&kind, target)?
                } else {
                    let (ns, n) = target.split_once('/').ok_or_else(|| {
                        format!("`{target}` needs its namespace: write NAMESPACE/NAME")
                    })?;
                    (ns.to_string(), n.to_string())
                };
                Ok(Condition::Done {
                    action: (*action).to_string(),
                    kind,
                    namespace,
                    name,
                })
            }
            _ => Err(format!(
                "`{text}` is not a condition: write ACTION KIND NAMESPACE/NAME (e.g. `quarantine pod payments/api-7f9c`, `cordon node ip-10-0-1-23.ec2.internal`), `acknowledge` or `resolve`"
            )),
        }
    }
}

fn empty_action() -> String {
    "this step does nothing: give it one of say, alert, create, process, compromise, token, lateral, lost — or a `then` list".into()
}
