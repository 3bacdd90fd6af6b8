//! The two-person rule over the HTTP command API, against a running `warroom serve`.
//! Every rule of DESIGN.md §4, each with what is recorded and what is not.

use std::time::Duration;

use serde_json::{Value, json};
use warroom_tests::api::{Api, plan_with};
use warroom_tests::drill::Drill;
use warroom_tests::{Scratch, Server};

const QUARANTINE: &str = "quarantine pod payments/api-7f9c --reason \"shell spawned\"";

fn drill(extra: &[(&str, &str)]) -> (Scratch, Server, Api) {
    let s = Scratch::new();
    let mut replacements = vec![("drill = false", "drill = true")];
    replacements.extend_from_slice(extra);
    let plan = s.write("plan.toml", &plan_with(&replacements));
    let server = Server::start(&s, &["--config", plan.to_str().unwrap()]);
    let api = Api::new(&server.addr);
    (s, server, api)
}

fn count(kinds: &[String], kind: &str) -> usize {
    kinds.iter().filter(|k| *k == kind).count()
}

#[test]
fn self_approval_is_refused_and_records_nothing() {
    let (_s, _server, api) = drill(&[]);
    let inc = api.open_incident("shell in api");
    let r = api.ok("alice", QUARANTINE, Some(&inc));
    assert_eq!(r["request_id"], "R1");
    assert_eq!(r["status"], "pending");
    let before = api.kinds(&inc);
    let (status, reply) = api.command("alice", "approve R1", Some(&inc));
    assert_eq!(status, 403, "{reply}");
    assert_eq!(
        reply["message"],
        "alice asked for R1 and cannot approve it: a second person must"
    );
    assert_eq!(api.kinds(&inc), before, "a refused approval writes nothing");
    assert_eq!(api.request(&inc, "R1")["status"], "pending");
}

#[test]
fn self_approval_is_refused_across_accounts() {
    // One person, two accounts (two tokens): still one person.
    let s = Scratch::new();
    // Tokens work in drill mode too (the drill cluster keeps this test off real clusters).
    let plan = plan_with(&[
        ("drill = false", "drill = true"),
        (
            "[[console.tokens]]\nperson = \"bob\"",
            "[[console.tokens]]\nperson = \"alice\"\ntoken = { env = \"ALICE_SECOND\" }\n\n[[console.tokens]]\nperson = \"bob\"",
        ),
    ]);
    let plan = s.write("plan.toml", &plan);
    let first = "alice-first-token-0123456789";
    let second = "alice-phone-token-0123456789";
    let bob = "bob-token-0123456789abcdef";
    let server = Server::start_with_env(
        &s,
        &["--config", plan.to_str().unwrap()],
        &[
            ("WARROOM_TOKEN_ALICE", first),
            ("ALICE_SECOND", second),
            ("WARROOM_TOKEN_BOB", bob),
        ],
    );
    let api = Api::new(&server.addr);
    let cmd = |token: &str, text: &str, inc: Option<&str>| {
        let mut body = json!({ "text": text });
        if let Some(i) = inc {
            body["incident"] = json!(i);
        }
        api.post_json("/api/v1/command", Some(token), &body.to_string())
    };
    let (status, opened) = cmd(
        first,
        "incident open \"two accounts\" --severity sev2",
        None,
    );
    assert_eq!(status, 200, "{opened}");
    let inc = opened["incident"].as_str().unwrap().to_owned();
    let (status, r) = cmd(first, QUARANTINE, Some(&inc));
    assert_eq!((status, r["request_id"].as_str()), (200, Some("R1")), "{r}");
    let (status, r) = cmd(second, "approve R1", Some(&inc));
    assert_eq!(status, 403, "{r}");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("alice asked for R1 and cannot approve it"),
        "{r}"
    );
    // Claiming to be someone else with your own token is refused too.
    let (status, r) = api.post_json(
        "/api/v1/command",
        Some(second),
        &json!({"person": "bob", "text": "approve R1", "incident": inc}).to_string(),
    );
    assert_eq!(status, 403, "{r}");
    assert_eq!(r["message"], "this token acts as alice, not bob");
    let (status, r) = cmd(bob, "approve R1", Some(&inc));
    assert_eq!(
        (status, r["status"].as_str()),
        (200, Some("executed")),
        "{r}"
    );
}

#[test]
fn each_person_counts_once_and_a_second_approver_is_needed_for_delete() {
    let (_s, _server, api) = drill(&[]);
    let inc = api.open_incident("delete drill");
    let r = api.ok("erin", "delete pod payments/api-7f9c --reason \"rebuild from clean image\" --override \"memory dump taken by hand\"", Some(&inc));
    assert_eq!(r["status"], "pending");
    let r = api.ok("carol", "approve R1", Some(&inc));
    assert_eq!(r["status"], "pending", "{r}");
    assert!(
        r["message"].as_str().unwrap().contains("1 more approval"),
        "{r}"
    );
    let (status, r) = api.command("carol", "approve R1", Some(&inc));
    assert_eq!(status, 403, "{r}");
    assert_eq!(
        r["message"],
        "carol already approved R1; each person counts once"
    );
    let r = api.ok("dave", "approve R1", Some(&inc));
    assert_eq!(r["status"], "executed", "{r}");
    let req = api.request(&inc, "R1");
    assert_eq!(req["approvers"], json!(["carol", "dave"]));
    assert_eq!(req["spec"]["override_reason"], "memory dump taken by hand");
}

#[test]
fn approval_after_expiry_is_refused_and_the_expiry_recorded() {
    let (_s, _server, api) = drill(&[("pending_ttl = \"15m\"", "pending_ttl = \"1s\"")]);
    let inc = api.open_incident("slow approver");
    api.ok("alice", QUARANTINE, Some(&inc));
    std::thread::sleep(Duration::from_millis(1300));
    let (status, r) = api.command("bob", "approve R1", Some(&inc));
    assert_eq!(status, 409, "{r}");
    // Refused as expired either way: by the approval's own check ("R1 expired at …"), or
    // after the sweeper (once a second) recorded the expiry first ("R1 is expired; …").
    let m = r["message"].as_str().unwrap();
    assert!(
        m.contains("R1 expired at") || m.contains("R1 is expired"),
        "{r}"
    );
    let req = api.request(&inc, "R1");
    assert_eq!(req["status"], "expired");
    assert!(req["approvers"].as_array().unwrap().is_empty());
    let kinds = api.kinds(&inc);
    assert_eq!(count(&kinds, "request.expired"), 1, "{kinds:?}");
    assert_eq!(count(&kinds, "request.executing"), 0, "{kinds:?}");
}

#[test]
fn the_sweeper_expires_requests_nobody_decides() {
    let (_s, _server, api) = drill(&[("pending_ttl = \"15m\"", "pending_ttl = \"1s\"")]);
    let inc = api.open_incident("nobody answers");
    api.ok("alice", QUARANTINE, Some(&inc));
    // Recorded, then said: wait for both.
    let messages = api.wait_until(&inc, "R1 to expire on its own", |b| {
        b["incident"]["requests"][0]["status"] == "expired"
            && b["messages"].to_string().contains("R1 expired")
    })["messages"]
        .to_string();
    assert!(messages.contains("R1 expired"), "{messages}");
}

#[test]
fn one_deny_ends_the_request() {
    let (_s, _server, api) = drill(&[]);
    let inc = api.open_incident("deny");
    api.ok("alice", QUARANTINE, Some(&inc));
    let r = api.ok(
        "bob",
        "deny R1 wrong pod, the shell was a debug session",
        Some(&inc),
    );
    assert_eq!(r["status"], "denied");
    let (status, r) = api.command("carol", "approve R1", Some(&inc));
    assert_eq!(status, 409, "{r}");
    assert_eq!(
        r["message"],
        "R1 is denied; nothing more can be decided on it"
    );
    let req = api.request(&inc, "R1");
    assert_eq!(
        req["outcome"],
        "denied by bob: wrong pod, the shell was a debug session"
    );
    assert_eq!(count(&api.kinds(&inc), "request.executing"), 0);
}

#[test]
fn approval_after_the_target_was_replaced_is_stale_and_nothing_runs() {
    let (_s, server, api) = drill(&[]);
    let inc = api.open_incident("pod recreated");
    api.ok("alice", QUARANTINE, Some(&inc));
    let uid = api.request(&inc, "R1")["spec"]["uid"]
        .as_str()
        .unwrap()
        .to_owned();
    // The pod is deleted and recreated under the same name: a new object, a new UID.
    let drill = Drill::of(&server, "prod-eu");
    let path = "/api/v1/namespaces/payments/pods/api-7f9c";
    let mut pod = drill.object(path);
    assert_eq!(drill.delete(path).0, 200);
    // A bare pod of the same name: with its owner reference the ReplicaSet, already back to
    // full strength, would delete it again.
    for field in [
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "ownerReferences",
    ] {
        pod["metadata"].as_object_mut().unwrap().remove(field);
    }
    let (status, created) = drill.post("/api/v1/namespaces/payments/pods", &pod);
    assert!(status < 300, "{created}");
    assert_ne!(created["metadata"]["uid"], uid.as_str());
    let (status, r) = api.command("bob", "approve R1", Some(&inc));
    assert_eq!(status, 409, "{r}");
    let message = r["message"].as_str().unwrap();
    assert!(
        message.contains("R1 is stale and nothing ran") && message.contains(&uid),
        "{message}"
    );
    let kinds = api.kinds(&inc);
    assert_eq!(
        (
            count(&kinds, "request.stale"),
            count(&kinds, "request.approved"),
            count(&kinds, "request.executing")
        ),
        (1, 0, 0),
        "{kinds:?}"
    );
    let (status, _) = api.command("carol", "approve R1", Some(&inc));
    assert_eq!(status, 409);
}

#[test]
fn racing_approvals_execute_exactly_once() {
    let (_s, _server, api) = drill(&[]);
    let inc = api.open_incident("race");
    for round in 1..=8 {
        let id = format!("R{round}");
        // Quarantine and release in turn: asking again for what is already done is refused.
        let ask = if round % 2 == 1 {
            QUARANTINE
        } else {
            "release pod payments/api-7f9c --reason \"round over\""
        };
        let r = api.ok("alice", ask, Some(&inc));
        assert_eq!(r["request_id"], id.as_str());
        let results: Vec<(u16, Value)> = std::thread::scope(|scope| {
            let handles: Vec<_> = ["bob", "carol", "dave"]
                .into_iter()
                .map(|who| {
                    let api = &api;
                    let (inc, id) = (&inc, &id);
                    scope.spawn(move || api.command(who, &format!("approve {id}"), Some(inc)))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let won = results.iter().filter(|(s, _)| *s == 200).count();
        assert_eq!(won, 1, "round {round}: {results:?}");
        for (status, reply) in results.iter().filter(|(s, _)| *s != 200) {
            assert!(
                *status == 409 || *status == 403,
                "round {round}: {status} {reply}"
            );
        }
    }
    let kinds = api.kinds(&inc);
    assert_eq!(count(&kinds, "request.approved"), 8, "{kinds:?}");
    assert_eq!(count(&kinds, "request.executing"), 8, "{kinds:?}");
    assert_eq!(count(&kinds, "request.executed"), 8, "{kinds:?}");
}

#[test]
fn break_glass_runs_alone_and_opens_a_review_by_two_others() {
    let (_s, _server, api) = drill(&[]);
    let inc = api.open_incident("exfiltration");
    api.ok("alice", QUARANTINE, Some(&inc));
    let (status, r) = api.command(
        "alice",
        "break-glass R1 --reason \"data leaving now\"",
        Some(&inc),
    );
    assert_eq!(status, 403, "{r}");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("may not break glass"),
        "{r}"
    );
    let r = api.ok(
        "carol",
        "break-glass R1 --reason \"data leaving now\"",
        Some(&inc),
    );
    assert_eq!(r["status"], "executed", "{r}");
    let messages = api.incident(&inc)["messages"].to_string();
    assert!(messages.contains("BREAK-GLASS"), "{messages}");
    for (who, why) in [
        ("carol", "broke the glass themselves"),
        ("alice", "they asked for it"),
    ] {
        let (status, r) = api.command(who, "approve R1", Some(&inc));
        assert_eq!(status, 403, "{r}");
        assert!(r["message"].as_str().unwrap().contains(why), "{r}");
    }
    assert!(
        api.ok("bob", "approve R1", Some(&inc))["message"]
            .as_str()
            .unwrap()
            .contains("one more reviewer")
    );
    assert!(
        api.ok("dave", "approve R1", Some(&inc))["message"]
            .as_str()
            .unwrap()
            .contains("review is closed")
    );
    let req = api.request(&inc, "R1");
    assert_eq!(req["break_glass"]["by"], "carol");
    assert_eq!(req["break_glass"]["reviewers"], json!(["bob", "dave"]));
    let kinds = api.kinds(&inc);
    assert_eq!(
        (
            count(&kinds, "request.break_glass"),
            count(&kinds, "review.signed"),
            count(&kinds, "request.executed")
        ),
        (1, 2, 1),
        "{kinds:?}"
    );
}

#[test]
fn a_crash_while_executing_is_reported_as_outcome_unknown_and_never_rerun() {
    let s = Scratch::new();
    let server = Server::start(&s, &[]);
    let api = Api::new(&server.addr);
    let inc = api.open_incident("crash mid-action");
    api.ok("alice", QUARANTINE, Some(&inc));
    // A slow API server: the quarantine's patch hangs while warroom is killed.
    let (code, v) = Drill::of(&server, "prod-eu").post("/drill/latency", &json!({ "ms": 60000 }));
    assert!(code < 300, "{v}");
    let r = api.ok("bob", "approve R1", Some(&inc));
    assert!(r["message"].as_str().unwrap().contains("running"), "{r}");
    api.wait_until(&inc, "R1 executing", |b| {
        b["incident"]["requests"][0]["status"] == "executing"
    });
    let mut server = server;
    unsafe { libc::kill(server.child.id() as i32, libc::SIGKILL) };
    let _ = server.child.wait();
    drop(server);

    let server = Server::start(&s, &[]);
    let api = Api::new(&server.addr);
    let body = api.wait_until(&inc, "the restart to mark R1", |b| {
        b["incident"]["requests"][0]["status"] == "outcome_unknown"
    });
    assert!(
        body["messages"]
            .to_string()
            .contains("R1 outcome unknown — verify"),
        "{}",
        body["messages"]
    );
    let kinds = api.kinds(&inc);
    assert_eq!(
        (
            count(&kinds, "request.executing"),
            count(&kinds, "request.outcome_unknown"),
            count(&kinds, "request.executed")
        ),
        (1, 1, 0),
        "{kinds:?}"
    );
    let (status, r) = api.command("carol", "approve R1", Some(&inc));
    assert_eq!(status, 409, "{r}");
    // A second restart does not mark it again.
    drop(server);
    let server = Server::start(&s, &[]);
    let api = Api::new(&server.addr);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(count(&api.kinds(&inc), "request.outcome_unknown"), 1);
    let (status, v) = api.get("/api/v1/ledger/verify");
    assert_eq!((status, &v["intact"]), (200, &json!(true)), "{v}");
}

#[test]
fn resolving_cannot_close_requests_the_resolver_could_not_deny() {
    let (_s, _server, api) = drill(&[]);
    let inc = api.open_incident("shell in api");
    api.ok("alice", QUARANTINE, Some(&inc));
    // frank (comms, scribe) may not approve or deny R1: resolving would close it for him.
    let before = api.kinds(&inc);
    let (status, r) = api.command("frank", "incident resolve --confirm \"done\"", Some(&inc));
    assert_eq!(status, 403, "{r}");
    let said = r["message"].as_str().unwrap();
    assert!(
        said.contains("frank may not close this one")
            && said.contains("R1 quarantine pod payments/api-7f9c")
            && said.contains("frank (comms, scribe) may not approve quarantine"),
        "{said}"
    );
    assert_eq!(api.kinds(&inc), before, "nothing was recorded");
    assert_eq!(api.request(&inc, "R1")["status"], "pending");
    // bob may deny it, so he may resolve; R1 is cancelled with the incident.
    api.ok("bob", "incident resolve --confirm \"done\"", Some(&inc));
    assert_eq!(api.incident(&inc)["incident"]["status"], "resolved");
    assert_eq!(api.request(&inc, "R1")["status"], "cancelled");
}
