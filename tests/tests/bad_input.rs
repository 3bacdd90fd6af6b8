//! Bad input gets a clear message and a non-zero exit, never a panic.

use warroom_tests::Scratch;

#[test]
fn malformed_toml_names_file_line_and_column() {
    let s = Scratch::new();
    s.write("plan.toml", "[plan]\nname = \"x\"\nowner = \n");
    let out = s.run(&["plan", "check", "plan.toml"]).expect_code(2);
    assert!(out.stderr().contains("plan.toml:3:"), "{}", out.stderr());
}

#[test]
fn wrong_types_name_the_field() {
    let s = Scratch::new();
    let example =
        std::fs::read_to_string(warroom_tests::repo_root().join("config/examples/plan.toml"))
            .unwrap();
    let broken = example.replacen("drill = false", "drill = \"sometimes\"", 1);
    assert_ne!(broken, example, "the example plan sets drill = false");
    s.write("plan.toml", &broken);
    let out = s.run(&["plan", "check", "plan.toml"]).expect_code(2);
    assert!(out.stderr().contains("plan.drill"), "{}", out.stderr());
}

#[test]
fn a_missing_plan_file_is_named_with_what_to_do() {
    let s = Scratch::new();
    let out = s.run(&["plan", "check", "nope.toml"]).expect_code(2);
    assert!(out.stderr().contains("nope.toml"), "{}", out.stderr());
    let out = s
        .run(&["--config", "nope.toml", "incident", "list"])
        .expect_code(2);
    assert!(out.stderr().contains("nope.toml"), "{}", out.stderr());
}

#[test]
fn an_unusable_data_folder_is_named() {
    let s = Scratch::new();
    s.write("afile", "not a folder");
    // Reading: not a ledger (bad input, nothing created).
    let out = s
        .run(&["--data", "afile/ledger", "incident", "list"])
        .expect_code(2);
    assert!(out.stderr().contains("afile/ledger"), "{}", out.stderr());
    assert!(
        out.stderr().contains("not a warroom ledger"),
        "{}",
        out.stderr()
    );
    // Writing: the folder cannot be made, and says why.
    let out = s
        .run(&[
            "--data",
            "afile/ledger",
            "incident",
            "open",
            "--title",
            "x",
            "--severity",
            "sev3",
        ])
        .expect_code(1);
    assert!(out.stderr().contains("afile/ledger"), "{}", out.stderr());
}

#[test]
fn a_corrupt_or_foreign_export_is_refused_with_the_reason() {
    let s = Scratch::new();
    s.write(
        "garbage.json",
        "{\"format\": \"warroom-timeline-export/1\", \"entries\": [",
    );
    let out = s.run(&["export", "verify", "garbage.json"]).expect_code(2);
    assert!(
        out.stderr().contains("not a readable warroom export"),
        "{}",
        out.stderr()
    );
    s.write("other.json", "{\"hello\": 1}");
    s.run(&["export", "verify", "other.json"]).expect_code(2);
    let out = s.run(&["export", "verify", "missing.json"]).expect_code(2);
    assert!(out.stderr().contains("missing.json"), "{}", out.stderr());
}

#[test]
fn unknown_incidents_and_bad_ids_are_refused() {
    let s = Scratch::new();
    let out = s
        .run(&["incident", "note", "INC-20261127-0099", "hello"])
        .expect_code(2);
    assert!(
        out.stderr().contains("no incident INC-20261127-0099"),
        "{}",
        out.stderr()
    );
    let out = s.run(&["incident", "show", "42"]).expect_code(2);
    assert!(
        out.stderr().contains("INC-YYYYMMDD-NNNN"),
        "{}",
        out.stderr()
    );
    let out = s
        .run(&["incident", "open", "--title", "x", "--severity", "sev9"])
        .expect_code(2);
    assert!(out.stderr().contains("sev9"), "{}", out.stderr());
}

#[test]
fn a_ledger_held_by_a_server_that_cannot_be_reached_is_reported_not_corrupted() {
    let s = Scratch::new();
    let server = warroom_tests::Server::start(&s, &[]);
    server.wait_for("/readyz", 200, std::time::Duration::from_secs(20));
    // Without the server's address file the CLI cannot read through it: it must say why.
    std::fs::remove_file(s.path().join("warroom-data/serve.json")).unwrap();
    let out = s.run(&["incident", "list"]).expect_code(1);
    assert!(
        out.stderr().contains("in use by another warroom process"),
        "{}",
        out.stderr()
    );
}

#[test]
fn a_plan_with_several_mistakes_exits_two_and_names_each_with_file_line_column() {
    let s = Scratch::new();
    let example =
        std::fs::read_to_string(warroom_tests::repo_root().join("config/examples/plan.toml"))
            .unwrap();
    let mut lines: Vec<String> = example.lines().map(str::to_string).collect();
    let mut break_line = |needle: &str, with: &str| -> usize {
        let i = lines
            .iter()
            .position(|l| l.starts_with(needle))
            .unwrap_or_else(|| panic!("{needle}"));
        lines[i] = with.to_string();
        i + 1
    };
    let tz = break_line(
        "timezone = \"Europe/Berlin\"",
        "timezone = \"Mars/Olympus\"",
    );
    let slack = break_line("slack = \"U024BE7LJ\"", "slack = \"U024BE7LH\"");
    let ttl = break_line("pending_ttl = \"15m\"", "pending_ttl = \"15 parsecs\"");
    let cidr = break_line(
        "allow_from = [\"10.42.0.0/16\"",
        "allow_from = [\"10.42.0.0/99\"]",
    );
    let role = break_line("roles = [\"sre-lead\"]", "roles = [\"wizard\"]");
    s.write("plan.toml", &(lines.join("\n") + "\n"));
    let out = s.run(&["plan", "check", "plan.toml"]).expect_code(2);
    let err = out.stderr();
    for (line, field) in [
        (tz, "plan.timezone"),
        (slack, ".slack"),
        (ttl, "approvals.pending_ttl"),
        (cidr, "allow_from"),
        (role, ".roles"),
    ] {
        assert!(
            err.lines()
                .any(|l| l.starts_with(&format!("plan.toml:{line}:")) && l.contains(field)),
            "expected plan.toml:{line}: … {field} in\n{err}"
        );
    }
    let json = s
        .run(&["--json", "plan", "check", "plan.toml"])
        .expect_code(2)
        .stdout();
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(json["problems"].as_array().unwrap().len() >= 5);
}

#[test]
fn a_missing_kubeconfig_is_named_once_with_its_path() {
    let s = Scratch::new();
    let missing = s.path().join("no-such-kubeconfig");
    let plan = s.write("plan.toml", &warroom_tests::plan_using_kubeconfig(&missing));
    let out = s.preflight_prod_eu(&plan).expect_code(1);
    let said = format!("{}{}", out.stdout(), out.stderr());
    assert!(
        said.contains(&format!(
            "cluster prod-eu: cannot read kubeconfig {}",
            missing.display()
        )),
        "{said}"
    );
    assert!(
        !said.contains("cluster prod-eu: cluster prod-eu"),
        "one prefix: {said}"
    );
}
