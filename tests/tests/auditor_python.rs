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

    let ok = Command::new("python3")
        .arg(&script)
        .arg("t.json")
        .current_dir(s.path())
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("intact"));

    let text = std::fs::read_to_string(s.path().join("t.json")).unwrap();
    s.write("t.json", &text.replacen("line two", "line 2", 1));
    let bad = Command::new("python3")
        .arg(&script)
        .arg("t.json")
        .current_dir(s.path())
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("entry 1"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}
