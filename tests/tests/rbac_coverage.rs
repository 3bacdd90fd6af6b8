//! deploy/rbac.yaml grants exactly what warroom uses: every action runs against the drill
//! API server, and each recorded request must be covered by the shipped ClusterRoles, and
//! each rule there must have been used.

use std::collections::BTreeSet;

use serde_json::Value;
use warroom_tests::api::Api;
use warroom_tests::drill::Drill;
use warroom_tests::moto::{AWS_ENV, Moto, drill_plan_with_aws_at};
use warroom_tests::{Scratch, Server, repo_root};

/// (role, verb, group, resource[/subresource]) from the shipped manifest.
fn granted() -> BTreeSet<(String, String, String, String)> {
    let text = std::fs::read_to_string(repo_root().join("deploy/rbac.yaml")).unwrap();
    let mut out = BTreeSet::new();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let v: Value = serde::Deserialize::deserialize(doc).unwrap();
        if v["kind"] != "ClusterRole" {
            continue;
        }
        let role = v["metadata"]["name"].as_str().unwrap().to_owned();
        for rule in v["rules"].as_array().unwrap() {
            for g in rule["apiGroups"].as_array().unwrap() {
                for r in rule["resources"].as_array().unwrap() {
                    for verb in rule["verbs"].as_array().unwrap() {
                        out.insert((
                            role.clone(),
                            verb.as_str().unwrap().to_owned(),
                            g.as_str().unwrap().to_owned(),
                            r.as_str().unwrap().to_owned(),
                        ));
                    }
                }
            }
        }
    }
    out
}

/// `warroom preflight --cluster prod-eu` with a plan whose prod-eu is the drill server, by
/// kubeconfig (the path a real cluster takes).
fn preflight(s: &Scratch, drill: &Drill) -> warroom_tests::Outcome {
    let kubeconfig = s.write("kubeconfig", &warroom_tests::kubeconfig_for(&drill.base));
    let plan = s.write(
        "preflight.toml",
        &warroom_tests::plan_using_kubeconfig(&kubeconfig),
    );
    s.preflight_prod_eu(&plan)
}

/// Ask for `text` as `who`, then have each of `approvers` approve it.
fn act(api: &Api, inc: &str, who: &str, text: &str, approvers: &[&str]) {
    let r = api.ok(who, text, Some(inc));
    let id = r["request_id"].as_str().unwrap().to_owned();
    let mut last = r;
    for a in approvers {
        last = api.ok(a, &format!("approve {id}"), Some(inc));
    }
    assert_eq!(last["status"], "executed", "{text}: {last}");
}

#[test]
fn the_shipped_cluster_roles_cover_exactly_what_the_actions_use() {
    let s = Scratch::new();
    // Revocation reads the cluster (who holds the role) and writes to IAM (moto).
    let moto = Moto::start();
    moto.aws(&["role", "payments-api"]);
    let plan = s.write("plan.toml", &drill_plan_with_aws_at(&moto.endpoint));
    let server = Server::start_with_env(&s, &["--config", plan.to_str().unwrap()], AWS_ENV);
    let api = Api::new(&server.addr);
    let drill = Drill::of(&server, "prod-eu");
    let inc = api.open_incident("every action");
    let over = "--override \"evidence taken by hand\"";
    act(&api, &inc, "alice", "capture pod payments/api-7f9c", &[]);
    act(&api, &inc, "alice", "checkpoint pod payments/api-7f9c", &[]);
    act(
        &api,
        &inc,
        "alice",
        "quarantine pod payments/api-7f9c --reason r",
        &["bob"],
    );
    act(
        &api,
        &inc,
        "alice",
        "quarantine pod payments/api-7f9c --detach --reason again",
        &["bob"],
    );
    act(
        &api,
        &inc,
        "alice",
        "release pod payments/api-7f9c --reason r",
        &["bob"],
    );
    act(
        &api,
        &inc,
        "alice",
        "label pod payments/api-5b2k team=sec --reason r",
        &["bob"],
    );
    act(
        &api,
        &inc,
        "alice",
        "label node ip-10-0-1-23.ec2.internal team=sec --reason r",
        &["bob"],
    );
    act(
        &api,
        &inc,
        "alice",
        "cordon node ip-10-0-1-23.ec2.internal --reason r",
        &["bob"],
    );
    act(
        &api,
        &inc,
        "alice",
        "uncordon node ip-10-0-1-23.ec2.internal --reason r",
        &["bob"],
    );
    act(
        &api,
        &inc,
        "erin",
        &format!("drain node ip-10-0-1-23.ec2.internal --reason r {over}"),
        &["carol"],
    );
    act(
        &api,
        &inc,
        "erin",
        &format!("scale deployment checkout/web --replicas 1 --reason r {over}"),
        &["carol"],
    );
    act(
        &api,
        &inc,
        "erin",
        &format!("scale statefulset payments/ledger-db --replicas 1 --reason r {over}"),
        &["carol", "dave"],
    );
    act(
        &api,
        &inc,
        "erin",
        &format!("scale replicaset payments/api-7f9c5d --replicas 3 --reason r {over}"),
        &["carol"],
    );
    act(
        &api,
        &inc,
        "erin",
        &format!("restart deployment checkout/web --reason r {over}"),
        &["carol"],
    );
    act(
        &api,
        &inc,
        "erin",
        &format!("restart statefulset payments/ledger-db --reason r {over}"),
        &["carol", "dave"],
    );
    act(
        &api,
        &inc,
        "erin",
        &format!("restart daemonset monitoring/node-exporter --reason r {over}"),
        &["carol"],
    );
    act(
        &api,
        &inc,
        "erin",
        &format!("delete pod checkout/web-6d8f4c-q9z4m --reason r {over}"),
        &["carol", "dave"],
    );
    act(
        &api,
        &inc,
        "erin",
        &format!("delete replicaset checkout/web-6d8f4c --reason r {over}"),
        &["carol", "dave"],
    );
    act(
        &api,
        &inc,
        "erin",
        &format!("delete deployment checkout/web --reason r {over}"),
        &["carol", "dave"],
    );
    act(
        &api,
        &inc,
        "erin",
        &format!("delete daemonset monitoring/node-exporter --reason r {over}"),
        &["carol", "dave"],
    );
    act(
        &api,
        &inc,
        "erin",
        &format!("delete statefulset payments/ledger-db --reason r {over}"),
        &["carol", "dave", "grace"],
    );

    act(
        &api,
        &inc,
        "dave",
        "revoke creds pod payments/api-9x7q --reason r",
        &["carol"],
    );

    // Preflight, through a kubeconfig that points at the same drill server.
    preflight(&s, &drill).expect_code(0);

    let granted = granted();
    let mut used = BTreeSet::new();
    for r in drill.requests() {
        let resource = match r["subresource"].as_str().unwrap() {
            "" => r["resource"].as_str().unwrap().to_owned(),
            sub => format!("{}/{sub}", r["resource"].as_str().unwrap()),
        };
        let key = (
            r["verb"].as_str().unwrap().to_owned(),
            r["group"].as_str().unwrap().to_owned(),
            resource,
        );
        let covered = granted
            .iter()
            .any(|(_, v, g, res)| (v, g, res) == (&key.0, &key.1, &key.2));
        assert!(
            covered,
            "warroom made {key:?}, which deploy/rbac.yaml does not grant"
        );
        used.insert(key);
    }
    for (role, verb, group, resource) in &granted {
        assert!(
            used.contains(&(verb.clone(), group.clone(), resource.clone())),
            "deploy/rbac.yaml role {role} grants {verb} on {group}/{resource}, which no action used"
        );
    }
    let proxy: Vec<_> = granted
        .iter()
        .filter(|(_, _, _, r)| r == "nodes/proxy")
        .collect();
    assert!(
        proxy.iter().all(|(role, ..)| role == "warroom-checkpoint"),
        "nodes/proxy only in the separate role: {proxy:?}"
    );
}

#[test]
fn preflight_names_the_missing_rule_and_exits_one() {
    let s = Scratch::new();
    let server = Server::start(&s, &[]);
    let drill = Drill::of(&server, "prod-eu");
    drill.deny("create", "networking.k8s.io", "networkpolicies", "");
    let out = preflight(&s, &drill).expect_code(1);
    let text = out.stdout();
    assert!(text.contains("quarantine  DENIED"), "{text}");
    assert!(
        text.contains(
            "apiGroups: [networking.k8s.io], resources: [networkpolicies], verbs: [create]"
        ),
        "{text}"
    );
    assert!(text.contains("capture     allowed"), "{text}");
    assert!(
        text.contains("network policy: enforced (calico-node (kube-system)"),
        "{text}"
    );
    let plan = s.path().join("preflight.toml");
    let json = s
        .run(&[
            "--json",
            "--config",
            plan.to_str().unwrap(),
            "--data",
            "pf-data",
            "preflight",
        ])
        .expect_code(1)
        .stdout();
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["ok"], false);
}
