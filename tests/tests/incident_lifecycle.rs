//! open → note → export → verify, through the real binary.

use warroom_tests::Scratch;

fn open(s: &Scratch, title: &str) -> String {
    let out = s
        .run(&["incident", "open", "--title", title, "--severity", "sev2"])
        .expect_code(0);
    let id = out.stdout().trim().to_string();
    assert!(
        id.starts_with("INC-"),
        "stdout is just the id: {:?}",
        out.stdout()
    );
    id
}

#[test]
fn open_note_export_and_verify_round_trip_exits_zero() {
    let s = Scratch::new();
    let id = open(&s, "Shell spawned in payments-api");
    s.run(&["incident", "note", &id, "Pod isolated by alice"])
        .expect_code(0);
    s.run(&["incident", "note", &id, "Evidence captured"])
        .expect_code(0);

    let list = s.run(&["incident", "list"]).expect_code(0).stdout();
    assert!(
        list.contains(&id) && list.contains("Shell spawned"),
        "{list}"
    );
    let show = s
        .run(&["--json", "incident", "show", &id])
        .expect_code(0)
        .stdout();
    let show: serde_json::Value = serde_json::from_str(&show).unwrap();
    assert_eq!(show["entries"].as_array().unwrap().len(), 3);
    assert_eq!(
        show["entries"][0]["actor"], "cli:tester",
        "CLI actions are recorded as cli:<user>"
    );

    s.run(&[
        "incident", "export", &id, "--format", "json", "--out", "t.json",
    ])
    .expect_code(0);
    let ok = s
        .run(&["export", "verify", "t.json"])
        .expect_code(0)
        .stdout();
    assert!(ok.contains("intact") && ok.contains("3 entries"), "{ok}");

    let md = s
        .run(&["incident", "export", &id, "--format", "markdown"])
        .expect_code(0)
        .stdout();
    assert!(
        md.contains("Pod isolated by alice") && md.contains("Chain head"),
        "{md}"
    );

    let verify = s.run(&["ledger", "verify"]).expect_code(0).stdout();
    assert!(verify.contains("1 incidents, 3 entries"), "{verify}");
}

#[test]
fn changing_any_field_of_any_exported_entry_exits_one_and_names_it() {
    let s = Scratch::new();
    let id = open(&s, "Crypto miner on node");
    s.run(&["incident", "note", &id, "first"]).expect_code(0);
    s.run(&["incident", "note", &id, "second"]).expect_code(0);
    s.run(&[
        "incident", "export", &id, "--format", "json", "--out", "t.json",
    ])
    .expect_code(0);
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.path().join("t.json")).unwrap()).unwrap();
    let fields = [
        "incident",
        "seq",
        "at",
        "actor",
        "kind",
        "data",
        "prev_hash",
        "hash",
    ];
    for seq in 0..3 {
        for field in fields {
            let mut altered = doc.clone();
            let v = &mut altered["entries"][seq][field];
            *v = match v {
                serde_json::Value::Number(n) => serde_json::json!(n.as_u64().unwrap() + 1),
                serde_json::Value::String(t) => serde_json::json!(format!("{t}0")),
                _ => serde_json::json!({"text": "nothing to see"}),
            };
            s.write("altered.json", &altered.to_string());
            let out = s.run(&["export", "verify", "altered.json"]).expect_code(1);
            let named = if field == "seq" { seq + 1 } else { seq };
            assert!(
                out.stderr().contains(&format!("entry {named}")),
                "{field} of entry {seq}: {}",
                out.stderr()
            );
        }
    }
}

#[test]
fn a_record_changed_in_the_ledger_makes_ledger_verify_fail_and_name_it() {
    let s = Scratch::new();
    let id = open(&s, "Leaked credentials");
    s.run(&["incident", "note", &id, "rotated keys"])
        .expect_code(0);
    let incident: warroom_commands::IncidentId = id.parse().unwrap();
    warroom_ledger::tamper::rewrite_entry(&s.path().join("warroom-data"), &incident, 1, |e| {
        e.actor = "person:mallory".into();
    })
    .unwrap();
    let out = s.run(&["ledger", "verify"]).expect_code(1);
    assert!(
        out.stderr().contains(&format!("incident {id}, entry 1")),
        "{}",
        out.stderr()
    );
    let json = s
        .run(&["--json", "ledger", "verify"])
        .expect_code(1)
        .stdout();
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        (json["intact"].as_bool(), json["failure"]["seq"].as_u64()),
        (Some(false), Some(1))
    );
}

#[test]
fn data_flag_overrides_the_plan_folder() {
    let s = Scratch::new();
    let out = s
        .run(&[
            "--data",
            "elsewhere",
            "incident",
            "open",
            "--title",
            "x",
            "--severity",
            "sev4",
        ])
        .expect_code(0);
    assert!(
        s.path().join("elsewhere/sled/db").exists(),
        "{}",
        out.stderr()
    );
    assert!(!s.path().join("warroom-data").exists());
}
