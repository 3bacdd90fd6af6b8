//! The one command grammar every platform shares.
//!
//! Every error names what is wrong and carries the command's usage, so a chat reply can show
//! both. Nothing here panics on any input (see the property tests).

use std::collections::BTreeMap;

use warroom_config::{ActionName, Severity};

use super::ast::{AckScope, ActionRequest, Command, IncidentRole, ObjectKind, Target};
use super::lex::{Word, free_text, words};
use super::manual::manual_of;
use super::suggest::did_you_mean;
use super::usage::{USAGES, help_text, usage_of, usages_for};

/// Why a command line was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}\nusage: {usage}")]
pub struct ParseError {
    pub message: String,
    pub usage: String,
}

impl ParseError {
    fn new(message: impl Into<String>, verb: &str) -> Self {
        let usage = usage_of(verb)
            .map(str::to_owned)
            .or_else(|| {
                let all = usages_for(verb);
                (!all.is_empty()).then(|| all.join("\n       "))
            })
            .unwrap_or_else(|| "help [COMMAND]".to_owned());
        ParseError {
            message: message.into(),
            usage,
        }
    }
}

/// Longest free text accepted in one command; longer content belongs in evidence.
pub const MAX_COMMAND_CHARS: usize = 4000;

/// Parse one command line, with or without a leading `/`.
pub fn parse(line: &str) -> Result<Command, ParseError> {
    if line.chars().count() > MAX_COMMAND_CHARS {
        return Err(ParseError::new(
            format!(
                "the command is {} characters long; the limit is {MAX_COMMAND_CHARS} — put long output in evidence",
                line.chars().count()
            ),
            "help",
        ));
    }
    let line = line.trim();
    // An unclosed quote still shows the usage of the command being typed.
    let all = words(line).map_err(|e| {
        let typed = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .trim_start_matches('/')
            .to_ascii_lowercase();
        let verb = if usages_for(&typed).is_empty() {
            "help"
        } else {
            typed.as_str()
        };
        ParseError::new(e.to_string(), verb)
    })?;
    let Some(first) = all.first() else {
        return Err(ParseError::new("empty command; try `help`", "help"));
    };
    let verb = first.text.trim_start_matches('/').to_ascii_lowercase();
    let rest = &all[1..];
    let raw_after = |n: usize| -> &str { all.get(n).map_or("", |w| &line[w.start..]) };
    match verb.as_str() {
        "incident" => parse_incident(rest, raw_after(2)),
        "role" => parse_role(rest),
        "note" => free("note", raw_after(1)).map(Command::Note),
        "status-update" => free("status-update", raw_after(1)).map(Command::StatusUpdate),
        "timeline" => no_args("timeline", rest).map(|()| Command::Timeline),
        "page" => {
            let target = rest.first().ok_or_else(|| {
                ParseError::new(
                    "page whom? name a person, team or escalation policy",
                    "page",
                )
            })?;
            let text = free_text(raw_after(2));
            Ok(Command::Page {
                target: target.text.trim_start_matches('@').to_owned(),
                text: (!text.is_empty()).then_some(text),
            })
        }
        "ack" => match rest {
            [] => Ok(Command::Ack(AckScope::Mine)),
            [one] if one.text.eq_ignore_ascii_case("all") => Ok(Command::Ack(AckScope::All)),
            [one] => one
                .text
                .parse()
                .map(|id| Command::Ack(AckScope::Incident(id)))
                .map_err(|_| {
                    ParseError::new(
                        format!(
                            "`ack` takes nothing, `all`, or an incident id like INC-20261127-0001; got `{}`",
                            one.text
                        ),
                        "ack",
                    )
                }),
            [_, extra, ..] => Err(ParseError::new(
                format!("`ack` takes one word at most, got `{}` too", extra.text),
                "ack",
            )),
        },
        "approve" => one_request("approve", rest).map(|request| Command::Approve { request }),
        "cancel" => one_request("cancel", rest).map(|request| Command::Cancel { request }),
        "deny" => {
            let request = rest
                .first()
                .map(|w| request_id(&w.text, "deny"))
                .transpose()?
                .ok_or_else(|| {
                    ParseError::new("deny which request? give its id, e.g. R3", "deny")
                })?;
            let reason = free_text(raw_after(2));
            Ok(Command::Deny {
                request,
                reason: (!reason.is_empty()).then_some(reason),
            })
        }
        "break-glass" | "breakglass" => {
            let flags = Flags::split(rest, "break-glass", &["reason"], &[])?;
            let request = match flags.positional.as_slice() {
                [one] => request_id(one, "break-glass")?,
                [] => {
                    return Err(ParseError::new(
                        "break-glass which request? give its id, e.g. R3",
                        "break-glass",
                    ));
                }
                more => {
                    return Err(ParseError::new(
                        format!(
                            "expected one request id, got {}: {}",
                            more.len(),
                            more.join(" ")
                        ),
                        "break-glass",
                    ));
                }
            };
            let reason = flags.value("reason").ok_or_else(|| {
                ParseError::new(
                    "break-glass needs --reason TEXT: it is announced and reviewed",
                    "break-glass",
                )
            })?;
            Ok(Command::BreakGlass { request, reason })
        }
        "evidence" => match rest {
            [] => Ok(Command::Evidence { id: None }),
            [one] => Ok(Command::Evidence {
                id: Some(one.text.clone()),
            }),
            _ => Err(ParseError::new(
                "evidence takes at most one evidence id",
                "evidence",
            )),
        },
        "help" | "warroom" => {
            let topic = rest
                .iter()
                .map(|w| w.text.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            let topic = topic.trim().trim_start_matches('/').to_ascii_lowercase();
            Ok(Command::Help {
                topic: (!topic.is_empty() && topic != "help").then_some(topic),
            })
        }
        other => match other.parse::<ActionName>() {
            Ok(action) => parse_action(action, rest).map(Command::Action),
            Err(_) => Err(ParseError::new(
                format!(
                    "unknown command `{}`{}; `help` lists them all",
                    first.text,
                    did_you_mean(&verb, verbs())
                ),
                "help",
            )),
        },
    }
}

/// Every command's first word (`incident`, `quarantine`, …).
fn verbs() -> impl Iterator<Item = &'static str> {
    USAGES.iter().filter_map(|(v, ..)| v.split(' ').next())
}

/// The text `help [TOPIC]` answers with.
pub fn help_for(topic: Option<&str>) -> Result<String, ParseError> {
    match topic {
        None => Ok(help_text()),
        Some(t) => {
            let found: Vec<&str> = USAGES
                .iter()
                .filter(|(v, ..)| *v == t || v.split(' ').next() == Some(t))
                .map(|(v, ..)| *v)
                .collect();
            if found.is_empty() {
                return Err(ParseError::new(
                    format!(
                        "no command `{t}`{}; `help` lists them all",
                        did_you_mean(t, verbs())
                    ),
                    "help",
                ));
            }
            Ok(found
                .iter()
                .map(|verb| {
                    let usage = usage_of(verb).unwrap_or_default();
                    match manual_of(verb) {
                        Some((what, never, example)) => {
                            format!("usage: {usage}\n{what}\nNever: {never}\nExample: {example}")
                        }
                        None => format!("usage: {usage}"),
                    }
                })
                .collect::<Vec<_>>()
                .join("\n\n"))
        }
    }
}

fn no_args(verb: &str, rest: &[Word]) -> Result<(), ParseError> {
    match rest.first() {
        None => Ok(()),
        Some(w) => Err(ParseError::new(
            format!("`{verb}` takes no arguments, got `{}`", w.text),
            verb,
        )),
    }
}

fn free(verb: &str, raw: &str) -> Result<String, ParseError> {
    let text = free_text(raw);
    if text.is_empty() {
        Err(ParseError::new(format!("`{verb}` needs text"), verb))
    } else {
        Ok(text)
    }
}

fn one_request(verb: &str, rest: &[Word]) -> Result<String, ParseError> {
    match rest {
        [one] => request_id(&one.text, verb),
        [] => Err(ParseError::new(
            format!("{verb} which request? give its id, e.g. R3"),
            verb,
        )),
        [_, extra, ..] => Err(ParseError::new(
            format!("unexpected `{}` after the request id", extra.text),
            verb,
        )),
    }
}

/// `R3`, `r3` or `INC-20261127-0001-R3`; normalised to upper case.
fn request_id(text: &str, verb: &str) -> Result<String, ParseError> {
    let upper = text.trim().to_ascii_uppercase();
    let short = upper.rsplit('-').next().unwrap_or("");
    let valid_short = short.len() > 1
        && short.len() <= 10
        && short.starts_with('R')
        && short[1..].bytes().all(|b| b.is_ascii_digit());
    let valid_prefix = upper == short
        || upper
            .strip_suffix(short)
            .and_then(|p| p.strip_suffix('-'))
            .is_some_and(|inc| inc.parse::<crate::IncidentId>().is_ok());
    if valid_short && valid_prefix {
        // `INC-20261127-00001-R3` names the same incident as `INC-20261127-0001-R3`.
        Ok(
            match upper.strip_suffix(short).and_then(|p| p.strip_suffix('-')) {
                Some(inc) if !inc.is_empty() => match inc.parse::<crate::IncidentId>() {
                    Ok(id) => format!("{id}-{short}"),
                    Err(_) => upper,
                },
                _ => upper,
            },
        )
    } else {
        Err(ParseError::new(
            format!(
                "`{text}` is not a request id: expected R<number> (e.g. R3) or INC-YYYYMMDD-NNNN-R3"
            ),
            verb,
        ))
    }
}

fn parse_incident(rest: &[Word], raw_after_sub: &str) -> Result<Command, ParseError> {
    let Some(sub) = rest.first() else {
        return Err(ParseError::new(
            "incident what? open, status, severity or resolve",
            "incident",
        ));
    };
    let args = &rest[1..];
    match sub.text.to_ascii_lowercase().as_str() {
        "open" | "new" | "declare" => {
            let flags = Flags::split(args, "incident open", &["severity"], &[])?;
            let title = flags.positional.join(" ");
            if title.trim().is_empty() {
                return Err(ParseError::new(
                    "incident open needs a title",
                    "incident open",
                ));
            }
            if title.chars().count() > 200 {
                return Err(ParseError::new(
                    format!(
                        "the title is {} characters; keep it under 200 (add detail with `note`)",
                        title.chars().count()
                    ),
                    "incident open",
                ));
            }
            let severity = match flags.value("severity") {
                None => Severity::Sev3,
                Some(s) => severity(&s, "incident open")?,
            };
            Ok(Command::IncidentOpen { title, severity })
        }
        "status" => no_args("incident status", args).map(|()| Command::IncidentStatus),
        "severity" | "sev" => match args {
            [one] => severity(&one.text, "incident severity").map(Command::IncidentSeverity),
            [] => Err(ParseError::new("which severity?", "incident severity")),
            _ => Err(ParseError::new(
                "give exactly one severity",
                "incident severity",
            )),
        },
        "resolve" | "close" => {
            let raw = raw_after_sub.trim_start();
            let (confirm, raw) = match raw.strip_prefix("--confirm") {
                Some(after) if after.is_empty() || after.starts_with(char::is_whitespace) => {
                    (true, after)
                }
                _ => (false, raw),
            };
            let summary = free_text(raw);
            Ok(Command::IncidentResolve {
                summary: (!summary.is_empty()).then_some(summary),
                confirm,
            })
        }
        other => Err(ParseError::new(
            format!(
                "unknown incident command `{other}`{}; expected open, status, severity or resolve",
                did_you_mean(other, ["open", "status", "severity", "resolve"])
            ),
            "incident",
        )),
    }
}

fn severity(text: &str, verb: &str) -> Result<Severity, ParseError> {
    text.parse::<Severity>()
        .map_err(|e| ParseError::new(e.to_string(), verb))
}

fn parse_role(rest: &[Word]) -> Result<Command, ParseError> {
    let (role, person) = match rest {
        [role, person] => (role, person),
        [] | [_] => return Err(ParseError::new("role needs a role and a person", "role")),
        [_, _, extra, ..] => {
            return Err(ParseError::new(
                format!("unexpected `{}`", extra.text),
                "role",
            ));
        }
    };
    let role = match role.text.to_ascii_lowercase().as_str() {
        "commander" | "ic" => IncidentRole::Commander,
        "scribe" => IncidentRole::Scribe,
        "comms" => IncidentRole::Comms,
        other => {
            return Err(ParseError::new(
                format!("unknown role `{other}`; expected commander, scribe or comms"),
                "role",
            ));
        }
    };
    let person = person.text.trim_start_matches('@').to_owned();
    if person.is_empty() {
        return Err(ParseError::new("name the person, e.g. @carol", "role"));
    }
    Ok(Command::Role { role, person })
}

/// Flags and positional words of one command.
struct Flags {
    positional: Vec<String>,
    values: BTreeMap<String, String>,
    switches: Vec<String>,
}

impl Flags {
    /// `valued`: flags that take a value (`--reason TEXT` or `--reason=TEXT`); `switches`:
    /// flags that stand alone. Any other `--flag` is an error naming the ones allowed.
    fn split(
        words: &[Word],
        verb: &str,
        valued: &[&str],
        switches: &[&str],
    ) -> Result<Flags, ParseError> {
        let mut flags = Flags {
            positional: Vec::new(),
            values: BTreeMap::new(),
            switches: Vec::new(),
        };
        let mut i = 0;
        while i < words.len() {
            let text = &words[i].text;
            let quoted = words[i].quoted;
            i += 1;
            let Some(flag) = text.strip_prefix("--").filter(|_| !quoted) else {
                flags.positional.push(text.clone());
                continue;
            };
            let (name, inline) = match flag.split_once('=') {
                Some((n, v)) => (n.to_ascii_lowercase(), Some(v.to_owned())),
                None => (flag.to_ascii_lowercase(), None),
            };
            if switches.contains(&name.as_str()) {
                if inline.is_some() {
                    return Err(ParseError::new(format!("--{name} takes no value"), verb));
                }
                flags.switches.push(name);
            } else if valued.contains(&name.as_str()) {
                let value = match inline {
                    Some(v) => v,
                    None => {
                        let v = words
                            .get(i)
                            .filter(|w| w.quoted || !w.text.starts_with("--"))
                            .map(|w| w.text.clone());
                        i += 1;
                        v.ok_or_else(|| ParseError::new(format!("--{name} needs a value"), verb))?
                    }
                };
                if value.trim().is_empty() {
                    return Err(ParseError::new(format!("--{name} needs a value"), verb));
                }
                if flags.values.insert(name.clone(), value).is_some() {
                    return Err(ParseError::new(format!("--{name} given twice"), verb));
                }
            } else {
                let mut allowed: Vec<String> = valued
                    .iter()
                    .chain(switches)
                    .map(|f| format!("--{f}"))
                    .collect();
                allowed.sort();
                let allowed = if allowed.is_empty() {
                    "none".to_owned()
                } else {
                    allowed.join(", ")
                };
                let typed = text.trim_start_matches('-');
                let names = valued.iter().chain(switches).copied();
                let hint = super::suggest::closest(typed, names)
                    .map(|c| format!(" — did you mean `--{c}`?"))
                    .unwrap_or_default();
                return Err(ParseError::new(
                    format!("unknown option `{text}`{hint}; allowed here: {allowed}"),
                    verb,
                ));
            }
        }
        Ok(flags)
    }

    fn value(&self, name: &str) -> Option<String> {
        self.values.get(name).cloned()
    }

    fn switch(&self, name: &str) -> bool {
        self.switches.iter().any(|s| s == name)
    }
}

/// The kinds each action accepts; the first is implied when the user leaves it out.
fn kinds_for(action: ActionName) -> &'static [ObjectKind] {
    use ObjectKind::*;
    match action {
        ActionName::Capture
        | ActionName::Checkpoint
        | ActionName::Quarantine
        | ActionName::Release => &[Pod],
        ActionName::Label | ActionName::Revoke | ActionName::Unrevoke => &[Pod, Node],
        ActionName::Cordon
        | ActionName::Uncordon
        | ActionName::Drain
        | ActionName::Protect
        | ActionName::Unprotect
        | ActionName::Snapshot => &[Node],
        ActionName::Scale => &[Deployment, StatefulSet, ReplicaSet],
        ActionName::Restart => &[Deployment, StatefulSet, DaemonSet],
        ActionName::Delete => &[Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet],
    }
}

fn parse_action(action: ActionName, rest: &[Word]) -> Result<ActionRequest, ParseError> {
    let verb = action.as_str();
    let (valued, switches): (&[&str], &[&str]) = match action {
        ActionName::Checkpoint => (&["reason", "cluster", "override", "container"], &[]),
        ActionName::Quarantine => (&["reason", "cluster", "override"], &["detach"]),
        ActionName::Scale => (&["reason", "cluster", "override", "replicas"], &[]),
        ActionName::Snapshot => (&["reason", "cluster", "override"], &["lock"]),
        _ => (&["reason", "cluster", "override"], &[]),
    };
    let flags = Flags::split(rest, verb, valued, switches)?;
    let mut pos: Vec<&str> = flags.positional.iter().map(String::as_str).collect();
    // `revoke creds pod …`: the word `creds` is part of the command's name.
    if matches!(action, ActionName::Revoke | ActionName::Unrevoke) {
        match pos.first() {
            Some(w) if matches!(w.to_ascii_lowercase().as_str(), "creds" | "credentials") => {
                pos.remove(0);
            }
            _ => {
                return Err(ParseError::new(
                    format!("expected `creds` after {verb}"),
                    verb,
                ));
            }
        }
    }
    let allowed = kinds_for(action);
    let kind = match pos.first().and_then(|w| ObjectKind::parse(w)) {
        Some(k) => {
            pos.remove(0);
            if !allowed.contains(&k) {
                let names: Vec<_> = allowed
                    .iter()
                    .map(|k| k.as_str().to_ascii_lowercase())
                    .collect();
                return Err(ParseError::new(
                    format!(
                        "{verb} works on {}, not {}",
                        names.join(" or "),
                        k.as_str().to_ascii_lowercase()
                    ),
                    verb,
                ));
            }
            k
        }
        None if allowed.len() == 1 => allowed[0],
        None => {
            let names: Vec<_> = allowed
                .iter()
                .map(|k| k.as_str().to_ascii_lowercase())
                .collect();
            let got = pos
                .first()
                .map_or("nothing".to_owned(), |w| format!("`{w}`"));
            return Err(ParseError::new(
                format!(
                    "{verb} needs the kind of object first ({}), got {got}",
                    names.join(", ")
                ),
                verb,
            ));
        }
    };
    let Some(path) = (!pos.is_empty()).then(|| pos.remove(0)) else {
        let what = if kind.is_namespaced() {
            "NAMESPACE/NAME"
        } else {
            "the node name"
        };
        return Err(ParseError::new(
            format!("{verb} {} needs {what}", kind.as_str().to_ascii_lowercase()),
            verb,
        ));
    };
    let target = target(kind, path, verb)?;
    let mut params = BTreeMap::new();
    if action == ActionName::Label {
        let Some(pair) = (!pos.is_empty()).then(|| pos.remove(0)) else {
            return Err(ParseError::new("label needs KEY=VALUE", verb));
        };
        let (key, value) = label(pair, verb)?;
        params.insert("key".to_owned(), key);
        params.insert("value".to_owned(), value);
    }
    if let Some(extra) = pos.first() {
        return Err(ParseError::new(
            format!(
                "unexpected `{extra}`; quote text with spaces, e.g. --reason \"shell spawned\""
            ),
            verb,
        ));
    }
    if action == ActionName::Scale {
        let replicas = flags
            .value("replicas")
            .ok_or_else(|| ParseError::new("scale needs --replicas N", verb))?;
        let n: u32 = replicas
            .parse()
            .ok()
            .filter(|n| *n <= 10_000)
            .ok_or_else(|| {
                ParseError::new(
                    format!("--replicas must be a whole number from 0 to 10000, got `{replicas}`"),
                    verb,
                )
            })?;
        params.insert("replicas".to_owned(), n.to_string());
    }
    if let Some(container) = flags.value("container") {
        dns_label(&container, "container name", verb)?;
        params.insert("container".to_owned(), container);
    }
    for switch in ["detach", "lock"] {
        if flags.switch(switch) {
            params.insert(switch.to_owned(), "true".to_owned());
        }
    }
    if let Some(cluster) = flags.value("cluster") {
        dns_label(&cluster, "cluster name", verb)?;
    }
    Ok(ActionRequest {
        action,
        target,
        params,
        reason: flags.value("reason"),
        override_reason: flags.value("override"),
        cluster: flags.value("cluster"),
    })
}

fn target(kind: ObjectKind, path: &str, verb: &str) -> Result<Target, ParseError> {
    if kind.is_namespaced() {
        let Some((ns, name)) = path.split_once('/') else {
            return Err(ParseError::new(
                format!("`{path}` needs its namespace: write NAMESPACE/NAME, e.g. payments/{path}"),
                verb,
            ));
        };
        dns_label(ns, "namespace", verb)?;
        dns_subdomain(
            name,
            &format!("{} name", kind.as_str().to_ascii_lowercase()),
            verb,
        )?;
        Ok(Target {
            kind,
            namespace: ns.to_owned(),
            name: name.to_owned(),
        })
    } else {
        if path.contains('/') {
            return Err(ParseError::new(
                format!("nodes have no namespace: write the node name alone, not `{path}`"),
                verb,
            ));
        }
        dns_subdomain(path, "node name", verb)?;
        Ok(Target::node(path))
    }
}

/// RFC 1123 label, as Kubernetes requires of namespaces: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, ≤ 63.
fn dns_label(text: &str, what: &str, verb: &str) -> Result<(), ParseError> {
    let ok = !text.is_empty()
        && text.len() <= 63
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(ParseError::new(
            format!(
                "`{text}` is not a valid {what}: use lower-case letters, digits and '-', at most 63, starting and ending with a letter or digit"
            ),
            verb,
        ))
    }
}

/// RFC 1123 subdomain, as Kubernetes requires of most object names, ≤ 253.
fn dns_subdomain(text: &str, what: &str, verb: &str) -> Result<(), ParseError> {
    let ok = !text.is_empty()
        && text.len() <= 253
        && text.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        });
    if ok {
        Ok(())
    } else {
        Err(ParseError::new(
            format!(
                "`{text}` is not a valid {what}: use lower-case letters, digits, '-' and '.', at most 253"
            ),
            verb,
        ))
    }
}

/// `KEY=VALUE` with Kubernetes label syntax: optional `prefix/`, name ≤ 63, value ≤ 63.
/// Label keys that carry warroom's own isolation state: only `quarantine`/`release` and the
/// investigation label set them, so a `label` request naming one is refused before anyone is
/// asked to approve it.
pub const RESERVED_LABELS: [&str; 2] = ["warroom.io/quarantine", "warroom.io/investigation"];

fn label(pair: &str, verb: &str) -> Result<(String, String), ParseError> {
    let Some((key, value)) = pair.split_once('=') else {
        return Err(ParseError::new(format!("`{pair}` is not KEY=VALUE"), verb));
    };
    if RESERVED_LABELS.contains(&key) {
        return Err(ParseError::new(
            format!(
                "label {key} is reserved for warroom's quarantine and investigation; use `quarantine pod` or `release pod` instead"
            ),
            verb,
        ));
    }
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix {
        dns_subdomain(p, "label key prefix", verb)?;
    }
    let part_ok = |s: &str, allow_empty: bool| {
        (allow_empty && s.is_empty())
            || (s.len() <= 63
                && !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
                && s.as_bytes()[0].is_ascii_alphanumeric()
                && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric())
    };
    if !part_ok(name, false) {
        return Err(ParseError::new(
            format!(
                "`{key}` is not a valid label key: letters, digits, '-', '_', '.', at most 63, optionally prefixed with a DNS name and '/'"
            ),
            verb,
        ));
    }
    if !part_ok(value, true) {
        return Err(ParseError::new(
            format!(
                "`{value}` is not a valid label value: letters, digits, '-', '_', '.', at most 63, starting and ending with a letter or digit"
            ),
            verb,
        ));
    }
    Ok((key.to_owned(), value.to_owned()))
}
