//! AWS actions against moto server's real EC2, Auto Scaling and STS state: a drill node whose
//! providerID names a moto instance is snapshotted, protected and unprotected through the
//! two-person rule, and the failures (Spot, non-AWS node, unknown instance) are said plainly
//! with a consistent ledger.

use std::time::Duration;

use serde_json::{Value, json};
use warroom_tests::api::Api;
use warroom_tests::aws_faults::AwsFaults;
use warroom_tests::drill::Drill;
use warroom_tests::moto::{AWS_ENV, Moto, drill_plan_with_aws_at};
use warroom_tests::{Scratch, Server};

const NODE1: &str = "ip-10-0-1-23.ec2.internal";
const NODE2: &str = "ip-10-0-2-41.ec2.internal";

struct Aws {
    s: Scratch,
    server: Server,
    api: Api,
    drill: Drill,
    moto: Moto,
    faults: AwsFaults,
}

/// warroom's AWS calls go through the fault stand-in, which passes them to moto unless told
/// to fail one.
/// A role named `checkout-web` here, and EKS Pod Identity associating checkout's default
/// service account with `role_arn` (that role, or one in another account).
fn pod_identity(a: &Aws, role_arn: &str) {
    a.moto.aws(&["role", "checkout-web"]);
    a.moto.aws(&["eks-cluster", "prod-eu-central-1"]);
    a.moto.aws(&[
        "pod-identity",
        "prod-eu-central-1",
        "checkout",
        "default",
        role_arn,
    ]);
}

fn start() -> Aws {
    start_with(&[])
}

/// As [`start`], with more environment for warroom.
fn start_with(env: &[(&str, &str)]) -> Aws {
    let moto = Moto::start();
    let faults = AwsFaults::start(&moto.endpoint);
    let s = Scratch::new();
    let file = s.write("plan.toml", &drill_plan_with_aws_at(&faults.endpoint));
    let mut all = AWS_ENV.to_vec();
    all.extend_from_slice(env);
    let server = Server::start_with_env(&s, &["--config", file.to_str().unwrap()], &all);
    let api = Api::new(&server.addr);
    let drill = Drill::of(&server, "prod-eu");
    Aws {
        s,
        server,
        api,
        drill,
        moto,
        faults,
    }
}

impl Aws {
    /// A moto instance in `zone` made with `args` (`--group`, `--spot`, `--profile`), and the
    /// drill node pointed at it; what moto_aws.py said about it.
    fn instance_for(&self, node: &str, zone: &str, args: &[&str]) -> Value {
        let made = self.moto.aws(&[&["node", zone], args].concat());
        let id = made["instance"].as_str().unwrap();
        self.node_is(node, &format!("aws:///{zone}/{id}"));
        made
    }

    /// Point a drill node at an instance (or at whatever `provider_id` says).
    fn node_is(&self, node: &str, provider_id: &str) {
        let (code, v) = self.drill.merge_patch(
            &format!("/api/v1/nodes/{node}"),
            &json!({ "spec": { "providerID": provider_id } }),
        );
        assert!(code < 300, "{v}");
    }

    /// The role's `AWSRevokeOlderSessions` inline policy (null when it has none).
    fn revocation(&self, role: &str) -> Value {
        self.moto
            .aws(&["role-policy", role, "AWSRevokeOlderSessions"])
    }

    fn state(&self, instance: &str) -> Value {
        self.moto.aws(&["state", instance])
    }

    /// alice asks, bob approves; bob's answer.
    fn asked_and_approved(&self, inc: &str, command: &str, request: &str) -> (u16, Value) {
        let asked = self.api.ok("alice", command, Some(inc));
        assert_eq!(asked["status"], "pending", "{asked}");
        self.approve("bob", request, inc)
    }

    /// dave asks to undo the revocation of payments/api-7f9c's role: the incident's cards.
    fn ask_unrevoke(&self, inc: &str) -> String {
        self.api.ok(
            "dave",
            "unrevoke creds pod payments/api-7f9c --reason \"keys rotated\"",
            Some(inc),
        );
        self.api.incident(inc)["messages"].to_string()
    }

    /// `who` approves `request`. A run that outlives the reply's wait (many calls to moto
    /// on a busy machine) answers "executing": it is waited for, and its outcome answered as
    /// the reply would have been (200 when executed, else 500, with the outcome's words).
    fn approve(&self, who: &str, request: &str, inc: &str) -> (u16, Value) {
        let (status, r) = self
            .api
            .command(who, &format!("approve {request}"), Some(inc));
        if r["status"] != "executing" {
            return (status, r);
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let q = self.api.request(inc, request);
            if q["status"] != "executing" {
                let code = if q["status"] == "executed" { 200 } else { 500 };
                let reply = serde_json::json!({
                    "ok": code == 200,
                    "status": q["status"],
                    "message": q["outcome"],
                    "request_id": request,
                });
                return (code, reply);
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{request} still executing after 60 s: {q}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

fn message(reply: &Value) -> String {
    reply["message"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn a_node_is_snapshotted_protected_and_unprotected_in_moto_through_two_people() {
    let a = start();
    let made = a.instance_for(NODE1, "eu-central-1a", &["--group", "eks-general"]);
    let instance = made["instance"].as_str().unwrap().to_owned();
    let inc = a.api.open_incident("crypto miner on a payments node");

    // Snapshot: every attached volume, tagged, progress posted, recorded as evidence.
    let snapshot = format!("snapshot node {NODE1} --reason \"disk evidence\"");
    let (status, r) = a.asked_and_approved(&inc, &snapshot, "R1");
    assert_eq!(status, 200, "{r}");
    let said = message(&r);
    assert!(
        said.contains("all completed") && said.contains(&instance),
        "{said}"
    );
    let request = a.api.request(&inc, "R1");
    assert_eq!(request["status"], "executed", "{request}");
    let snaps = a.state(&instance)["snapshots"].as_array().cloned().unwrap();
    assert!(!snaps.is_empty(), "snapshots exist in moto");
    for volume in made["volumes"].as_array().unwrap() {
        let snap = snaps
            .iter()
            .find(|s| s["volume"] == *volume)
            .unwrap_or_else(|| panic!("no snapshot of {volume} in {snaps:?}"));
        assert_eq!(snap["state"], "completed");
        let tags = &snap["tags"];
        assert_eq!(tags["warroom:incident"], inc.as_str(), "{snap}");
        assert_eq!(tags["warroom:node"], NODE1);
        assert_eq!(tags["warroom:requester"], "alice");
        assert_eq!(tags["warroom:approver"], "bob");
    }
    let body = a.api.incident(&inc);
    let evidence = body["evidence"].as_array().cloned().unwrap_or_default();
    assert!(
        evidence
            .iter()
            .any(|e| e["name"] == format!("snapshots-{instance}.json").as_str()),
        "{evidence:?}"
    );
    // Progress is one status message, edited in place until every snapshot completed.
    let status: Vec<String> = body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["text"].as_str())
        .filter(|t| t.starts_with(&format!("snapshot {NODE1}:")))
        .map(str::to_owned)
        .collect();
    assert_eq!(status.len(), 1, "one progress message: {status:?}");
    assert!(
        status[0].contains("100%") && status[0].contains("completed"),
        "progress was posted and edited to its end: {status:?}"
    );

    // Protect: termination and stop disabled, scale-in protection on, Karpenter annotation.
    let protect = format!("protect node {NODE1} --reason \"keep the evidence\"");
    a.api.ok("alice", &protect, Some(&inc));
    let cards = a.api.incident(&inc)["messages"].to_string();
    assert!(
        cards.contains("DisableApiTermination false → true")
            && cards.contains("scale-in protection in group eks-general"),
        "the card says what will change: {cards}"
    );
    let (status, r) = a.approve("bob", "R2", &inc);
    assert_eq!(status, 200, "{r}");
    let now = a.state(&instance);
    assert_eq!(now["disable_api_termination"], true, "{now}");
    assert_eq!(now["disable_api_stop"], true, "{now}");
    assert_eq!(now["protected_from_scale_in"], true, "{now}");
    let node = a.drill.object(&format!("/api/v1/nodes/{NODE1}"));
    assert_eq!(
        node["metadata"]["annotations"]["karpenter.sh/do-not-disrupt"],
        "true"
    );

    // Unprotect undoes each part, and says so.
    let (status, r) = a.asked_and_approved(
        &inc,
        &format!("unprotect node {NODE1} --reason \"imaged\""),
        "R3",
    );
    assert_eq!(status, 200, "{r}");
    assert!(message(&r).contains("unprotected"), "{r}");
    let now = a.state(&instance);
    assert_eq!(now["disable_api_termination"], false, "{now}");
    assert_eq!(now["disable_api_stop"], false, "{now}");
    assert_eq!(now["protected_from_scale_in"], false, "{now}");
    let node = a.drill.object(&format!("/api/v1/nodes/{NODE1}"));
    assert!(
        node["metadata"]["annotations"]
            .get("karpenter.sh/do-not-disrupt")
            .is_none(),
        "{node}"
    );
    // The timeline holds each part's value before and after.
    let timeline = a.api.incident(&inc)["timeline"].clone();
    let executed = timeline
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "request.executed" && e["data"]["request"] == "R3")
        .unwrap_or_else(|| panic!("no request.executed for R3: {timeline}"));
    let parts = executed["data"]["result"]["parts"].as_array().unwrap();
    let stop = parts
        .iter()
        .find(|p| p["part"] == "DisableApiStop")
        .unwrap();
    assert_eq!(
        (stop["before"].clone(), stop["after"].clone()),
        (json!(true), json!(false))
    );
}

#[test]
fn spot_non_aws_and_missing_instances_are_refused_plainly_and_nothing_changes() {
    let a = start();
    let spot = a.instance_for(NODE2, "eu-central-1b", &["--spot"]);
    let spot_id = spot["instance"].as_str().unwrap().to_owned();
    let inc = a.api.open_incident("suspicious nodes");

    // A Spot instance cannot be protected: said, nothing set.
    let (status, r) = a.asked_and_approved(&inc, &format!("protect node {NODE2} --reason r"), "R1");
    assert_eq!(status, 500, "{r}");
    assert_eq!(r["ok"], false);
    assert!(message(&r).contains("Spot instance"), "{r}");
    assert_eq!(a.api.request(&inc, "R1")["status"], "failed");
    assert_eq!(a.state(&spot_id)["disable_api_termination"], false);

    // A node on another provider: plain words, nothing called.
    a.node_is(NODE1, "gce://warroom/europe-west1-b/node-1");
    let (status, r) =
        a.asked_and_approved(&inc, &format!("snapshot node {NODE1} --reason r"), "R2");
    assert_eq!(status, 500, "{r}");
    assert!(message(&r).contains("not on EC2"), "{r}");

    // An instance that does not exist (terminated long ago): named.
    a.node_is(NODE1, "aws:///eu-central-1a/i-0123456789abcdef0");
    let (status, r) =
        a.asked_and_approved(&inc, &format!("snapshot node {NODE1} --reason r"), "R3");
    assert_eq!(status, 500, "{r}");
    let said = message(&r);
    assert!(
        said.contains("i-0123456789abcdef0") && said.contains("not found"),
        "{said}"
    );
    // Each failure is one outcome in the ledger: failed, never half-recorded.
    for r in ["R1", "R2", "R3"] {
        assert_eq!(a.api.request(&inc, r)["status"], "failed", "{r}");
    }
    // Failures are counted by kind, for alerting on a role that lost a permission.
    let (_, metrics) = a.server.get("/metrics");
    assert!(
        metrics.contains("warroom_action_failures_total{action=\"protect\",kind=\"conflict\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("warroom_action_failures_total{action=\"snapshot\",kind=\"not_found\"} 1"),
        "{metrics}"
    );
    let ours: Vec<Value> = a.state(&spot_id)["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["tags"].get("warroom:incident").is_some())
        .cloned()
        .collect();
    assert!(ours.is_empty(), "no snapshot was taken: {ours:?}");
}

#[test]
fn throttling_is_retried_and_access_denied_names_what_was_already_applied() {
    let a = start();
    let made = a.instance_for(NODE1, "eu-central-1a", &["--group", "eks-general"]);
    let instance = made["instance"].as_str().unwrap().to_owned();
    let inc = a.api.open_incident("throttled and denied");

    // Throttled twice: the SDK's retries get through on the third attempt.
    a.faults.fail("CreateSnapshots", "Throttling", 2);
    let (status, r) =
        a.asked_and_approved(&inc, &format!("snapshot node {NODE1} --reason r"), "R1");
    assert_eq!(status, 200, "{r}");
    // The SDK backs off between attempts: the answer may be "running" before the outcome.
    a.api.wait_until(&inc, "R1 to run", |b| {
        b["incident"]["requests"][0]["status"] == "executed"
    });
    assert_eq!(a.faults.count("CreateSnapshots"), (2, 1));

    // Throttled for good: said as throttling, the request failed, nothing half-recorded.
    a.faults.fail("CreateSnapshots", "RequestLimitExceeded", 10);
    let (status, r) =
        a.asked_and_approved(&inc, &format!("snapshot node {NODE1} --reason again"), "R2");
    // The SDK backs off between attempts, so the answer may come before the outcome.
    assert!(status == 500 || r["status"] == "executing", "{r}");
    let body = a.api.wait_until(&inc, "R2 to fail", |b| {
        b["incident"]["requests"][1]["status"] == "failed"
    });
    let outcome = body["incident"]["requests"][1]["outcome"].to_string();
    assert!(outcome.contains("throttled: CreateSnapshots"), "{outcome}");
    assert_eq!(
        a.faults.count("CreateSnapshots").0,
        2 + 3,
        "three attempts, then given up"
    );

    // The role may not change the group's protection: the parts already applied are named,
    // and they are really applied (so `unprotect` is the way back).
    a.faults.fail("SetInstanceProtection", "AccessDenied", 10);
    let (status, r) = a.asked_and_approved(&inc, &format!("protect node {NODE1} --reason r"), "R3");
    assert_eq!(status, 500, "{r}");
    let said = message(&r);
    assert!(
        said.contains("access denied: SetInstanceProtection"),
        "{said}"
    );
    assert!(
        said.contains("already applied: DisableApiTermination, DisableApiStop"),
        "{said}"
    );
    let now = a.state(&instance);
    assert_eq!(now["disable_api_termination"], true, "{now}");
    assert_eq!(now["protected_from_scale_in"], false, "{now}");
    assert_eq!(a.api.request(&inc, "R3")["status"], "failed");
}

#[test]
fn unprotect_leaves_on_what_was_on_before_protect() {
    let a = start();
    let made = a.instance_for(NODE1, "eu-central-1a", &[]);
    let instance = made["instance"].as_str().unwrap().to_owned();
    // Its owners keep termination protection on, whatever any incident does.
    a.moto.aws(&["termination-protection", &instance]);
    let inc = a.api.open_incident("protect and give back");
    let (status, r) =
        a.asked_and_approved(&inc, &format!("protect node {NODE1} --reason keep"), "R1");
    assert_eq!(status, 200, "{r}");
    a.api.ok(
        "alice",
        &format!("unprotect node {NODE1} --reason imaged"),
        Some(&inc),
    );
    // The card says what will really change, and what stays as it was.
    let cards = a.api.incident(&inc)["messages"].to_string();
    assert!(
        cards.contains("DisableApiTermination true → true")
            && cards.contains("DisableApiStop true → false"),
        "{cards}"
    );
    let (status, r) = a.approve("bob", "R2", &inc);
    assert_eq!(status, 200, "{r}");
    let said = message(&r);
    assert!(
        said.contains("termination still disabled (as before protect)")
            && said.contains("stop allowed again"),
        "{said}"
    );
    let now = a.state(&instance);
    assert_eq!(now["disable_api_termination"], true, "{now}");
    assert_eq!(now["disable_api_stop"], false, "{now}");
}

#[test]
fn a_protect_that_failed_half_way_records_its_parts_and_unprotect_sets_back_only_those() {
    let a = start();
    let made = a.instance_for(NODE1, "eu-central-1a", &["--group", "eks-general"]);
    let instance = made["instance"].as_str().unwrap().to_owned();
    // Its owners keep termination protection on, and Karpenter off the node, whatever any
    // incident does.
    a.moto.aws(&["termination-protection", &instance]);
    let node = format!("/api/v1/nodes/{NODE1}");
    let annotation = "karpenter.sh/do-not-disrupt";
    let (code, v) = a.drill.merge_patch(
        &node,
        &json!({ "metadata": { "annotations": { annotation: "true" } } }),
    );
    assert!(code < 300, "{v}");
    let inc = a.api.open_incident("half protected");
    // The role may not change the group's protection (once): termination and stop are applied.
    a.faults.fail("SetInstanceProtection", "AccessDenied", 1);
    let (status, r) =
        a.asked_and_approved(&inc, &format!("protect node {NODE1} --reason keep"), "R1");
    assert_eq!(status, 500, "{r}");
    let failed = a.api.entry(&inc, "request.failed", "R1");
    let parts = failed["data"]["result"]["parts"].to_string();
    assert!(
        parts.contains("DisableApiTermination") && parts.contains("DisableApiStop"),
        "the applied parts are recorded with the failure: {failed}"
    );
    // Unprotect sets back what the failed protect applied, to what it found.
    a.api.ok(
        "alice",
        &format!("unprotect node {NODE1} --reason imaged"),
        Some(&inc),
    );
    let (status, r) = a.approve("bob", "R2", &inc);
    assert_eq!(status, 200, "{r}");
    assert!(
        message(&r).contains("termination still disabled (as before protect)")
            && message(&r).contains(&format!("{annotation} left as it is")),
        "{r}"
    );
    let now = a.state(&instance);
    assert_eq!(now["disable_api_termination"], true, "{now}");
    assert_eq!(now["disable_api_stop"], false, "{now}");
    // The part the failed protect never reached is as its owners left it.
    assert_eq!(
        a.drill.object(&node)["metadata"]["annotations"][annotation],
        "true"
    );
}

#[test]
fn a_snapshot_whose_answer_was_lost_is_adopted_and_never_taken_twice() {
    let a = start();
    let made = a.instance_for(NODE1, "eu-central-1a", &[]);
    let instance = made["instance"].as_str().unwrap().to_owned();
    let inc = a.api.open_incident("answer lost");
    // AWS makes the snapshots, and the answer is lost on the way back (a 500).
    a.faults.lose_answer("CreateSnapshots", 1);
    let (status, r) =
        a.asked_and_approved(&inc, &format!("snapshot node {NODE1} --reason r"), "R1");
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        a.faults.count("CreateSnapshots"),
        (1, 0),
        "the call whose answer was lost is not repeated"
    );
    // One snapshot per volume, not two: those the lost answer made, followed and recorded.
    let ours: Vec<Value> = a.state(&instance)["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["tags"]["warroom:request"] == "R1")
        .cloned()
        .collect();
    let volumes = made["volumes"].as_array().unwrap();
    assert_eq!(ours.len(), volumes.len(), "{ours:?}");
    for volume in volumes {
        assert!(
            ours.iter().any(|s| s["volume"] == *volume),
            "{volume}: {ours:?}"
        );
    }
    let evidence = a.api.incident(&inc)["evidence"].to_string();
    assert!(
        evidence.contains(&format!("snapshots-{instance}.json")),
        "{evidence}"
    );
}

#[test]
fn preflight_reports_identity_role_and_each_dry_run_without_changing_anything() {
    let a = start();
    let preflight = |a: &Aws| {
        let mut c = a.s.command(&[
            "--config",
            "plan.toml",
            "preflight",
            "--cluster",
            "prod-eu",
            "--json",
        ]);
        for (k, v) in AWS_ENV {
            c.env(k, v);
        }
        let out = c.output().expect("run warroom preflight");
        let report: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code(), report["clusters"][0]["aws"].clone())
    };
    // The plan's role, allowed everything warroom does.
    a.moto.aws(&["role", "warroom-responder"]);
    let allow_all = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["ec2:*", "autoscaling:*", "iam:*", "eks:*"], "Resource": "*"}]});
    a.moto.aws(&[
        "put-policy",
        "warroom-responder",
        "responder",
        &allow_all.to_string(),
    ]);
    let (code, aws) = preflight(&a);
    assert_eq!(code, Some(0), "{aws}");
    assert_eq!(
        aws["caller"]["ok"], "arn:aws:sts::123456789012:user/moto",
        "{aws}"
    );
    assert_eq!(aws["assumed"]["ok"], "assumed", "{aws}");
    let verdicts: Vec<(String, String)> = aws["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["call"].as_str().unwrap().to_owned(),
                c["verdict"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        verdicts.contains(&("ec2:CreateSnapshots".into(), "allowed".into())),
        "{verdicts:?}"
    );
    // A role that may not snapshot: denied, named, and preflight fails.
    a.faults.fail("CreateSnapshots", "UnauthorizedOperation", 1);
    let (code, aws) = preflight(&a);
    assert_eq!(code, Some(1), "{aws}");
    let snap = aws["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["call"] == "ec2:CreateSnapshots")
        .unwrap()
        .clone();
    assert_eq!(snap["verdict"], "denied", "{snap}");
    assert!(
        snap["detail"].as_str().unwrap().contains("not authorized"),
        "{snap}"
    );
    // Dry runs only: nothing was snapshotted.
    assert_eq!(a.faults.count("CreateSnapshots"), (1, 1));

    // The calls without a dry run are asked of IAM's policy simulator against the role's
    // real policies: an explicit deny is named, and preflight fails.
    let verdict = |aws: &Value, call: &str| {
        aws["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["call"] == call)
            .cloned()
            .unwrap_or_else(|| panic!("{call} not checked: {aws}"))
    };
    assert_eq!(
        verdict(&aws, "autoscaling:SetInstanceProtection")["verdict"],
        "allowed"
    );
    let deny = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "iam:DeleteRolePolicy", "Resource": "*"}]});
    a.moto.aws(&[
        "put-policy",
        "warroom-responder",
        "no-undo",
        &deny.to_string(),
    ]);
    let (code, aws) = preflight(&a);
    assert_eq!(code, Some(1), "{aws}");
    let undo = verdict(&aws, "iam:DeleteRolePolicy");
    assert_eq!(undo["verdict"], "denied", "{undo}");
    assert!(
        undo["detail"].as_str().unwrap().contains("explicit deny"),
        "{undo}"
    );
    assert_eq!(verdict(&aws, "iam:PutRolePolicy")["verdict"], "allowed");
    assert_eq!(
        verdict(&aws, "eks:ListPodIdentityAssociations")["verdict"],
        "allowed"
    );
}

#[test]
fn a_revocation_approved_for_one_role_changes_nothing_when_the_pod_now_uses_another() {
    let a = start();
    a.moto.aws(&["role", "payments-api"]);
    a.moto.aws(&["role", "shared-node"]);
    let inc = a.api.open_incident("leaked credentials");
    a.api.ok(
        "dave",
        "revoke creds pod payments/api-7f9c --reason \"keys exfiltrated\"",
        Some(&inc),
    );
    let cards = a.api.incident(&inc)["messages"].to_string();
    assert!(cards.contains("role/payments-api"), "{cards}");
    // Before anyone approves, the service account is pointed at a role many workloads share.
    let (code, v) = a.drill.merge_patch(
        "/api/v1/namespaces/payments/serviceaccounts/api",
        &json!({ "metadata": { "annotations": {
            "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/shared-node" } } }),
    );
    assert!(code < 300, "{v}");
    let (status, r) = a.approve("carol", "R1", &inc);
    assert_eq!(status, 500, "{r}");
    assert!(
        message(&r).contains("was approved for role arn:aws:iam::123456789012:role/payments-api")
            && message(&r).contains("now uses role arn:aws:iam::123456789012:role/shared-node")
            && message(&r).contains("nothing was changed"),
        "{r}"
    );
    for role in ["payments-api", "shared-node"] {
        assert!(a.revocation(role).is_null(), "{role} was revoked");
    }
}

#[test]
fn revoking_a_pods_role_shows_the_blast_radius_and_denies_older_sessions_in_iam() {
    let a = start();
    // The drill's payments pods run as service account `api`, annotated with this role.
    a.moto.aws(&["role", "payments-api"]);
    a.moto
        .aws(&["role", "eks-general-node", "--profile", "eks-general"]);
    let node = a
        .moto
        .aws(&["node", "eu-central-1a", "--profile", "eks-general"]);
    let instance = node["instance"].as_str().unwrap().to_owned();
    a.node_is(NODE1, &format!("aws:///eu-central-1a/{instance}"));
    let inc = a.api.open_incident("leaked credentials");

    // The pod: its IRSA role, every pod sharing it on the card, and the warning that it is
    // not isolated yet.
    // Revocation is the security team's to ask for and a commander's to approve.
    a.api.ok(
        "dave",
        "revoke creds pod payments/api-7f9c --reason \"keys exfiltrated\"",
        Some(&inc),
    );
    let cards = a.api.incident(&inc)["messages"].to_string();
    assert!(
        cards.contains("role arn:aws:iam::123456789012:role/payments-api")
            && cards.contains("payments/api-7f9c")
            && cards.contains("payments/api-9x7q")
            && cards.contains("not isolated yet"),
        "the card shows the blast radius: {cards}"
    );
    let before = chrono::Utc::now();
    let (status, r) = a.approve("carol", "R1", &inc);
    assert_eq!(status, 200, "{r}");
    let policy = a.revocation("payments-api");
    let statement = &policy["Statement"][0];
    assert_eq!(statement["Effect"], "Deny", "{policy}");
    assert_eq!(statement["Action"], json!(["*"]));
    let cutoff = statement["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
        .as_str()
        .unwrap();
    let cutoff: chrono::DateTime<chrono::Utc> = cutoff.parse().unwrap();
    assert!(
        (cutoff - before).num_seconds().abs() <= 5,
        "sessions issued before the revocation: {cutoff} vs {before}"
    );

    // The node: its instance profile's role.
    a.api.ok(
        "dave",
        &format!("revoke creds node {NODE1} --reason \"node compromised\""),
        Some(&inc),
    );
    let (status, r) = a.approve("carol", "R2", &inc);
    assert_eq!(status, 200, "{r}");
    assert!(message(&r).contains("role/eks-general-node"), "{r}");
    assert!(!a.revocation("eks-general-node").is_null());

    // A pod whose service account has no role: nothing to revoke, said, nothing written.
    a.api.ok(
        "dave",
        "revoke creds pod checkout/web-6d8f4c-x7k2p --reason r",
        Some(&inc),
    );
    let (status, r) = a.approve("carol", "R3", &inc);
    assert!(status == 500 || status == 404, "{r}");
    assert!(
        message(&r).contains("no eks.amazonaws.com/role-arn")
            && message(&r).contains("no EKS Pod Identity association"),
        "{r}"
    );

    // The same pod once EKS Pod Identity associates its service account with a role: found
    // through EKS, and every pod of that service account is in the blast radius.
    pod_identity(&a, "arn:aws:iam::123456789012:role/checkout-web");
    a.api.ok(
        "dave",
        "revoke creds pod checkout/web-6d8f4c-x7k2p --reason \"token used from outside\"",
        Some(&inc),
    );
    let cards = a.api.incident(&inc)["messages"].to_string();
    assert!(
        cards.contains("role arn:aws:iam::123456789012:role/checkout-web"),
        "the Pod Identity role is on the card: {cards}"
    );
    let (status, r) = a.approve("carol", "R4", &inc);
    assert_eq!(status, 200, "{r}");
    assert!(!a.revocation("checkout-web").is_null());

    // Undo: the inline policy is deleted and the card said what comes back.
    let cards = a.ask_unrevoke(&inc);
    assert!(
        cards.contains("will delete the inline policy AWSRevokeOlderSessions from role arn:aws:iam::123456789012:role/payments-api")
            && cards.contains("work again"),
        "the undo card says what comes back: {cards}"
    );
    let (status, r) = a.approve("carol", "R5", &inc);
    assert_eq!(status, 200, "{r}");
    assert!(message(&r).contains("unrevoked role"), "{r}");
    assert!(
        a.revocation("payments-api").is_null(),
        "the revocation is gone"
    );
    let executed = a.api.request(&inc, "R5");
    assert_eq!(executed["status"], "executed", "{executed}");
    // Asking for the same undo again: R5 already did it, nothing is opened.
    let (status, r) = a.api.command(
        "dave",
        "unrevoke creds pod payments/api-7f9c --reason again",
        Some(&inc),
    );
    assert_eq!(status, 409, "{r}");
    assert!(
        message(&r).starts_with("R5 already did this (executed)"),
        "{r}"
    );
    // Undoing through another pod of the same role: nothing to undo, said, request failed.
    a.api.ok(
        "dave",
        "unrevoke creds pod payments/api-9x7q --reason again",
        Some(&inc),
    );
    let (status, r) = a.approve("carol", "R6", &inc);
    assert_eq!(status, 500, "{r}");
    assert!(message(&r).contains("no revocation to undo"), "{r}");
    assert_eq!(a.api.request(&inc, "R6")["status"], "failed");
}

#[test]
fn unrevoke_puts_back_a_revocation_that_was_in_place_before_the_incidents_revoke() {
    let a = start();
    a.moto.aws(&["role", "payments-api"]);
    // An earlier revocation, as the console's "Revoke active sessions" leaves it.
    let earlier = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Deny", "Action": ["*"], "Resource": ["*"],
            "Condition": { "DateLessThan": { "aws:TokenIssueTime": "2026-12-01T08:00:00Z" } }
        }]
    });
    a.moto.aws(&[
        "put-policy",
        "payments-api",
        "AWSRevokeOlderSessions",
        &earlier.to_string(),
    ]);
    let inc = a.api.open_incident("leaked again");
    a.api.ok(
        "dave",
        "revoke creds pod payments/api-7f9c --reason \"keys exfiltrated\"",
        Some(&inc),
    );
    let (status, r) = a.approve("carol", "R1", &inc);
    assert_eq!(status, 200, "{r}");
    let now = a.revocation("payments-api");
    assert_ne!(now, earlier, "the incident's revocation replaced it");

    // Undo: the earlier revocation comes back, and the card says so first.
    let cards = a.ask_unrevoke(&inc);
    assert!(
        cards.contains("will put back on role arn:aws:iam::123456789012:role/payments-api")
            && cards.contains("sessions issued before 2026-12-01T08:00:00Z stay denied"),
        "{cards}"
    );
    let (status, r) = a.approve("carol", "R2", &inc);
    assert_eq!(status, 200, "{r}");
    assert!(message(&r).contains("put back"), "{r}");
    assert_eq!(
        a.revocation("payments-api"),
        earlier,
        "the earlier revocation is in place again"
    );
}

#[test]
fn a_locked_snapshot_is_locked_in_moto_and_a_refused_lock_still_records_the_snapshots() {
    let a = start();
    let made = a.instance_for(NODE1, "eu-central-1a", &[]);
    let instance = made["instance"].as_str().unwrap().to_owned();
    let inc = a
        .api
        .open_incident("evidence that must outlive the attacker");

    // The plan's account locks snapshots in compliance mode for 30 days with a 24 h cool-off.
    let asked = a.api.ok(
        "alice",
        &format!("snapshot node {NODE1} --lock --reason \"legal hold\""),
        Some(&inc),
    );
    assert_eq!(asked["status"], "pending", "{asked}");
    let cards = a.api.incident(&inc)["messages"].to_string();
    assert!(
        cards.contains("then lock them in compliance mode for 30days (cool-off 1day)"),
        "the card says the lock: {cards}"
    );
    let (status, r) = a.approve("bob", "R1", &inc);
    assert_eq!(status, 200, "{r}");
    assert!(message(&r).contains("locked in compliance mode"), "{r}");
    let snaps: Vec<Value> = a.state(&instance)["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["tags"]["warroom:incident"] == inc.as_str())
        .cloned()
        .collect();
    assert!(!snaps.is_empty());
    for s in &snaps {
        assert_eq!(s["lock"]["LockState"], "compliance-cooloff", "{s}");
        assert_eq!(s["lock"]["LockDuration"], 30, "{s}");
    }
    let timeline = a.api.incident(&inc)["timeline"].to_string();
    assert!(
        timeline.contains(r#""lock":{"expires_on":"#)
            && timeline.contains(r#""state":"compliance-cooloff""#),
        "the lock is recorded with the snapshot: {timeline}"
    );

    // The role may not lock: the request fails and says so, and the snapshots already
    // taken are still recorded as evidence (they exist; nothing is hidden).
    a.faults.fail("LockSnapshot", "UnauthorizedOperation", 1);
    let (status, r) = a.asked_and_approved(
        &inc,
        &format!("snapshot node {NODE1} --lock --reason again"),
        "R2",
    );
    assert_eq!(status, 500, "{r}");
    assert!(message(&r).contains("access denied: LockSnapshot"), "{r}");
    assert_eq!(a.api.request(&inc, "R2")["status"], "failed");
    let evidence = a.api.incident(&inc)["evidence"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let recorded = evidence
        .iter()
        .filter(|e| e["name"] == format!("snapshots-{instance}.json").as_str())
        .count();
    assert_eq!(
        recorded, 2,
        "both runs' snapshots are evidence: {evidence:?}"
    );
}

#[test]
fn a_hung_aws_call_times_out_and_the_request_fails_saying_so_instead_of_running_forever() {
    // One attempt may take 1.5 s here (30 s in production).
    let a = start_with(&[("WARROOM_AWS_ATTEMPT_TIMEOUT_MS", "1500")]);
    a.instance_for(NODE1, "eu-central-1a", &["--group", "eks-general"]);
    let inc = a.api.open_incident("aws hangs");
    // EC2 takes the snapshot call and never answers, however often it is tried.
    a.faults.hang("CreateSnapshots", 10);
    let started = std::time::Instant::now();
    let (_, r) = a.asked_and_approved(&inc, &format!("snapshot node {NODE1} --reason r"), "R1");
    let body = a.api.wait_until(&inc, "R1 to fail", |b| {
        b["incident"]["requests"][0]["status"] == "failed"
    });
    let took = started.elapsed();
    let outcome = body["incident"]["requests"][0]["outcome"].to_string();
    assert!(
        outcome.contains("AWS did not answer in time (1.5 s a try, retried)")
            && outcome.contains("check before repeating it"),
        "{outcome} (answer: {r})"
    );
    assert!(took < Duration::from_secs(20), "{took:?}");
    let (hung, passed) = a.faults.count("CreateSnapshots");
    assert!(
        hung >= 2 && passed == 0,
        "retried while it hung: {hung}, {passed}"
    );
    // Nothing half-recorded: no snapshot evidence for a call that never answered.
    assert!(
        !a.api.kinds(&inc).iter().any(|k| k == "evidence.recorded"),
        "{:?}",
        a.api.kinds(&inc)
    );
}

#[test]
fn a_role_of_another_account_is_never_revoked_through_its_namesake_here() {
    let a = start();
    // A namesake in the account warroom acts in, and the pod's real role in another one
    // (cross-account Pod Identity / IRSA): IAM calls name a role only by its name.
    pod_identity(&a, "arn:aws:iam::999888777666:role/checkout-web");
    let inc = a.api.open_incident("a role in another account");
    let (status, asked) = a.api.command(
        "dave",
        "revoke creds pod checkout/web-6d8f4c-x7k2p --reason \"token used from outside\"",
        Some(&inc),
    );
    // Refused when the card is made, or at the latest when it would run.
    let said = if status == 200 {
        a.approve("carol", "R1", &inc).1
    } else {
        asked
    };
    assert!(
        message(&said).contains(
            "role arn:aws:iam::999888777666:role/checkout-web is not in account 123456789012"
        ) && message(&said).contains("nothing was changed"),
        "{said}"
    );
    assert!(
        a.revocation("checkout-web").is_null(),
        "the namesake is untouched"
    );
}
