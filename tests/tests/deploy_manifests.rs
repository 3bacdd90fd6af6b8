//! deploy/kubernetes as an operator uses it: rendered with the kustomize built into kubectl,
//! applied with `kubectl apply -k … --dry-run=server` to the drill's API server, and held to
//! the restricted Pod Security profile.

use std::process::Command;

use serde_json::Value;
use warroom_tests::drill::Drill;
use warroom_tests::{Scratch, Server, kubeconfig_for, repo_root};

fn rendered(s: &Scratch, overlay: &str) -> Vec<Value> {
    let text = s.kubectl(&[
        "kustomize",
        &format!("deploy/kubernetes/overlays/{overlay}"),
    ]);
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| serde::Deserialize::deserialize(doc).unwrap())
        .collect()
}

fn one<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| {
            o["kind"] == kind
                && o["metadata"]["name"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with(name)
        })
        .unwrap_or_else(|| panic!("no {kind} {name} rendered"))
}

#[test]
fn the_overlays_render_restricted_pods_probes_least_privilege_and_a_leader_service() {
    let s = Scratch::new();
    let objects = rendered(&s, "single");
    let ns = one(&objects, "Namespace", "warroom");
    assert_eq!(
        ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "restricted"
    );
    for o in objects
        .iter()
        .filter(|o| o["kind"] != "Namespace" && !o["kind"].as_str().unwrap().starts_with("Cluster"))
    {
        assert_eq!(o["metadata"]["namespace"], "warroom", "{o}");
    }

    let sts = one(&objects, "StatefulSet", "warroom");
    let pod = &sts["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    assert_eq!(pod["serviceAccountName"], "warroom");
    let c = &pod["containers"][0];
    let sc = &c["securityContext"];
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["runAsNonRoot"], true);
    assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert!(sc["capabilities"]["add"].is_null());
    assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert!(c["resources"]["requests"]["memory"].is_string());
    assert!(c["resources"]["limits"]["memory"].is_string());
    // Its own volume for the ledger, and the plan and secrets mounted read-only.
    assert_eq!(
        sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"],
        "data"
    );
    let mounts = c["volumeMounts"].as_array().unwrap();
    let at = |path: &str| {
        mounts
            .iter()
            .find(|m| m["mountPath"] == path)
            .unwrap_or_else(|| panic!("nothing mounted at {path}"))
    };
    assert_eq!(at("/var/lib/warroom")["name"], "data");
    assert_eq!(at("/etc/warroom")["readOnly"], true);
    assert_eq!(at("/run/secrets")["readOnly"], true);
    let args = warroom_tests::strings(&c["args"]);
    assert!(
        args.contains(&"--data=/var/lib/warroom")
            && args.contains(&"--config=/etc/warroom/warroom.toml"),
        "{args:?}"
    );
    // The secrets the plan names by environment variable come from a Secret.
    let env_secret = c["envFrom"][0]["secretRef"]["name"].as_str().unwrap();
    let secret = one(&objects, "Secret", "warroom-env");
    assert_eq!(secret["metadata"]["name"], env_secret);
    let plan = std::fs::read_to_string(repo_root().join("config/examples/plan.toml")).unwrap();
    for line in plan
        .lines()
        .filter(|l| l.contains("{ env = \"") && !l.trim_start().starts_with('#'))
    {
        let var = line
            .split("env = \"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert!(
            secret["data"].get(var).is_some(),
            "{var} missing from warroom-env"
        );
    }

    // Least privilege: the cluster RBAC of deploy/rbac.yaml, leases only in its namespace, and
    // the kubelet-reaching checkpoint role not bound.
    let role = one(&objects, "Role", "warroom-leader");
    assert!(role["rules"].to_string().contains("leases"), "{role}");
    assert!(
        !objects
            .iter()
            .any(|o| o["kind"] == "ClusterRoleBinding"
                && o["metadata"]["name"] == "warroom-checkpoint"),
        "nodes/proxy is not bound by default"
    );
    let sa = one(&objects, "ServiceAccount", "warroom");
    assert!(sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].is_string());
    let netpol = one(&objects, "NetworkPolicy", "warroom");
    assert_eq!(
        netpol["spec"]["policyTypes"],
        serde_json::json!(["Ingress", "Egress"])
    );
    let pdb = one(&objects, "PodDisruptionBudget", "warroom");
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);
    one(&objects, "Service", "warroom");
    one(&objects, "ConfigMap", "warroom-plan");

    // ha: two replicas that do not wait on each other, on different nodes, and the Service
    // sends traffic to the leader's pod only.
    let ha = rendered(&s, "ha");
    let sts = one(&ha, "StatefulSet", "warroom");
    assert_eq!(sts["spec"]["replicas"], 2);
    assert_eq!(sts["spec"]["podManagementPolicy"], "Parallel");
    assert!(
        sts["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"].is_object(),
        "{sts}"
    );
    let svc = ha
        .iter()
        .find(|o| o["kind"] == "Service" && o["metadata"]["name"] == "warroom")
        .unwrap();
    assert_eq!(svc["spec"]["selector"]["warroom.io/leader"], "true");
    assert_eq!(
        sts["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"],
        true
    );

    // The plan in the ConfigMap is the example plan, and it passes `plan check`.
    let shipped =
        std::fs::read_to_string(repo_root().join("deploy/kubernetes/base/warroom.toml")).unwrap();
    assert_eq!(
        shipped, plan,
        "deploy/kubernetes/base/warroom.toml is the example plan"
    );
}

#[test]
fn both_overlays_apply_to_an_api_server_as_a_server_side_dry_run() {
    let s = Scratch::new();
    let server = Server::start(&s, &[]);
    let drill = Drill::of(&server, "prod-eu");
    s.write("kubeconfig", &kubeconfig_for(&drill.base));
    // A dry run cannot create the namespace the rest goes into: an operator's first apply
    // does, so this one has it.
    let ns = s.write(
        "namespace.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: warroom\n",
    );
    s.kubectl(&["apply", "-f", ns.to_str().unwrap()]);
    for overlay in ["single", "ha"] {
        applies(&s, &drill, overlay);
    }
    typo_is_refused(&s);
}

fn applies(s: &Scratch, drill: &Drill, overlay: &str) {
    let out = s.kubectl(&[
        "apply",
        "-k",
        &format!("deploy/kubernetes/overlays/{overlay}"),
        "--dry-run=server",
    ]);
    for want in [
        "namespace/warroom",
        "serviceaccount/warroom",
        "role.rbac.authorization.k8s.io/warroom-leader",
        "rolebinding.rbac.authorization.k8s.io/warroom-leader",
        "clusterrole.rbac.authorization.k8s.io/warroom",
        "clusterrolebinding.rbac.authorization.k8s.io/warroom",
        "configmap/warroom-plan-",
        "secret/warroom-env-",
        "service/warroom",
        "statefulset.apps/warroom",
        "poddisruptionbudget.policy/warroom",
        "networkpolicy.networking.k8s.io/warroom",
    ] {
        assert!(out.contains(want), "{want} not applied:\n{out}");
    }
    assert!(out.contains("(server dry run)"), "{out}");
    // The API server saw dry-run creates and kept nothing.
    let dry: Vec<Value> = drill
        .requests()
        .into_iter()
        .filter(|r| r["dry_run"] == true && r["verb"] == "create")
        .collect();
    assert!(
        dry.iter().any(|r| r["resource"] == "statefulsets"),
        "{dry:?}"
    );
    assert_eq!(
        drill
            .get("/apis/apps/v1/namespaces/warroom/statefulsets/warroom")
            .0,
        404,
        "a dry run persists nothing"
    );
}

/// kubectl leaves field validation to the server, which names a typo as production does.
fn typo_is_refused(s: &Scratch) {
    let typo = s.write(
        "typo.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: typo\n  namespace: warroom\ndatta:\n  a: b\n",
    );
    let out = Command::new("kubectl")
        .env("KUBECONFIG", s.path().join("kubeconfig"))
        .args(["apply", "-f", typo.to_str().unwrap(), "--dry-run=server"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && said.contains("strict decoding error: unknown field \"datta\""),
        "{said}"
    );
}

#[test]
fn the_container_build_is_multi_stage_and_runs_as_non_root_without_a_shell() {
    let text = std::fs::read_to_string(repo_root().join("deploy/Containerfile")).unwrap();
    let froms: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(froms.len(), 2, "{froms:?}");
    assert!(froms[0].contains(" AS build"), "{froms:?}");
    assert!(
        froms[1].contains("distroless") && froms[1].contains(":nonroot"),
        "{froms:?}"
    );
    assert!(text.contains("USER 65532:65532"));
    assert!(text.contains("cargo build --release --locked -p warroom"));
}
