//! Health tells the truth about writes: a ledger on a full disk makes `/readyz` 503 with the
//! reason and `warroom_ledger_writable 0`, and both recover once writes succeed again.
//!
//! The disk is a real one that fills: a small tmpfs mounted for the test (the test command
//! runs as root, as CI does).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use warroom_tests::api::Api;
use warroom_tests::{Scratch, Server};

/// A tmpfs of `size`, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .expect("mount(8)");
        assert!(
            out.status.success(),
            "mounting a small tmpfs needs root (the test command runs as root in CI): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(at.to_path_buf())
    }

    fn resize(&self, size: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn metric(server: &Server, name: &str) -> Option<String> {
    let (_, body) = server.get("/metrics");
    body.lines()
        .find(|l| l.starts_with(name))
        .map(|l| l[name.len()..].trim().to_owned())
}

#[test]
fn a_full_disk_makes_readyz_503_until_writes_succeed_again() {
    let s = Scratch::new();
    let disk = Tmpfs::mount(&s.path().join("disk"), "34m");
    let data = disk.0.join("data");
    let server = Server::start(&s, &["--data", data.to_str().unwrap()]);
    let api = Api::new(&server.addr);
    assert_eq!(
        metric(&server, "warroom_ledger_writable").as_deref(),
        Some("1")
    );
    let inc = api.open_incident("disk filling up");
    let text = format!("note {}", "y".repeat(3000));
    let mut refused: Option<Value> = None;
    for _ in 0..2000 {
        let (status, r) = api.command("alice", &text, Some(&inc));
        if status != 200 {
            refused = Some(r);
            break;
        }
    }
    let refused = refused.expect("the 34 MiB disk filled up");
    assert_eq!(refused["ok"], false, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("not recorded"),
        "{refused}"
    );
    let (status, body) = server.get("/readyz");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("refuses writes"), "{body}");
    assert!(body.contains("No space left on device"), "{body}");
    assert_eq!(
        metric(&server, "warroom_ledger_writable").as_deref(),
        Some("0")
    );

    // Room again: the next retry reopens the ledger and writes resume.
    disk.resize("200m");
    let (status, body) = server.wait_for("/readyz", 200, Duration::from_secs(20));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        metric(&server, "warroom_ledger_writable").as_deref(),
        Some("1")
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, r) = api.command("alice", "note room again", Some(&inc));
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "writes did not resume: {r}");
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(server);
    s.run(&["--data", data.to_str().unwrap(), "ledger", "verify"])
        .expect_code(0);
}
