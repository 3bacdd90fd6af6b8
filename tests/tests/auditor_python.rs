//! The README's standard-library Python check recomputes the chain exactly as warroom does.

use std::process::Command;

use warroom_tests::{Scratch, repo_root};

/// The script between the README's `auditor-check` markers.
fn readme_script() -> String {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let start = readme
        .find("<!-- auditor-check:start -->")
        .expect("start marker");
    let end = readme
        .find("<!-- auditor-check:end -->")
        .expect("end marker");
    let block = &readme[start..end];
    let code = block.split("```python").nth(1).expect("python block");
    code.split("```").next().unwrap().to_string()
}

/// `python3 SCRIPT EXPORT` in the scratch folder.
fn python(s: &Scratch, script: &std::path::Path, export: &str) -> std::process::Output {
    Command::new("python3")
        .arg(script)
        .arg(export)
        .current_dir(s.path())
        .output()
        .unwrap()
}

#[test]
fn the_readme_python_check_accepts_an_intact_export_and_rejects_an_altered_one() {
    let s = Scratch::new();
    let id = s
        .run(&[
            "incident",
            "open",
            "--title",
            "Ünïcode “quotes” \\ and \"escapes\"\ttab",
            "--severity",
            "sev3",
        ])
        .expect_code(0)
        .stdout()
        .trim()
        .to_string();
    s.run(&["incident", "note", &id, "line one\nline two — ✓ 😀"])
        .expect_code(0);
    s.run(&[
        "incident", "export", &id, "--format", "json", "--out", "t.json",
    ])
    .expect_code(0);
    let script = s.write("verify_chain.py", &readme_script());

    let ok = python(&s, &script, "t.json");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("intact"));

    let text = std::fs::read_to_string(s.path().join("t.json")).unwrap();
    s.write("t.json", &text.replacen("line two", "line 2", 1));
    let bad = python(&s, &script, "t.json");
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("entry 1"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

/// RFC 8785 orders members by UTF-16 code units: "😀" (D83D DE00) before "ｚ" (FF5A), the
/// opposite of code-point order. An alert whose fields carry both must verify in Python too.
#[test]
fn the_readme_python_check_orders_keys_outside_the_bmp_as_rfc8785_does() {
    let s = Scratch::new();
    let server = warroom_tests::Server::start_with_env(
        &s,
        &[],
        &[("WARROOM_FALCO_TOKEN", "demo-token-for-the-test")],
    );
    // Ready: the ledger is open and interrupted actions were checked.
    warroom_tests::api::Api::new(&server.addr);
    let falco = serde_json::json!({
        "rule": "Terminal shell in container",
        "priority": "Critical",
        "output": "A shell was spawned in a container with an attached terminal",
        "time": "2026-11-30T02:00:00.000000000Z",
        "output_fields": {
            "k8s.ns.name": "payments",
            "k8s.pod.name": "api-7f9c",
            "😀": "emoji key",
            "ｚ": "full-width key",
        }
    })
    .to_string();
    let mut resp = warroom_tests::agent()
        .post(&format!("http://{}/alerts/falco", server.addr))
        .header("content-type", "application/json")
        .header("authorization", "Bearer demo-token-for-the-test")
        .send(falco)
        .unwrap();
    let body: serde_json::Value = resp.body_mut().read_json().unwrap();
    assert_eq!(body["alerts"][0]["result"], "opened", "{body}");
    let id = body["alerts"][0]["incident"].as_str().unwrap().to_owned();
    s.run(&[
        "incident", "export", &id, "--format", "json", "--out", "bmp.json",
    ])
    .expect_code(0);
    let text = std::fs::read_to_string(s.path().join("bmp.json")).unwrap();
    assert!(
        text.contains("😀") && text.contains("ｚ"),
        "the keys are in the export"
    );
    s.run(&["export", "verify", "bmp.json"]).expect_code(0);
    let script = s.write("verify_chain.py", &readme_script());
    let out = python(&s, &script, "bmp.json");
    assert!(
        out.status.success(),
        "the README's script calls an intact export broken: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
