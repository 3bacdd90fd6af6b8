//! Health tells the truth about writes: a ledger on a full disk makes `/readyz` 503 with the
//! reason and `warroom_ledger_writable 0`, and both recover once writes succeed again.
//!
//! The disk is a real one that fills: a small tmpfs mounted for the test (the test command
//! runs as root, as CI does).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use warroom_tests::api::{Api, UNLIMITED, plan_with};
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
        self.remount(&format!("remount,size={size}"));
    }

    fn remount(&self, options: &str) {
        let out = Command::new("mount")
            .args(["-o", options])
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

/// A drill server on `data`, taking commands as fast as one address sends them.
fn serve(s: &Scratch, data: &Path) -> Server {
    let plan = s.write(
        "plan.toml",
        &plan_with(&[("drill = false", "drill = true"), UNLIMITED]),
    );
    Server::start(
        s,
        &[
            "--config",
            plan.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
        ],
    )
}

#[test]
fn a_full_disk_makes_readyz_503_until_writes_succeed_again() {
    let s = Scratch::new();
    let disk = Tmpfs::mount(&s.path().join("disk"), "34m");
    let data = disk.0.join("data");
    let server = serve(&s, &data);
    let api = Api::new(&server.addr);
    assert_eq!(
        server.metric("warroom_ledger_writable").as_deref(),
        Some("1")
    );
    assert_eq!(
        server.metric("warroom_ledger_readable").as_deref(),
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
        server.metric("warroom_ledger_writable").as_deref(),
        Some("0")
    );

    // Room again: the next retry reopens the ledger and writes resume.
    disk.resize("200m");
    let (status, body) = server.wait_for("/readyz", 200, Duration::from_secs(20));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        server.metric("warroom_ledger_writable").as_deref(),
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

#[test]
fn a_resolve_refused_on_a_full_disk_is_recorded_when_its_sender_retries() {
    const AM: &str = "am-ledger-health";
    let s = Scratch::new();
    let disk = Tmpfs::mount(&s.path().join("disk"), "34m");
    let data = disk.0.join("data");
    let plan = s.write(
        "plan.toml",
        &plan_with(&[
            ("drill = false", "drill = true"),
            UNLIMITED,
            (
                "[[alerts.rules]]\nname = \"ssh-from-outside-after-hours\"",
                "[[alerts.rules]]\nname = \"payments-api-down\"\nsource = \"alertmanager\"\nmatch = { alertname = \"PaymentsApiDown\" }\nseverity = \"sev2\"\n\n[[alerts.rules]]\nname = \"ssh-from-outside-after-hours\"",
            ),
        ]),
    );
    let server = Server::start_with_env(
        &s,
        &[
            "--config",
            plan.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
        ],
        &[("WARROOM_ALERTMANAGER_TOKEN", AM)],
    );
    let api = Api::new(&server.addr);
    let alert = |status: &str| {
        let body = warroom_tests::alertmanager_body(
            status,
            serde_json::json!({ "alertname": "PaymentsApiDown", "namespace": "payments" }),
            "payments api down",
        );
        api.post_json("/alerts/alertmanager", Some(AM), &body)
    };
    let (status, fired) = alert("firing");
    assert_eq!(status, 200, "{fired}");
    let inc = fired["alerts"][0]["incident"].as_str().unwrap().to_owned();

    // The disk fills up; the alert ends at its source meanwhile and is not recorded.
    let text = format!("note {}", "y".repeat(3000));
    let full = (0..2000).any(|_| api.command("alice", &text, Some(&inc)).0 != 200);
    assert!(full, "the 34 MiB disk filled up");
    let (status, r) = alert("resolved");
    assert_ne!(status, 200, "a resolve acknowledged on a full disk: {r}");

    // Room again: Alertmanager sends the resolve again, and this time it is recorded, not
    // answered as a repeat of the one that was lost.
    disk.resize("200m");
    server.wait_for("/readyz", 200, Duration::from_secs(20));
    let (status, r) = alert("resolved");
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["alerts"][0]["result"], "resolved", "{r}");
    let timeline = api.incident(&inc)["timeline"].clone();
    let ended = timeline
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "alert.resolved")
        .count();
    assert_eq!(ended, 1, "{timeline}");
}

/// An ext4 file system on a loop device, mounted `errors=remount-ro` as production disks
/// are: [`Ext4::fail`] makes the kernel turn it read-only under whoever writes, as it does
/// after an I/O error.
struct Ext4 {
    image: PathBuf,
    at: PathBuf,
}

impl Ext4 {
    fn create(image: &Path, at: &Path) -> Ext4 {
        let run = |cmd: &mut Command| {
            let out = cmd.output().unwrap();
            assert!(
                out.status.success(),
                "{cmd:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(Command::new("truncate").args(["-s", "128M"]).arg(image));
        run(Command::new("mkfs.ext4").args(["-q", "-F"]).arg(image));
        std::fs::create_dir_all(at).unwrap();
        let fs = Ext4 {
            image: image.to_path_buf(),
            at: at.to_path_buf(),
        };
        fs.mount();
        fs
    }

    fn mount(&self) {
        let out = Command::new("mount")
            .args(["-o", "loop,errors=remount-ro"])
            .arg(&self.image)
            .arg(&self.at)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mounting an ext4 image on a loop device needs root: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The kernel's own reaction to a disk error: the file system goes read-only.
    fn fail(&self) {
        let out = Command::new("findmnt")
            .args(["-n", "-o", "SOURCE"])
            .arg(&self.at)
            .output()
            .unwrap();
        let device = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let name = device.rsplit('/').next().unwrap().to_owned();
        std::fs::write(format!("/sys/fs/ext4/{name}/trigger_fs_error"), "1").unwrap();
    }

    /// What an operator does next: unmount, check, mount again.
    fn repair(&self) {
        let _ = Command::new("umount").arg(&self.at).status();
        let fsck = Command::new("e2fsck")
            .args(["-f", "-y"])
            .arg(&self.image)
            .output()
            .unwrap();
        // 0: clean, 1: errors corrected.
        assert!(
            matches!(fsck.status.code(), Some(0 | 1)),
            "{}",
            String::from_utf8_lossy(&fsck.stdout)
        );
        self.mount();
    }
}

impl Drop for Ext4 {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.at).status();
    }
}

#[test]
fn a_disk_that_turns_read_only_under_the_server_refuses_writes_plainly_and_loses_nothing() {
    let s = Scratch::new();
    let disk = Ext4::create(&s.path().join("disk.img"), &s.path().join("disk"));
    let data = disk.at.join("data");
    let server = serve(&s, &data);
    let api = Api::new(&server.addr);
    let inc = api.open_incident("disk gone read-only");
    api.ok("carol", "note before", Some(&inc));
    let acked = warroom_tests::seq_hash(&api.incident(&inc)["timeline"]);

    // The disk fails; the kernel makes it read-only under the running server.
    disk.fail();
    let (status, r) = api.command("carol", "note while read-only", Some(&inc));
    assert_ne!(status, 200, "acknowledged on a read-only disk: {r}");
    assert_eq!(r["ok"], false, "{r}");
    assert!(
        r["message"].as_str().unwrap().contains("not recorded"),
        "{r}"
    );
    let (status, body) = server.wait_for("/readyz", 503, Duration::from_secs(10));
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("Read-only file system"), "{body}");
    assert_eq!(
        server.metric("warroom_ledger_writable").as_deref(),
        Some("0")
    );
    // Reads still answer, from what was acknowledged.
    assert_eq!(
        warroom_tests::seq_hash(&api.incident(&inc)["timeline"]),
        acked
    );

    // The operator stops warroom, repairs the disk and starts it again: every acknowledged
    // entry is there, the refused one is not, and it verifies and takes writes.
    let mut server = server;
    unsafe { libc::kill(server.child.id() as i32, libc::SIGTERM) };
    let _ = server.child.wait();
    drop(server);
    disk.repair();
    s.run(&["--data", data.to_str().unwrap(), "ledger", "verify"])
        .expect_code(0);
    let server = serve(&s, &data);
    let api = Api::new(&server.addr);
    let timeline = api.incident(&inc)["timeline"].clone();
    assert_eq!(warroom_tests::seq_hash(&timeline), acked);
    assert!(!timeline.to_string().contains("note while read-only"));
    api.ok("carol", "note after the repair", Some(&inc));
}
