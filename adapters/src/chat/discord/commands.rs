//! warroom's grammar as Discord application commands: one slash command per verb, object
//! kinds as subcommands, typed options (`/quarantine pod target:payments/api-7f9c
//! reason:…`), and the message command "Add to timeline". The same table builds the
//! definitions `warroom discord register` sends and turns a received interaction back into
//! the command text the engine parses.

use serde_json::{Value, json};

/// How an option's value goes into the command text.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// As a word, in order (`NS/POD`, `R1`).
    Word,
    /// In double quotes (`"TITLE"`).
    Quoted,
    /// `--name value`.
    Flag,
    /// `--name` when true.
    Switch,
    /// Free text at the end (`note TEXT`).
    Rest,
}

/// What autocomplete offers for an option.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Complete {
    Pods,
    Nodes,
    Requests,
}

#[derive(Clone, Copy)]
pub struct Opt {
    pub name: &'static str,
    pub description: &'static str,
    pub place: Place,
    pub required: bool,
    pub choices: &'static [&'static str],
    pub complete: Option<Complete>,
}

const fn opt(name: &'static str, description: &'static str, place: Place, required: bool) -> Opt {
    Opt {
        name,
        description,
        place,
        required,
        choices: &[],
        complete: None,
    }
}

const fn choice(
    name: &'static str,
    description: &'static str,
    choices: &'static [&'static str],
) -> Opt {
    Opt {
        name,
        description,
        place: Place::Word,
        required: true,
        choices,
        complete: None,
    }
}

const fn target(complete: Complete, description: &'static str) -> Opt {
    Opt {
        name: "target",
        description,
        place: Place::Word,
        required: true,
        choices: &[],
        complete: Some(complete),
    }
}

const fn request() -> Opt {
    Opt {
        name: "request",
        description: "the request id, e.g. R1",
        place: Place::Word,
        required: true,
        choices: &[],
        complete: Some(Complete::Requests),
    }
}

const REASON: Opt = opt(
    "reason",
    "why (recorded, shown to approvers)",
    Place::Flag,
    false,
);
const CLUSTER: Opt = opt("cluster", "which cluster of the plan", Place::Flag, false);
const OVERRIDE: Opt = opt(
    "override",
    "why the evidence guardrail does not apply",
    Place::Flag,
    false,
);
const SEVERITIES: &[&str] = &["sev1", "sev2", "sev3", "sev4"];
const KINDS: &[&str] = &["deployment", "statefulset", "daemonset", "replicaset"];

/// A subcommand (or the command itself when `name` is empty).
pub struct Sub {
    pub name: &'static str,
    pub description: &'static str,
    pub options: &'static [Opt],
}

pub struct Spec {
    /// The slash command's name.
    pub name: &'static str,
    /// The words the command text starts with (`revoke creds`).
    pub words: &'static str,
    pub description: &'static str,
    /// Empty: the command takes `options` directly.
    pub subs: &'static [Sub],
    pub options: &'static [Opt],
}

const POD_ACTION: &[Opt] = &[target(Complete::Pods, "NS/POD"), REASON, CLUSTER, OVERRIDE];
const NODE_ACTION: &[Opt] = &[
    target(Complete::Nodes, "the node"),
    REASON,
    CLUSTER,
    OVERRIDE,
];
/// `revoke creds` and `unrevoke creds`: a pod's or a node's role.
const CREDS: &[Sub] = &[
    Sub {
        name: "pod",
        description: "a pod's service account tokens",
        options: POD_ACTION,
    },
    Sub {
        name: "node",
        description: "a node's instance credentials",
        options: NODE_ACTION,
    },
];
const WORKLOAD: &[Opt] = &[
    choice("kind", "the workload's kind", KINDS),
    opt("target", "NS/NAME", Place::Word, true),
    REASON,
    CLUSTER,
    OVERRIDE,
];

const fn simple(name: &'static str, description: &'static str, options: &'static [Opt]) -> Spec {
    Spec {
        name,
        words: name,
        description,
        subs: &[],
        options,
    }
}

/// A command whose one subcommand is `pod` (or `node`), with these options.
macro_rules! on {
    ($kind:literal, $name:literal, $description:literal, $options:expr $(,)?) => {
        Spec {
            name: $name,
            words: $name,
            description: $description,
            subs: &[Sub {
                name: $kind,
                description: $description,
                options: $options,
            }],
            options: &[],
        }
    };
}

/// Every slash command warroom registers.
pub const SPECS: &[Spec] = &[
    Spec {
        name: "incident",
        words: "incident",
        description: "open, inspect and resolve incidents",
        subs: &[
            Sub {
                name: "open",
                description: "open an incident and its channel",
                options: &[
                    opt("title", "what is happening", Place::Quoted, true),
                    Opt {
                        name: "severity",
                        description: "sev1 (worst) … sev4",
                        place: Place::Flag,
                        required: false,
                        choices: SEVERITIES,
                        complete: None,
                    },
                ],
            },
            Sub {
                name: "status",
                description: "the incident's state, roles and open requests",
                options: &[],
            },
            Sub {
                name: "severity",
                description: "change the incident's severity",
                options: &[choice("level", "the new severity", SEVERITIES)],
            },
            Sub {
                name: "resolve",
                description: "resolve the incident",
                options: &[opt("summary", "how it ended", Place::Rest, false)],
            },
        ],
        options: &[],
    },
    simple(
        "role",
        "give a person an incident role",
        &[
            choice("role", "the role", &["commander", "scribe", "comms"]),
            opt("person", "the person's id in the plan", Place::Word, true),
        ],
    ),
    simple(
        "note",
        "add a note to the timeline",
        &[opt("text", "the note", Place::Rest, true)],
    ),
    simple(
        "timeline",
        "the latest timeline entries and the chain head",
        &[],
    ),
    simple(
        "status-update",
        "post a status update for stakeholders",
        &[opt("text", "the update", Place::Rest, true)],
    ),
    simple(
        "page",
        "page a person, a team or an escalation policy",
        &[
            opt("target", "person, team or policy id", Place::Word, true),
            opt("text", "what they should know", Place::Rest, false),
        ],
    ),
    simple(
        "ack",
        "acknowledge your page (here, your only one, `all`, or an incident id)",
        &[opt("which", "`all` or INC-…", Place::Word, false)],
    ),
    simple("approve", "approve a request", &[request()]),
    simple(
        "deny",
        "deny a request",
        &[request(), opt("reason", "why", Place::Rest, false)],
    ),
    simple("cancel", "cancel your request", &[request()]),
    simple(
        "break-glass",
        "run a request alone, loudly, with a reason (reviewed by two people)",
        &[
            request(),
            opt("reason", "why this cannot wait", Place::Flag, true),
        ],
    ),
    on!(
        "pod",
        "capture",
        "read: capture spec, owners, images, events, logs",
        POD_ACTION
    ),
    on!(
        "pod",
        "checkpoint",
        "read: checkpoint a container through the kubelet",
        &[
            target(Complete::Pods, "NS/POD"),
            opt("container", "the container", Place::Flag, false),
            REASON,
            CLUSTER,
        ],
    ),
    on!(
        "pod",
        "quarantine",
        "contain: isolate the pod with a deny-all NetworkPolicy",
        &[
            target(Complete::Pods, "NS/POD"),
            REASON,
            opt(
                "detach",
                "also take it out of its Services and owner",
                Place::Switch,
                false
            ),
            CLUSTER,
            OVERRIDE,
        ],
    ),
    on!("pod", "release", "contain: undo a quarantine", POD_ACTION),
    on!(
        "node",
        "cordon",
        "contain: stop scheduling onto a node",
        NODE_ACTION
    ),
    on!(
        "node",
        "uncordon",
        "contain: allow scheduling again",
        NODE_ACTION
    ),
    on!(
        "node",
        "drain",
        "destructive: evict the node's pods",
        NODE_ACTION
    ),
    on!(
        "node",
        "protect",
        "contain: protect a node from termination and scale-in",
        NODE_ACTION
    ),
    on!(
        "node",
        "unprotect",
        "contain: undo a node's protection",
        NODE_ACTION
    ),
    on!(
        "node",
        "snapshot",
        "contain: EBS snapshots of a node's volumes",
        &[
            target(Complete::Nodes, "the node"),
            REASON,
            opt(
                "lock",
                "lock the snapshots as the plan's AWS account sets it",
                Place::Switch,
                false
            ),
            CLUSTER,
            OVERRIDE,
        ],
    ),
    Spec {
        name: "revoke-creds",
        words: "revoke creds",
        description: "contain: revoke the credentials a pod or node holds",
        subs: CREDS,
        options: &[],
    },
    Spec {
        name: "unrevoke-creds",
        words: "unrevoke creds",
        description: "contain: undo a revocation of a pod's or node's role",
        subs: CREDS,
        options: &[],
    },
    simple(
        "scale",
        "destructive: scale a workload",
        &[
            choice("kind", "the workload's kind", KINDS),
            opt("target", "NS/NAME", Place::Word, true),
            opt("replicas", "how many", Place::Flag, true),
            REASON,
            CLUSTER,
            OVERRIDE,
        ],
    ),
    simple("restart", "contain: restart a workload", WORKLOAD),
    simple("delete", "destructive: delete a workload", WORKLOAD),
    simple(
        "evidence",
        "evidence of this incident",
        &[opt("id", "one artifact", Place::Word, false)],
    ),
    simple(
        "help",
        "warroom's commands",
        &[opt("command", "one command", Place::Word, false)],
    ),
];

/// The message command that puts a message in the timeline (Slack's 📌).
pub const ADD_TO_TIMELINE: &str = "Add to timeline";

fn option_json(o: &Opt) -> Value {
    let mut v = json!({
        "type": if o.place == Place::Switch { 5 } else { 3 },
        "name": o.name,
        "description": o.description,
        "required": o.required,
    });
    if !o.choices.is_empty() {
        v["choices"] = o
            .choices
            .iter()
            .map(|c| json!({"name": c, "value": c}))
            .collect();
    }
    if o.complete.is_some() {
        v["autocomplete"] = json!(true);
    }
    v
}

/// Options must list required ones first (Discord refuses otherwise).
fn options_json(options: &[Opt]) -> Vec<Value> {
    let mut sorted: Vec<&Opt> = options.iter().collect();
    sorted.sort_by_key(|o| !o.required);
    sorted.into_iter().map(option_json).collect()
}

/// The definitions `PUT /applications/{app}/commands` (or a guild's) takes, in one list.
pub fn definitions() -> Vec<Value> {
    let mut all: Vec<Value> = SPECS
        .iter()
        .map(|s| {
            let options: Vec<Value> = if s.subs.is_empty() {
                options_json(s.options)
            } else {
                s.subs
                    .iter()
                    .map(|sub| {
                        json!({
                            "type": 1,
                            "name": sub.name,
                            "description": sub.description,
                            "options": options_json(sub.options),
                        })
                    })
                    .collect()
            };
            json!({ "type": 1, "name": s.name, "description": s.description, "options": options })
        })
        .collect();
    all.push(json!({ "type": 3, "name": ADD_TO_TIMELINE }));
    all
}

/// The options a received command names, with the spec's placement: (subcommand, options).
fn find(name: &str, sub: Option<&str>) -> Option<(&'static Spec, &'static [Opt])> {
    let spec = SPECS.iter().find(|s| s.name == name)?;
    match sub {
        Some(sub) => spec
            .subs
            .iter()
            .find(|s| s.name == sub)
            .map(|s| (spec, s.options)),
        None if spec.subs.is_empty() => Some((spec, spec.options)),
        None => None,
    }
}

/// A received chat-input command's `data` as warroom command text.
pub fn command_text(data: &Value) -> Result<String, String> {
    let name = data["name"].as_str().ok_or("the command has no name")?;
    let top = data["options"].as_array().cloned().unwrap_or_default();
    let (sub, given) = match top.first() {
        Some(o) if o["type"] == 1 || o["type"] == 2 => (
            o["name"].as_str(),
            o["options"].as_array().cloned().unwrap_or_default(),
        ),
        _ => (None, top),
    };
    let (spec, options) =
        find(name, sub).ok_or_else(|| format!("`/{name}` is not one of warroom's commands"))?;
    let mut words = vec![spec.words.to_owned()];
    if let Some(sub) = sub {
        words.push(sub.to_owned());
    }
    let value = |o: &Opt| -> Option<String> {
        given
            .iter()
            .find(|g| g["name"] == o.name)
            .and_then(|g| match &g["value"] {
                Value::String(s) => Some(s.clone()),
                Value::Bool(true) => Some("true".into()),
                Value::Bool(false) => None,
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
    };
    let mut rest = None;
    for o in options {
        let Some(v) = value(o) else {
            if o.required {
                return Err(format!("`/{name}` needs `{}`", o.name));
            }
            continue;
        };
        match o.place {
            Place::Word => words.push(v),
            // Written so the command line reads each value back exactly: quotes and
            // backslashes in a title or a reason are kept, not mangled or refused.
            Place::Quoted => words.push(warroom_commands::command::as_word(&v)),
            Place::Flag => {
                words.push(format!("--{}", o.name));
                words.push(warroom_commands::command::as_word(&v));
            }
            Place::Switch => words.push(format!("--{}", o.name)),
            Place::Rest => rest = Some(v),
        }
    }
    if let Some(r) = rest {
        words.push(r);
    }
    Ok(words.join(" "))
}

/// The option autocomplete is asked for: (command, subcommand, option name, typed so far).
pub fn focused(data: &Value) -> Option<(String, Option<String>, Complete, String)> {
    let name = data["name"].as_str()?.to_owned();
    let top = data["options"].as_array()?;
    let (sub, given) = match top.first() {
        Some(o) if o["type"] == 1 => (
            o["name"].as_str().map(str::to_owned),
            o["options"].as_array()?,
        ),
        _ => (None, top),
    };
    let f = given.iter().find(|o| o["focused"] == true)?;
    let (_, options) = find(&name, sub.as_deref())?;
    let opt = options.iter().find(|o| f["name"] == o.name)?;
    Some((
        name,
        sub,
        opt.complete?,
        f["value"].as_str().unwrap_or("").to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_become_the_grammar() {
        let quarantine = json!({"name": "quarantine", "options": [{"type": 1, "name": "pod", "options": [
            {"type": 3, "name": "target", "value": "payments/api-7f9c"},
            {"type": 3, "name": "reason", "value": "shell in container"},
            {"type": 5, "name": "detach", "value": true}]}]});
        assert_eq!(
            command_text(&quarantine).unwrap(),
            "quarantine pod payments/api-7f9c --reason \"shell in container\" --detach"
        );
        let open = json!({"name": "incident", "options": [{"type": 1, "name": "open", "options": [
            {"type": 3, "name": "title", "value": "Shell in payments"},
            {"type": 3, "name": "severity", "value": "sev1"}]}]});
        assert_eq!(
            command_text(&open).unwrap(),
            "incident open \"Shell in payments\" --severity sev1"
        );
        let note = json!({"name": "note", "options": [{"type": 3, "name": "text", "value": "rolled back"}]});
        assert_eq!(command_text(&note).unwrap(), "note rolled back");
        let approve =
            json!({"name": "approve", "options": [{"type": 3, "name": "request", "value": "R1"}]});
        assert_eq!(command_text(&approve).unwrap(), "approve R1");
        let revoke = json!({"name": "revoke-creds", "options": [{"type": 1, "name": "node", "options": [
            {"type": 3, "name": "target", "value": "ip-10-0-3-7"}]}]});
        assert_eq!(
            command_text(&revoke).unwrap(),
            "revoke creds node ip-10-0-3-7"
        );
        assert!(
            command_text(&json!({"name": "nuke"}))
                .unwrap_err()
                .contains("not one of")
        );
        let missing = json!({"name": "approve", "options": []});
        assert!(
            command_text(&missing)
                .unwrap_err()
                .contains("needs `request`")
        );
    }

    #[test]
    fn option_values_reach_the_grammar_exactly_whatever_they_hold() {
        use warroom_commands::command::{Command, parse};
        for title in [
            r#"API "payments" down"#,
            r"C:\temp\ exfil",
            "it's",
            "--severity",
            "ends with \\",
        ] {
            let open = json!({"name": "incident", "options": [{"type": 1, "name": "open", "options": [
                {"type": 3, "name": "title", "value": title}]}]});
            let text = command_text(&open).unwrap();
            match parse(&text) {
                Ok(Command::IncidentOpen { title: read, .. }) => assert_eq!(read, title, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        for reason in ["can't", r#"said "stop""#, r"back\slash"] {
            let quarantine = json!({"name": "quarantine", "options": [{"type": 1, "name": "pod", "options": [
                {"type": 3, "name": "target", "value": "payments/api-7f9c"},
                {"type": 3, "name": "reason", "value": reason}]}]});
            let text = command_text(&quarantine).unwrap();
            match parse(&text) {
                Ok(Command::Action(a)) => assert_eq!(a.reason.as_deref(), Some(reason), "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn definitions_put_required_options_first_and_name_the_message_command() {
        let defs = definitions();
        assert!(
            defs.iter()
                .any(|d| d["type"] == 3 && d["name"] == ADD_TO_TIMELINE)
        );
        for d in &defs {
            let name = d["name"].as_str().unwrap();
            assert!(name.len() <= 32, "{name}");
            let check = |opts: &Value| {
                let required: Vec<bool> = opts
                    .as_array()
                    .map(|a| a.iter().map(|o| o["required"] == true).collect())
                    .unwrap_or_default();
                assert!(
                    required.windows(2).all(|w| w[0] || !w[1]),
                    "{name}: {required:?}"
                );
            };
            check(&d["options"]);
            for o in d["options"].as_array().into_iter().flatten() {
                if o["type"] == 1 {
                    check(&o["options"]);
                }
            }
        }
    }
}
