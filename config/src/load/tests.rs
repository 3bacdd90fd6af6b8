use std::io::Write;

use super::*;

fn problems(text: &str) -> Vec<Problem> {
    match load_str("plan.toml", text) {
        Ok(_) => panic!("expected problems"),
        Err(problems) => problems,
    }
}

fn listing(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts a problem exists at `line:column` with `path` and a message containing `needle`.
fn expect(problems: &[Problem], line: usize, column: usize, path: &str, needle: &str) {
    let found = problems.iter().any(|p| {
        p.line == line && p.column == column && p.path == path && p.message.contains(needle)
    });
    assert!(
        found,
        "no problem at {line}:{column} {path} containing {needle:?} in:\n{}",
        listing(problems)
    );
}

const BROKEN: &str = r#"[plan]
name = "Broken"
owner = "sec@example.com"
timezone = "Mars/Olympus"

[[roles]]
id = "responder"

[[roles]]
id = "responder"

[[people]]
id = "alice"
name = "Alice"
roles = ["responder"]
slack = "U024BE7LH"

[[people]]
id = "bob"
name = "Bob"
roles = ["responder", "wizard"]
slack = "U024BE7LH"
slak = "U999"

[approvals]
pending_ttl = "15x"

[actions.quarantine]
request = ["responder"]
approve = ["responder"]
approvals = 1

[actions.delete]
request = ["responder"]
approve = ["responder"]
approvals = 3

[communication.slack]
bot_token = "xoxb-1234567890-abcdefghij"

[[alerts.rules]]
name = "r"
source = "alertmanager"
severity = "sev2"
match = { alertname = "(unclosed" }
allow_from = ["10.0.0.0/33"]
"#;

#[test]
fn broken_plan_reports_each_mistake_once_at_its_place() {
    let problems = problems(BROKEN);
    expect(
        &problems,
        4,
        12,
        "plan.timezone",
        "unknown time zone `Mars/Olympus`",
    );
    expect(
        &problems,
        10,
        6,
        "roles[1].id",
        "duplicate role id `responder`",
    );
    expect(
        &problems,
        21,
        23,
        "people[1].roles[1]",
        "role `wizard` is not defined",
    );
    expect(
        &problems,
        22,
        9,
        "people[1].slack",
        "Slack user U024BE7LH is already mapped to person alice",
    );
    expect(&problems, 23, 1, "people[1].slak", "unknown field `slak`");
    expect(
        &problems,
        26,
        15,
        "approvals.pending_ttl",
        "invalid duration `15x`",
    );
    expect(
        &problems,
        36,
        13,
        "actions.delete.approvals",
        "delete needs 3 approvals, but when alice requests it only 1 other person (bob) can approve",
    );
    expect(
        &problems,
        39,
        13,
        "communication.slack.bot_token",
        "inline Slack token",
    );
    expect(
        &problems,
        45,
        23,
        "alerts.rules[0].match.alertname",
        "invalid regex `(unclosed`",
    );
    expect(
        &problems,
        46,
        15,
        "alerts.rules[0].allow_from[0]",
        "invalid network `10.0.0.0/33`",
    );
    assert_eq!(problems.len(), 10, "{}", listing(&problems));
}

#[test]
fn problems_are_sorted_by_position_and_carry_hints() {
    let problems = problems(BROKEN);
    let positions: Vec<(usize, usize)> = problems.iter().map(|p| (p.line, p.column)).collect();
    let mut sorted = positions.clone();
    sorted.sort();
    assert_eq!(positions, sorted);
    let duration = problems.iter().find(|p| p.line == 26).unwrap();
    assert_eq!(duration.hint, "use e.g. 30s, 5m, 1h");
    let slack = problems.iter().find(|p| p.line == 22).unwrap();
    assert_eq!(
        slack.to_string(),
        "plan.toml:22:9: people[1].slack: Slack user U024BE7LH is already mapped to person alice\n    hint: one chat account belongs to exactly one person; remove it from one of them"
    );
}

#[test]
fn inline_secret_is_never_echoed() {
    let problems = problems(BROKEN);
    let text = listing(&problems);
    assert!(!text.contains("xoxb-1234567890"), "{text}");
    assert!(text.contains("`xoxb…`"), "{text}");
    let secret = problems.iter().find(|p| p.line == 39).unwrap();
    assert!(
        secret.hint.contains("{ env = \"NAME\" }"),
        "{}",
        secret.hint
    );
}

#[test]
fn secret_in_a_non_secret_field_is_redacted_from_type_errors() {
    let text = "[plan]\nname = \"x\"\nowner = \"y\"\ndrill = \"xoxp-99999-secret-value\"\n";
    let problems = problems(text);
    let text = listing(&problems);
    assert!(!text.contains("xoxp-99999"), "{text}");
    expect(&problems, 4, 9, "plan.drill", "inline Slack token");
}

#[test]
fn malformed_toml_reports_line_and_column() {
    let problems = problems("[plan]\nname = \"unterminated\nowner = \"x\"\n");
    assert!(!problems.is_empty());
    let first = &problems[0];
    assert_eq!(
        (first.line, first.column),
        (2, 21),
        "{}",
        listing(&problems)
    );
    assert!(
        first.message.starts_with("invalid TOML"),
        "{}",
        first.message
    );
    assert!(first.path.is_empty());
}

#[test]
fn every_syntax_error_is_reported() {
    let problems = problems("[plan]\nname = \nowner = \"x\"\n[broken\nkey = 1\n");
    let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
    assert!(
        lines.contains(&2) && lines.contains(&4),
        "{}",
        listing(&problems)
    );
}

const MINIMAL: &str = "[plan]\nname = \"x\"\nowner = \"y\"\n";

#[test]
fn wrong_type_names_the_field() {
    let text = format!("{MINIMAL}\n[actions.delete]\napprovals = \"two\"\n");
    let problems = problems(&text);
    expect(
        &problems,
        6,
        13,
        "actions.delete.approvals",
        "invalid type: string \"two\"",
    );
    assert!(
        problems[0].hint.contains("whole number"),
        "{}",
        problems[0].hint
    );
    assert_eq!(problems.len(), 1, "{}", listing(&problems));
}

#[test]
fn minimal_plan_loads_with_defaults() {
    let plan = load_str("plan.toml", MINIMAL).unwrap();
    assert_eq!(plan.meta.timezone, chrono_tz::Tz::UTC);
    assert!(plan.actions.is_empty());
    assert_eq!(plan.data_dir(), None);
    assert_eq!(plan.approvals.pending_ttl.as_secs(), 900);
}

#[test]
fn missing_plan_section_is_reported_at_the_top() {
    let problems = problems("[storage]\ndata_dir = \"./d\"\n");
    expect(&problems, 1, 1, "plan", "missing section [plan]");
}

#[test]
fn unknown_section_lists_valid_ones() {
    let problems = problems(&format!("{MINIMAL}[peeple]\n"));
    expect(&problems, 4, 2, "peeple", "unknown section `peeple`");
    assert!(problems[0].hint.contains("people"), "{}", problems[0].hint);
}

#[test]
fn unknown_action_lists_valid_ones() {
    let problems = problems(&format!("{MINIMAL}[actions.nuke]\napprovals = 2\n"));
    expect(&problems, 4, 10, "actions.nuke", "unknown action `nuke`");
    assert!(
        problems[0].hint.contains("quarantine"),
        "{}",
        problems[0].hint
    );
}

#[test]
fn missing_required_field_points_at_the_table() {
    let text = format!("{MINIMAL}\n[[people]]\nname = \"No Id\"\nslack = \"U024BE7LH\"\n");
    let problems = problems(&text);
    expect(&problems, 5, 1, "people[0]", "missing field `id`");
    assert_eq!(problems.len(), 1, "{}", listing(&problems));
}

#[test]
fn unreadable_entries_do_not_cause_follow_on_reference_errors() {
    let text = format!(
        "{MINIMAL}\n[[people]]\nid = \"alice\"\nname = 7\n\n[[teams]]\nid = \"t\"\nname = \"T\"\nmembers = [\"alice\"]\n"
    );
    let problems = problems(&text);
    expect(&problems, 7, 8, "people[0].name", "invalid type");
    assert_eq!(problems.len(), 1, "{}", listing(&problems));
}

#[test]
fn semantic_paths_use_file_indexes_after_a_dropped_entry() {
    let text = format!(
        "{MINIMAL}\n[[people]]\nname = \"no id\"\n\n[[people]]\nid = \"bob\"\nname = \"Bob\"\nslack = \"nope\"\n"
    );
    let problems = problems(&text);
    expect(
        &problems,
        11,
        9,
        "people[1].slack",
        "is not a Slack user id",
    );
}

#[test]
fn several_bad_fields_in_one_table_are_all_reported() {
    let text = format!(
        "{MINIMAL}\n[approvals]\npending_ttl = \"1q\"\nexecute_within = \"2z\"\nbogus = 1\n"
    );
    let problems = problems(&text);
    assert_eq!(problems.len(), 3, "{}", listing(&problems));
}

#[test]
fn notify_targets_and_policies_must_exist() {
    let text = format!(
        "{MINIMAL}\n[[escalation_policies]]\nid = \"p\"\nname = \"P\"\n[[escalation_policies.tiers]]\nnotify = [\"person:zed\", \"team:ghosts\"]\nescalate_after = \"5m\"\n\n[[alerts.rules]]\nname = \"r\"\nsource = \"falco\"\nseverity = \"sev1\"\npage = \"nobody\"\npropose = [\"quarantine\"]\n"
    );
    let problems = problems(&text);
    expect(
        &problems,
        9,
        11,
        "escalation_policies[0].tiers[0].notify[0]",
        "person `zed`",
    );
    expect(
        &problems,
        9,
        25,
        "escalation_policies[0].tiers[0].notify[1]",
        "team `ghosts`",
    );
    expect(
        &problems,
        16,
        8,
        "alerts.rules[0].page",
        "escalation policy `nobody`",
    );
    expect(
        &problems,
        17,
        12,
        "alerts.rules[0].propose[0]",
        "action `quarantine`",
    );
}

#[test]
fn break_glass_roles_must_be_defined() {
    let text = format!("{MINIMAL}\n[actions.capture]\nbreak_glass = [\"hero\"]\n");
    let problems = problems(&text);
    expect(
        &problems,
        6,
        16,
        "actions.capture.break_glass[0]",
        "break-glass role `hero`",
    );
}

#[test]
fn critical_workloads_raise_the_quorum() {
    let text = format!(
        "{MINIMAL}\n[[roles]]\nid = \"r\"\n\n[[people]]\nid = \"a\"\nname = \"A\"\nroles = [\"r\"]\n\n[[people]]\nid = \"b\"\nname = \"B\"\nroles = [\"r\"]\n\n[actions.quarantine]\nrequest = [\"r\"]\napprove = [\"r\"]\n\n[[clusters]]\nname = \"c\"\nin_cluster = true\nnetwork_policy = \"none\"\n\n[[critical]]\ncluster = \"c\"\nnamespace = \"n\"\nkind = \"Deployment\"\nname = \"api\"\n"
    );
    let problems = problems(&text);
    expect(
        &problems,
        18,
        1,
        "actions.quarantine",
        "quarantine needs 2 approvals (1 + 1 for critical workloads), but when a requests it only 1 other person (b) can approve",
    );
}

#[test]
fn an_approval_count_too_large_to_add_is_refused_not_wrapped_to_none() {
    // 1 + 4294967295 wraps to 0 in u32: read as "no approval needed", it passed.
    let text = format!(
        "{MINIMAL}\n[[roles]]\nid = \"r\"\n\n[[people]]\nid = \"a\"\nname = \"A\"\nroles = [\"r\"]\n\n[[people]]\nid = \"b\"\nname = \"B\"\nroles = [\"r\"]\n\n[actions.quarantine]\nrequest = [\"r\"]\napprove = [\"r\"]\n\n[[clusters]]\nname = \"c\"\nin_cluster = true\nnetwork_policy = \"none\"\n\n[[critical]]\ncluster = \"c\"\nnamespace = \"n\"\nkind = \"Deployment\"\nname = \"api\"\nextra_approvals = 4294967295\n"
    );
    let problems = problems(&text);
    expect(
        &problems,
        18,
        1,
        "actions.quarantine",
        "quarantine needs 4294967295 approvals",
    );
}

#[test]
fn an_intake_no_sender_could_pass_and_windows_that_do_nothing_are_refused() {
    let text = format!(
        "{MINIMAL}\n[alerts.intake.falco]\n\n[alerts.intake.alertmanager]\ntoken = {{ env = \"AM_TOKEN\" }}\nrouting_key = {{ env = \"AM_KEY\" }}\n\n[[alerts.rules]]\nname = \"r\"\nsource = \"falco\"\nseverity = \"sev1\"\noutside = {{ days = [\"mon\"], from = \"00:00\", to = \"00:00\" }}\n\n[[alerts.rules]]\nname = \"s\"\nsource = \"falco\"\nseverity = \"sev1\"\noutside = {{ days = [], from = \"08:00\", to = \"18:00\" }}\n"
    );
    let problems = problems(&text);
    let has = |path: &str, needle: &str| {
        assert!(
            problems
                .iter()
                .any(|p| p.path == path && p.message.contains(needle)),
            "no {path}: {needle:?} in:\n{}",
            listing(&problems)
        );
    };
    has(
        "alerts.intake.falco",
        "the falco intake names no credential",
    );
    has(
        "alerts.intake.alertmanager.routing_key",
        "routing_key is for the Events API v2 intake, not alertmanager",
    );
    has(
        "alerts.rules[0].outside.to",
        "the outside window is empty (from equals to)",
    );
    has(
        "alerts.rules[1].outside.days",
        "the outside window has no days",
    );
    assert_eq!(problems.len(), 4, "{}", listing(&problems));
}

#[test]
fn cluster_access_and_aws_shapes_are_checked() {
    let text = format!(
        "{MINIMAL}\n[[clusters]]\nname = \"c\"\nnetwork_policy = \"calico\"\naws_account = \"missing\"\n\n[[aws_accounts]]\nname = \"a\"\naccount_id = \"1234\"\nregion = \"eu-central-1\"\nrole_arn = \"arn:aws:iam::123456789012:user/x\"\n"
    );
    let problems = problems(&text);
    expect(
        &problems,
        5,
        1,
        "clusters[0]",
        "neither kubeconfig nor in_cluster",
    );
    expect(
        &problems,
        8,
        15,
        "clusters[0].aws_account",
        "AWS account `missing`",
    );
    expect(
        &problems,
        12,
        14,
        "aws_accounts[0].account_id",
        "not an AWS account id",
    );
    expect(
        &problems,
        14,
        12,
        "aws_accounts[0].role_arn",
        "not an IAM role ARN",
    );
}

#[test]
fn channel_name_placeholders_are_checked() {
    let text = format!("{MINIMAL}\n[communication]\nchannel_name = \"inc-{{when}}-{{slug}}\"\n");
    let problems = problems(&text);
    expect(
        &problems,
        6,
        16,
        "communication.channel_name",
        "unknown placeholder {when}",
    );
}

#[test]
fn load_file_reports_a_missing_file_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.toml");
    let err = load_file(&path).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("cannot read plan file {}: ", path.display())),
        "{text}"
    );
    assert!(
        text.ends_with("; pass --config FILE or create ./warroom.toml"),
        "{text}"
    );
}

#[test]
fn load_file_binds_the_digest_to_the_text() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(MINIMAL.as_bytes()).unwrap();
    let loaded = load_file(file.path()).unwrap();
    assert_eq!(loaded.digest, digest(MINIMAL));
    assert_eq!(loaded.source, PlanSource::File(file.path().to_path_buf()));
    assert_eq!(loaded.source.display(), file.path().display().to_string());
}

#[test]
fn invalid_file_error_lists_every_problem_with_the_path() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(BROKEN.as_bytes()).unwrap();
    let err = load_file(file.path()).unwrap_err();
    let PlanError::Invalid { problems, .. } = &err else {
        panic!("expected Invalid, got {err}");
    };
    assert_eq!(problems.len(), 10);
    let text = err.to_string();
    assert!(text.contains("(10 problems)"), "{text}");
    assert!(
        text.contains(&format!("{}:4:12: plan.timezone", file.path().display())),
        "{text}"
    );
}

#[test]
fn s3_evidence_store_loads_and_a_bad_kind_is_located() {
    let good = format!(
        "{MINIMAL}\n[storage.evidence]\nkind = \"s3\"\nbucket = \"ev\"\nregion = \"eu-central-1\"\nendpoint = \"https://minio.local:9000\"\n"
    );
    let plan = load_str("plan.toml", &good).unwrap();
    assert_eq!(
        plan.storage.evidence.unwrap().describe(),
        "s3://ev/ (eu-central-1)"
    );
    let bad = format!("{MINIMAL}\n[storage.evidence]\nkind = \"gcs\"\n");
    let problems = problems(&bad);
    expect(
        &problems,
        6,
        8,
        "storage.evidence.kind",
        "unknown value `gcs`",
    );
}

#[test]
fn the_person_id_warroom_is_reserved() {
    let problems = problems(&format!(
        "{MINIMAL}[[people]]\nid = \"warroom\"\nname = \"W\"\n"
    ));
    assert!(
        listing(&problems).contains("person id `warroom` is reserved"),
        "{}",
        listing(&problems)
    );
}

#[test]
fn a_tier_pagerduty_key_without_pagerduty_paging_is_named_with_the_fix() {
    let text = format!(
        "{MINIMAL}\n[[people]]\nid = \"alice\"\nname = \"Alice\"\n\n[[escalation_policies]]\nid = \"p\"\nname = \"P\"\n\n[[escalation_policies.tiers]]\nnotify = [\"person:alice\"]\nescalate_after = \"5m\"\npagerduty_routing_key = {{ env = \"PD_TIER_KEY\" }}\n"
    );
    let problems = problems(&text);
    let found = problems
        .iter()
        .find(|p| p.path == "escalation_policies[0].tiers[0].pagerduty_routing_key")
        .unwrap_or_else(|| panic!("{}", listing(&problems)));
    assert!(found.message.contains("no [paging.pagerduty]"), "{found}");
    assert!(
        found.to_string().contains("add [paging.pagerduty]"),
        "{found}"
    );
}

#[test]
fn ha_names_a_bad_bucket_a_bad_region_and_a_wait_out_of_range() {
    let example = include_str!("../../examples/plan.toml");
    let lines = example.lines().count();
    let text = format!(
        "{example}\n[ha]\nbucket = \"https://bucket\"\nregion = \"mars-1\"\nreplicated_within = \"2m\"\n"
    );
    let problems = problems(&text);
    expect(
        &problems,
        lines + 3,
        10,
        "ha.bucket",
        "not an S3 bucket URL",
    );
    expect(&problems, lines + 4, 10, "ha.region", "not an AWS region");
    expect(
        &problems,
        lines + 5,
        21,
        "ha.replicated_within",
        "outside 1s–60s",
    );
    let fine = format!(
        "{example}\n[ha]\nbucket = \"s3://northwind-warroom-ledger/prod/\"\nregion = \"eu-central-1\"\n"
    );
    let plan = load_str("plan.toml", &fine).unwrap();
    assert_eq!(plan.ha.unwrap().ack, crate::model::ha::Ack::Leader);
    let lease = format!(
        "{fine}lease = {{ namespace = \"War_Room\", name = \"warroom\", duration = \"1s\" }}\n"
    );
    let text = listing(&super::tests::problems(&lease));
    assert!(
        text.contains("ha.lease.namespace") && text.contains("not a Kubernetes name"),
        "{text}"
    );
    assert!(
        text.contains("ha.lease.duration") && text.contains("outside 2s–5m"),
        "{text}"
    );
}

#[test]
fn console_limits_have_defaults_and_out_of_range_values_are_named() {
    let example = include_str!("../../examples/plan.toml");
    let plan = load_str("plan.toml", example).unwrap();
    assert_eq!(
        plan.console.limits,
        crate::model::console::Limits::default()
    );
    let line = "# limits = { connections = 4096, header_timeout = \"10s\", body_timeout = \"30s\", per_source = 200, burst = 400, ipv6_prefix = 64 }";
    assert!(example.contains(line));
    let bad = example.replace(
        line,
        "limits = { connections = 0, header_timeout = \"20m\", body_timeout = \"2h\", burst = 0, ipv6_prefix = 16 }",
    );
    let text = listing(&super::tests::problems(&bad));
    for (field, what) in [
        ("console.limits.connections", "outside 1–1000000"),
        ("console.limits.header_timeout", "outside 1s–10m"),
        ("console.limits.body_timeout", "outside 1s–10m"),
        ("console.limits.burst", "refuses every request"),
        ("console.limits.ipv6_prefix", "outside 32–128"),
    ] {
        assert!(
            text.contains(field) && text.contains(what),
            "{field}: {text}"
        );
    }
    let unknown = example.replace(line, "limits = { per_sourse = 5 }");
    let text = listing(&super::tests::problems(&unknown));
    assert!(text.contains("per_sourse"), "{text}");
}

proptest::proptest! {
    /// Whatever a careless edit does to a plan — a line dropped, doubled, cut or changed —
    /// loading it never panics, and every problem it reports points into the file (a line of
    /// it, or 0 for the file as a whole) with a message.
    #[test]
    fn edited_plans_never_panic_and_every_problem_points_into_the_file(
        edits in proptest::collection::vec((0usize..4, 0usize..10_000, 0usize..200, proptest::prelude::any::<char>()), 1..4),
    ) {
        let example = include_str!("../../examples/plan.toml");
        let mut lines: Vec<String> = example.lines().map(str::to_owned).collect();
        for (how, at, col, c) in edits {
            let i = at % lines.len();
            match how {
                0 => { lines.remove(i); }
                1 => { let l = lines[i].clone(); lines.insert(i, l); }
                2 => { let l = &mut lines[i]; let cut = l.char_indices().nth(col).map_or(l.len(), |(b, _)| b); l.truncate(cut); }
                _ => { let l = &mut lines[i]; let at = l.char_indices().nth(col).map_or(l.len(), |(b, _)| b); l.insert(at, c); }
            }
        }
        let text = lines.join("\n");
        if let Err(problems) = load_str("plan.toml", &text) {
            proptest::prop_assert!(!problems.is_empty());
            let count = text.lines().count() + 1;
            for p in &problems {
                proptest::prop_assert!(p.line <= count, "{p} is past the end ({count} lines)");
                proptest::prop_assert!(!p.message.is_empty());
            }
        }
    }
}

#[test]
fn ids_that_differ_only_in_case_are_one_id() {
    // `Alice` beside `alice` would count as a second approver for the same human.
    let text = format!(
        "{MINIMAL}\n[[people]]\nid = \"alice\"\nname = \"Alice\"\n\n[[people]]\nid = \"Alice\"\nname = \"Alice again\"\n"
    );
    let problems = problems(&text);
    expect(
        &problems,
        10,
        6,
        "people[1].id",
        "duplicate person id `Alice`: `alice` is already defined above (ids must differ by more than case)",
    );
    assert_eq!(problems.len(), 1, "{}", listing(&problems));
}
