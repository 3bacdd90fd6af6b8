use proptest::prelude::*;
use warroom_config::{ActionName, Severity};

use super::*;

fn action(line: &str) -> ActionRequest {
    match parse(line) {
        Ok(Command::Action(a)) => a,
        other => panic!("{line}: {other:?}"),
    }
}

fn error(line: &str) -> ParseError {
    match parse(line) {
        Err(e) => e,
        Ok(c) => panic!("{line} parsed as {c:?}"),
    }
}

#[test]
fn quarantine_parses_as_typed_in_slack() {
    let a = action(r#"/quarantine pod payments/api-7f9c --reason "shell spawned""#);
    assert_eq!(a.action, ActionName::Quarantine);
    assert_eq!(a.target, Target::pod("payments", "api-7f9c"));
    assert_eq!(a.reason.as_deref(), Some("shell spawned"));
    assert!(a.params.is_empty());
    let d = action("quarantine pod payments/api-7f9c --detach --reason=x --cluster prod-eu");
    assert_eq!(d.params.get("detach").map(String::as_str), Some("true"));
    assert_eq!(d.cluster.as_deref(), Some("prod-eu"));
}

#[test]
fn every_action_form_of_the_grammar_parses() {
    let cases = [
        (
            "capture pod payments/api-7f9c",
            ActionName::Capture,
            "pod payments/api-7f9c",
        ),
        (
            "checkpoint pod payments/api-7f9c --container api",
            ActionName::Checkpoint,
            "pod payments/api-7f9c",
        ),
        (
            "release pod payments/api-7f9c --reason done",
            ActionName::Release,
            "pod payments/api-7f9c",
        ),
        (
            "label pod payments/api-7f9c team=sec --reason r",
            ActionName::Label,
            "pod payments/api-7f9c",
        ),
        (
            "label node ip-10-0-1-23.ec2.internal example.com/x=y --reason r",
            ActionName::Label,
            "node ip-10-0-1-23.ec2.internal",
        ),
        (
            "cordon node ip-10-0-1-23.ec2.internal --reason r",
            ActionName::Cordon,
            "node ip-10-0-1-23.ec2.internal",
        ),
        (
            "uncordon node n1 --reason r",
            ActionName::Uncordon,
            "node n1",
        ),
        (
            "drain node n1 --reason r --override 'captured by hand'",
            ActionName::Drain,
            "node n1",
        ),
        ("protect node n1 --reason r", ActionName::Protect, "node n1"),
        (
            "snapshot node n1 --reason r",
            ActionName::Snapshot,
            "node n1",
        ),
        (
            "revoke creds pod payments/api-7f9c --reason r",
            ActionName::Revoke,
            "pod payments/api-7f9c",
        ),
        (
            "revoke creds node n1 --reason r",
            ActionName::Revoke,
            "node n1",
        ),
        (
            "scale deployment payments/api --replicas 0 --reason r",
            ActionName::Scale,
            "deployment payments/api",
        ),
        (
            "restart deploy payments/api --reason r",
            ActionName::Restart,
            "deployment payments/api",
        ),
        (
            "delete pod payments/api-7f9c --reason r",
            ActionName::Delete,
            "pod payments/api-7f9c",
        ),
        (
            "cordon n1 --reason implied-kind",
            ActionName::Cordon,
            "node n1",
        ),
    ];
    for (line, name, target) in cases {
        let a = action(line);
        assert_eq!(
            (a.action, a.target.describe()),
            (name, target.to_owned()),
            "{line}"
        );
    }
    assert_eq!(
        action("scale sts db/pg --replicas 3 --reason r").params["replicas"],
        "3"
    );
    assert_eq!(action("label pod a/b k=v --reason r").params["key"], "k");
    assert_eq!(
        action("checkpoint pod a/b --container c").params["container"],
        "c"
    );
}

#[test]
fn incident_and_decision_commands_parse() {
    assert_eq!(
        parse(r#"incident open "Shell in payments-api" --severity sev1"#),
        Ok(Command::IncidentOpen {
            title: "Shell in payments-api".into(),
            severity: Severity::Sev1
        })
    );
    assert_eq!(
        parse("incident open Shell in api"),
        Ok(Command::IncidentOpen {
            title: "Shell in api".into(),
            severity: Severity::Sev3
        })
    );
    assert_eq!(parse("incident status"), Ok(Command::IncidentStatus));
    assert_eq!(
        parse("incident severity sev2"),
        Ok(Command::IncidentSeverity(Severity::Sev2))
    );
    assert_eq!(
        parse("incident resolve"),
        Ok(Command::IncidentResolve {
            summary: None,
            confirm: false
        })
    );
    assert_eq!(
        parse("role commander @carol"),
        Ok(Command::Role {
            role: IncidentRole::Commander,
            person: "carol".into()
        })
    );
    assert_eq!(
        parse(r#"note "pod has a shell""#),
        Ok(Command::Note("pod has a shell".into()))
    );
    assert_eq!(parse("note a  b"), Ok(Command::Note("a  b".into())));
    // Apostrophes, as typed at 02:00, are text.
    assert_eq!(
        parse("note don't restart it, it's evidence"),
        Ok(Command::Note("don't restart it, it's evidence".into()))
    );
    let with_apostrophe = action("quarantine pod a/b --reason can\u{2019}t");
    assert_eq!(with_apostrophe.reason.as_deref(), Some("can\u{2019}t"));
    let quoted = action(r#"quarantine pod a/b --reason "--looks like a flag""#);
    assert_eq!(quoted.reason.as_deref(), Some("--looks like a flag"));
    assert_eq!(
        parse("status-update investigating"),
        Ok(Command::StatusUpdate("investigating".into()))
    );
    assert_eq!(parse("timeline"), Ok(Command::Timeline));
    assert_eq!(
        parse("page security wake up"),
        Ok(Command::Page {
            target: "security".into(),
            text: Some("wake up".into())
        })
    );
    assert_eq!(parse("ack"), Ok(Command::Ack(AckScope::Mine)));
    assert_eq!(parse("ack all"), Ok(Command::Ack(AckScope::All)));
    assert_eq!(
        parse("ack INC-20261127-0001"),
        Ok(Command::Ack(AckScope::Incident(
            "INC-20261127-0001".parse().unwrap()
        )))
    );
    assert!(
        parse("ack bob")
            .unwrap_err()
            .to_string()
            .contains("incident id")
    );
    assert_eq!(
        parse("approve r3"),
        Ok(Command::Approve {
            request: "R3".into()
        })
    );
    assert_eq!(
        parse("approve INC-20261127-0001-R12"),
        Ok(Command::Approve {
            request: "INC-20261127-0001-R12".into()
        })
    );
    assert_eq!(
        parse("deny R3 wrong pod"),
        Ok(Command::Deny {
            request: "R3".into(),
            reason: Some("wrong pod".into())
        })
    );
    assert_eq!(
        parse("cancel R3"),
        Ok(Command::Cancel {
            request: "R3".into()
        })
    );
    assert_eq!(
        parse("break-glass R3 --reason 'exfiltration ongoing'"),
        Ok(Command::BreakGlass {
            request: "R3".into(),
            reason: "exfiltration ongoing".into()
        })
    );
    assert_eq!(parse("evidence"), Ok(Command::Evidence { id: None }));
    assert_eq!(
        parse("help quarantine"),
        Ok(Command::Help {
            topic: Some("quarantine".into())
        })
    );
}

#[test]
fn malformed_commands_say_what_is_wrong_and_show_usage() {
    let cases = [
        ("", "empty command", "help"),
        (
            "quarantine",
            "needs NAMESPACE/NAME",
            "quarantine pod NS/POD",
        ),
        (
            "quarantine pod api-7f9c",
            "needs its namespace",
            "quarantine pod NS/POD",
        ),
        (
            "quarantine node n1",
            "works on pod, not node",
            "quarantine pod",
        ),
        (
            "quarantine pod payments/API",
            "not a valid pod name",
            "quarantine pod",
        ),
        (
            "quarantine pod payments/a --reason",
            "--reason needs a value",
            "quarantine pod",
        ),
        (
            "quarantine pod payments/a --force",
            "unknown option `--force`; allowed here: --cluster, --detach, --override, --reason",
            "quarantine",
        ),
        (
            "quarantine pod payments/a shell spawned",
            "unexpected `shell`",
            "quarantine",
        ),
        (
            "scale deployment payments/api",
            "needs --replicas N",
            "scale",
        ),
        (
            "scale deployment payments/api --replicas -1",
            "--replicas",
            "scale",
        ),
        (
            "scale deployment payments/api --replicas many",
            "whole number",
            "scale",
        ),
        ("scale pod payments/api --replicas 1", "not pod", "scale"),
        ("label pod a/b", "needs KEY=VALUE", "label"),
        ("label pod a/b novalue", "not KEY=VALUE", "label"),
        ("label pod a/b k=-bad-", "not a valid label value", "label"),
        ("label a/b k=v", "needs the kind of object first", "label"),
        ("revoke pod a/b", "expected `creds`", "revoke"),
        ("cordon node a/b", "nodes have no namespace", "cordon"),
        ("incident", "incident what?", "incident open"),
        ("incident open", "needs a title", "incident open"),
        ("incident open x --severity sev9", "sev9", "incident open"),
        ("incident reopen", "unknown incident command", "incident"),
        ("incident severity", "which severity", "incident severity"),
        ("role king @bob", "unknown role", "role"),
        ("role commander", "needs a role and a person", "role"),
        ("note", "needs text", "note TEXT"),
        ("note \"unclosed", "unclosed quote", "note TEXT"),
        (
            "quarantine pod a/b --reason \"oops",
            "unclosed quote",
            "quarantine pod",
        ),
        ("bogus \"unclosed", "unclosed quote", "help [COMMAND]"),
        ("quaratine pod a/b", "did you mean `quarantine`?", "help"),
        ("aprove R1", "did you mean `approve`?", "help"),
        (
            "quarantine pod a/b --reson x",
            "did you mean `--reason`?",
            "quarantine",
        ),
        ("incident reslove", "did you mean `resolve`?", "incident"),
        ("approve", "which request", "approve REQUEST-ID"),
        ("approve 3", "not a request id", "approve"),
        ("approve INC-bad-R3", "not a request id", "approve"),
        ("approve R1 R2", "unexpected `R2`", "approve"),
        ("break-glass R3", "needs --reason", "break-glass"),
        ("timeline now", "takes no arguments", "timeline"),
        ("page", "page whom", "page"),
        ("nuke everything", "unknown command `nuke`", "help"),
    ];
    for (line, message, usage) in cases {
        let e = error(line);
        assert!(
            e.message.contains(message),
            "{line:?}: message {:?} lacks {message:?}",
            e.message
        );
        assert!(
            e.usage.contains(usage),
            "{line:?}: usage {:?} lacks {usage:?}",
            e.usage
        );
    }
}

#[test]
fn overlong_commands_are_refused_before_parsing() {
    let e = error(&format!("note {}", "x".repeat(MAX_COMMAND_CHARS)));
    assert!(e.message.contains("limit"), "{}", e.message);
}

#[test]
fn help_covers_every_verb_and_each_topic() {
    let all = help_for(None).unwrap();
    for (verb, ..) in USAGES {
        assert!(all.contains(verb.split(' ').next().unwrap()), "{verb}");
    }
    assert!(
        help_for(Some("incident"))
            .unwrap()
            .contains("incident resolve")
    );
    assert!(help_for(Some("bogus")).is_err());
}

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("pod".to_owned()),
        Just("node".to_owned()),
        Just("--reason".to_owned()),
        Just("--replicas".to_owned()),
        Just("--cluster".to_owned()),
        Just("--detach".to_owned()),
        Just("--container".to_owned()),
        Just("--override".to_owned()),
        Just("creds".to_owned()),
        Just("payments/api-7f9c".to_owned()),
        Just("\"".to_owned()),
        Just("R3".to_owned()),
        Just("=".to_owned()),
        Just("k=v".to_owned()),
        Just("sev1".to_owned()),
        Just("@bob".to_owned()),
        "[a-zA-Z0-9/=._@\"'\\-\u{201C}\u{201D} ]{0,12}",
        any::<String>(),
    ]
}

fn verb() -> impl Strategy<Value = String> {
    let mut verbs: Vec<String> = USAGES.iter().map(|(v, ..)| v.to_string()).collect();
    verbs.push("incident".into());
    verbs.push("revoke creds".into());
    proptest::sample::select(verbs)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    /// Any line of known verbs followed by arbitrary words parses or explains itself.
    #[test]
    fn any_arguments_parse_or_give_usage(v in verb(), args in proptest::collection::vec(word(), 0..6)) {
        let line = format!("{v} {}", args.join(" "));
        match parse(&line) {
            Ok(_) => {}
            Err(e) => {
                prop_assert!(!e.message.is_empty());
                prop_assert!(!e.usage.is_empty());
            }
        }
    }

    /// Arbitrary text never panics.
    #[test]
    fn arbitrary_text_never_panics(line in any::<String>()) {
        let _ = parse(&line);
    }

    /// A well-formed quarantine round-trips its target and reason.
    #[test]
    fn quarantine_targets_round_trip(ns in "[a-z][a-z0-9-]{0,10}[a-z0-9]", pod in "[a-z][a-z0-9-]{0,8}[a-z0-9](\\.[a-z0-9]{1,5}){0,2}", reason in "[^\"\\\\]{1,40}") {
        prop_assume!(!reason.trim().is_empty());
        let a = action(&format!("quarantine pod {ns}/{pod} --reason \"{reason}\""));
        prop_assert_eq!(a.target, Target::pod(&ns, &pod));
        prop_assert_eq!(a.reason.as_deref(), Some(reason.as_str()));
    }
}

#[test]
fn reserved_labels_are_refused_before_any_approval() {
    for key in ["warroom.io/quarantine", "warroom.io/investigation"] {
        let err = parse(&format!("label pod payments/api-7f9c {key}=x --reason why")).unwrap_err();
        assert!(err.to_string().contains("reserved"), "{err}");
    }
    assert!(parse("label pod payments/api-7f9c team=payments --reason why").is_ok());
}

#[test]
fn help_for_one_command_explains_it_with_its_guarantees_and_an_example() {
    let text = help_for(Some("quarantine")).unwrap();
    assert!(text.contains("usage: quarantine pod NS/POD"), "{text}");
    assert!(text.contains("deny-all NetworkPolicy"), "{text}");
    assert!(
        text.contains("Never: Never deletes or restarts the pod"),
        "{text}"
    );
    assert!(text.contains("`pod` may be left out"), "{text}");
    assert!(
        text.contains("Example: quarantine pod payments/api-7f9c"),
        "{text}"
    );
    let incident = help_for(Some("incident")).unwrap();
    assert_eq!(incident.matches("usage: incident").count(), 4, "{incident}");
    let e = help_for(Some("quarantien")).unwrap_err();
    assert!(e.message.contains("did you mean `quarantine`?"), "{e}");
}
