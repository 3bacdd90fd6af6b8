//! Acknowledged means durable: kill -9 right after the id is printed loses nothing.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use warroom_tests::Scratch;

#[test]
fn an_incident_survives_sigkill_the_moment_its_id_is_printed() {
    let s = Scratch::new();
    for round in 0..5 {
        let mut child = s
            .command(&[
                "incident",
                "open",
                "--title",
                &format!("round {round}"),
                "--severity",
                "sev1",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        // SIGKILL: no destructors, no flush on exit.
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        let _ = child.wait();
        let id = line.trim();
        assert!(id.starts_with("INC-"), "got {line:?}");

        let show = s
            .run(&["--json", "incident", "show", id])
            .expect_code(0)
            .stdout();
        let show: serde_json::Value = serde_json::from_str(&show).unwrap();
        assert_eq!(show["incident"]["title"], format!("round {round}"));
        assert_eq!(show["entries"][0]["kind"], "incident.opened");
        assert_eq!(show["entries"][0]["seq"], 0);
    }
    s.run(&["ledger", "verify"]).expect_code(0);
}

#[test]
fn a_kill_during_the_very_first_start_leaves_a_folder_that_starts() {
    for (round, delay_ms) in [5u64, 20, 40, 60, 80, 100, 150, 250]
        .into_iter()
        .enumerate()
    {
        let s = Scratch::new();
        let mut child = s
            .command(&["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        // SIGKILL somewhere inside creating the data folder.
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        let _ = child.wait();
        let verify = s.run(&["ledger", "verify"]);
        assert!(
            verify.code() == 0 || verify.code() == 2,
            "round {round} ({delay_ms} ms): verify must not call the folder damaged:\n{}",
            verify.stderr()
        );
        assert!(
            !verify.stderr().contains("not a warroom journal"),
            "{}",
            verify.stderr()
        );
        // The folder is finished by the next start, which then records as usual.
        let server = warroom_tests::Server::start(&s, &[]);
        let api = warroom_tests::api::Api::new(&server.addr);
        api.open_incident("after a killed first start");
        drop(server);
        s.run(&["ledger", "verify"]).expect_code(0);
    }
}
