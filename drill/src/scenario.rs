//! Scenarios: ordinary multi-document YAML manifests, checked and linked before a server loads them.

use serde::Deserialize;
use serde_json::{Value, json};

use std::path::Path;

use crate::catalog::{self, ResourceType};
use crate::script::{self, GAME_DAY_API_VERSION, GAME_DAY_KIND, GameDay, ScriptError};
use crate::store::Store;
use crate::{clock, controllers, ids, lifecycle, meta, validate};

/// Why a scenario could not be loaded, naming the source and the 1-based document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioError {
    /// The name the scenario was loaded under, e.g. a file name.
    pub origin: String,
    pub document: usize,
    pub problem: Box<ScenarioProblem>,
}

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.problem {
            // A script's errors name their own file and line.
            ScenarioProblem::Script(e) => write!(f, "{e}"),
            problem => write!(f, "{}: document {}: {problem}", self.origin, self.document),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScenarioProblem {
    #[error("{0}")]
    Script(ScriptError),
    #[error("a scenario has one GameDay document; this is a second")]
    SecondGameDay,
    #[error("base: {0}")]
    Base(String),
    #[error("invalid YAML at line {line}: {message}")]
    Yaml { line: usize, message: String },
    #[error("not a mapping: every document must be one Kubernetes object")]
    NotAnObject,
    #[error("missing {0}")]
    Missing(&'static str),
    #[error("unknown kind {kind} in {api_version}")]
    UnknownKind { api_version: String, kind: String },
    #[error("{kind} {name}: {message}")]
    Invalid {
        kind: String,
        name: String,
        message: String,
    },
    #[error("{kind} {name} is declared twice")]
    Duplicate { kind: String, name: String },
    #[error("{kind} {name}: namespace {namespace} is not declared")]
    MissingNamespace {
        kind: String,
        name: String,
        namespace: String,
    },
    #[error("{kind} {name}: {reference} {target} not found in namespace {namespace}")]
    Unresolved {
        kind: String,
        name: String,
        /// `owner` or `involvedObject`.
        reference: &'static str,
        target: String,
        namespace: String,
    },
}

#[derive(Debug, Clone)]
struct Loaded {
    rt: &'static ResourceType,
    obj: Value,
    document: usize,
}

/// A set of objects a drill server starts with, and the game day's script if it has one.
#[derive(Debug, Clone)]
pub struct Scenario {
    objects: Vec<Loaded>,
    game_day: Option<GameDay>,
}

/// The namespaces every cluster has.
const DEFAULT_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

fn default_namespace(name: &str) -> Loaded {
    Loaded {
        rt: catalog::namespaces(),
        obj: json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": name } }),
        document: 0,
    }
}

impl Scenario {
    /// Parses multi-document YAML; `source` names it in errors.
    pub fn from_yaml(source: &str, text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::from_yaml_in(source, text, None)
    }

    /// As [`Scenario::from_yaml`]; a game day's alert `file:`s are read relative to `base`.
    pub fn from_yaml_in(
        source: &str,
        text: &str,
        base: Option<&Path>,
    ) -> Result<Scenario, ScenarioError> {
        let fail = |document: usize, problem: ScenarioProblem| ScenarioError {
            origin: source.to_string(),
            document,
            problem: Box::new(problem),
        };
        // A game day may build on another scenario's cluster (`base: payments`): its objects
        // come first, and this file adds to them.
        let mut objects: Vec<Loaded> = match script::base_of(text) {
            None => Vec::new(),
            Some(name) => Scenario::base(source, &name, base)?
                .objects
                .into_iter()
                .filter(|o| o.document != 0)
                .collect(),
        };
        let mut game_day_document = None;
        for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
            let number = index + 1;
            let yaml_error = |e: serde_yaml::Error| {
                fail(
                    number,
                    ScenarioProblem::Yaml {
                        line: e.location().map_or(0, |l| l.line()),
                        message: e.to_string(),
                    },
                )
            };
            let mut yaml = serde_yaml::Value::deserialize(document).map_err(yaml_error)?;
            // `<<: *anchor` merge keys are YAML 1.1; serde_yaml only applies them on request.
            yaml.apply_merge().map_err(yaml_error)?;
            if yaml.is_null() {
                continue;
            }
            let obj = serde_json::to_value(&yaml).map_err(|e| {
                fail(
                    number,
                    ScenarioProblem::Yaml {
                        line: 0,
                        message: e.to_string(),
                    },
                )
            })?;
            if obj.get("apiVersion").and_then(Value::as_str) == Some(GAME_DAY_API_VERSION)
                && obj.get("kind").and_then(Value::as_str) == Some(GAME_DAY_KIND)
            {
                if game_day_document.is_some() {
                    return Err(fail(number, ScenarioProblem::SecondGameDay));
                }
                game_day_document = Some(number);
                continue;
            }
            let loaded = check_document(obj, number).map_err(|p| fail(number, p))?;
            let key = |l: &Loaded| {
                (
                    l.rt.kind,
                    meta::namespace(&l.obj).to_string(),
                    meta::name(&l.obj).to_string(),
                )
            };
            if objects.iter().any(|o| key(o) == key(&loaded)) {
                return Err(fail(
                    number,
                    ScenarioProblem::Duplicate {
                        kind: loaded.rt.kind.to_string(),
                        name: meta::name(&loaded.obj).to_string(),
                    },
                ));
            }
            objects.push(loaded);
        }
        let mut defaults: Vec<Loaded> = DEFAULT_NAMESPACES
            .iter()
            .filter(|ns| {
                !objects
                    .iter()
                    .any(|o| o.rt.kind == "Namespace" && meta::name(&o.obj) == **ns)
            })
            .map(|ns| default_namespace(ns))
            .collect();
        defaults.append(&mut objects);
        let mut scenario = Scenario {
            objects: defaults,
            game_day: None,
        };
        for l in &mut scenario.objects {
            if meta::uid(&l.obj).is_empty() {
                let uid = ids::stable_uid(&format!(
                    "{}/{}/{}/{}",
                    l.rt.group,
                    l.rt.plural,
                    meta::namespace(&l.obj),
                    meta::name(&l.obj)
                ));
                meta::set_meta(&mut l.obj, "uid", json!(uid));
            }
        }
        scenario
            .link()
            .map_err(|(document, problem)| fail(document, problem))?;
        // Typed checks come last: owner references only deserialise once their uids are in.
        for l in &scenario.objects {
            validate::typed(l.rt.kind, &l.obj).map_err(|message| {
                fail(
                    l.document,
                    ScenarioProblem::Invalid {
                        kind: l.rt.kind.to_string(),
                        name: meta::name(&l.obj).to_string(),
                        message,
                    },
                )
            })?;
        }
        if let Some(number) = game_day_document {
            // Located by its `kind:` line; serde_yaml's documents carry no positions.
            let (doc, first) = script::documents(text)
                .into_iter()
                .find(|(d, _)| d.lines().any(|l| l.trim() == "kind: GameDay"))
                .unwrap_or_default();
            let game_day = script::parse_game_day(source, &doc, first.max(1), base, &scenario)
                .map_err(|e| fail(number, ScenarioProblem::Script(e)))?;
            scenario.game_day = Some(game_day);
        }
        Ok(scenario)
    }

    /// The scenario a game day's `base:` names: a built-in one, or a file beside this one.
    fn base(source: &str, name: &str, dir: Option<&Path>) -> Result<Scenario, ScenarioError> {
        let fail = |problem: String| ScenarioError {
            origin: source.to_string(),
            document: 0,
            problem: Box::new(ScenarioProblem::Base(problem)),
        };
        if let Some(text) = builtin_text(name) {
            return Scenario::from_yaml(&format!("{name}.yaml"), text);
        }
        let Some(dir) = dir else {
            return Err(fail(format!(
                "`{name}` is not a built-in scenario ({})",
                Scenario::BUILTIN.join(", ")
            )));
        };
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            fail(format!(
                "cannot read {} ({e}); a base is a built-in scenario ({}) or a file beside this one",
                path.display(),
                Scenario::BUILTIN.join(", ")
            ))
        })?;
        let nested = Scenario::from_yaml_in(&path.display().to_string(), &text, path.parent())?;
        if nested.game_day.is_some() {
            return Err(fail(format!(
                "{} has a game day of its own: a base is a cluster only",
                path.display()
            )));
        }
        Ok(nested)
    }

    /// The game day's script, when the scenario has one.
    pub fn game_day(&self) -> Option<&GameDay> {
        self.game_day.as_ref()
    }

    /// The built-in drill cluster: payments, checkout and monitoring on two EKS-style nodes.
    pub fn payments() -> Scenario {
        Scenario::from_yaml("payments.yaml", include_str!("../scenarios/payments.yaml"))
            .expect("the built-in payments scenario is valid; a unit test loads it")
    }

    /// The scenarios built in, by name: the quiet payments cluster and three game days.
    pub const BUILTIN: [&'static str; 4] =
        ["payments", "payments-breach", "node-miner", "leaked-token"];

    /// A built-in scenario by name (see [`Scenario::BUILTIN`]).
    pub fn builtin(name: &str) -> Option<Scenario> {
        let text = builtin_text(name)?;
        Scenario::from_yaml(&format!("{}.yaml", name.trim_end_matches(".yaml")), text).ok()
    }

    /// Only the namespaces every cluster has.
    pub fn empty() -> Scenario {
        Scenario {
            objects: DEFAULT_NAMESPACES
                .iter()
                .map(|ns| default_namespace(ns))
                .collect(),
            game_day: None,
        }
    }

    /// An empty cluster whose network plugin is the one the plan names (`calico`, `cilium`,
    /// `aws-vpc-cni` with its policy agent on, or `none`), so preflight and quarantine see the
    /// same enforcement the plan promises.
    pub fn empty_with_cni(cni: &str) -> Scenario {
        let (name, container, args) = match cni {
            "calico" => ("calico-node", "calico-node", ""),
            "cilium" => ("cilium", "cilium-agent", ""),
            "aws-vpc-cni" => (
                "aws-node",
                "aws-eks-nodeagent",
                ", args: [--enable-network-policy=true]",
            ),
            _ => return Scenario::empty(),
        };
        let yaml = format!(
            "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {{name: {name}, namespace: kube-system}}\nspec:\n  selector: {{matchLabels: {{k8s-app: {name}}}}}\n  template:\n    metadata: {{labels: {{k8s-app: {name}}}}}\n    spec:\n      containers: [{{name: {container}, image: drill/{container}{args}}}]\n"
        );
        Scenario::from_yaml("network plugin", &yaml).unwrap_or_else(|_| Scenario::empty())
    }

    /// The scenario's objects in load order, uids assigned.
    pub fn objects(&self) -> impl Iterator<Item = &Value> {
        self.objects.iter().map(|l| &l.obj)
    }

    fn find_uid(&self, kind: &str, namespace: &str, name: &str) -> Option<String> {
        self.objects
            .iter()
            .find(|o| {
                o.rt.kind == kind
                    && meta::namespace(&o.obj) == namespace
                    && meta::name(&o.obj) == name
            })
            .map(|o| meta::uid(&o.obj).to_string())
    }

    /// Checks namespaces exist and fills in the uids owner references and events leave out.
    fn link(&mut self) -> Result<(), (usize, ScenarioProblem)> {
        let mut patches: Vec<(usize, String, Value)> = Vec::new();
        for (i, l) in self.objects.iter().enumerate() {
            let ns = meta::namespace(&l.obj);
            let kind = l.rt.kind.to_string();
            let name = meta::name(&l.obj).to_string();
            if l.rt.namespaced && self.find_uid("Namespace", "", ns).is_none() {
                return Err((
                    l.document,
                    ScenarioProblem::MissingNamespace {
                        kind,
                        name,
                        namespace: ns.to_string(),
                    },
                ));
            }
            if let Some(refs) = l
                .obj
                .pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
            {
                let mut linked = refs.clone();
                for r in &mut linked {
                    if r.get("uid")
                        .and_then(Value::as_str)
                        .is_some_and(|u| !u.is_empty())
                    {
                        continue;
                    }
                    let owner_kind = r.get("kind").and_then(Value::as_str).unwrap_or("");
                    let owner_name = r.get("name").and_then(Value::as_str).unwrap_or("");
                    let uid = self.find_uid(owner_kind, ns, owner_name).ok_or_else(|| {
                        (
                            l.document,
                            ScenarioProblem::Unresolved {
                                kind: kind.clone(),
                                name: name.clone(),
                                reference: "owner",
                                target: format!("{owner_kind} {owner_name}"),
                                namespace: ns.to_string(),
                            },
                        )
                    })?;
                    meta::set(r, "uid", json!(uid));
                }
                patches.push((i, "ownerReferences".into(), Value::Array(linked)));
            }
            if l.rt.kind == "Event"
                && let Some(involved) = l.obj.get("involvedObject").filter(|v| v.is_object())
                && involved
                    .get("uid")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
            {
                let target_kind = involved.get("kind").and_then(Value::as_str).unwrap_or("");
                let target_name = involved.get("name").and_then(Value::as_str).unwrap_or("");
                let target_ns = involved
                    .get("namespace")
                    .and_then(Value::as_str)
                    .unwrap_or(ns);
                let scope = if catalog::RESOURCES
                    .iter()
                    .any(|rt| rt.kind == target_kind && !rt.namespaced)
                {
                    ""
                } else {
                    target_ns
                };
                let uid = self
                    .find_uid(target_kind, scope, target_name)
                    .ok_or_else(|| {
                        (
                            l.document,
                            ScenarioProblem::Unresolved {
                                kind: kind.clone(),
                                name: name.clone(),
                                reference: "involvedObject",
                                target: format!("{target_kind} {target_name}"),
                                namespace: target_ns.to_string(),
                            },
                        )
                    })?;
                let mut involved = involved.clone();
                meta::set(&mut involved, "uid", json!(uid));
                patches.push((i, "involvedObject".into(), involved));
            }
        }
        for (i, field, value) in patches {
            if let Some(l) = self.objects.get_mut(i) {
                if field == "ownerReferences" {
                    meta::set_meta(&mut l.obj, "ownerReferences", value);
                } else {
                    meta::set(&mut l.obj, &field, value);
                }
            }
        }
        Ok(())
    }

    /// Stores the objects (namespaces and nodes first), then lets the controllers settle.
    pub(crate) fn load_into(&self, store: &mut Store) {
        let order = |l: &&Loaded| match l.rt.kind {
            "Namespace" => 0,
            "Node" => 1,
            _ => 2,
        };
        let mut sorted: Vec<&Loaded> = self.objects.iter().collect();
        sorted.sort_by_key(order);
        let now = clock::now();
        for l in sorted {
            let mut obj = l.obj.clone();
            if obj
                .pointer("/metadata/creationTimestamp")
                .is_none_or(Value::is_null)
            {
                meta::set_meta(&mut obj, "creationTimestamp", json!(now));
            }
            if obj.pointer("/metadata/generation").is_none() {
                meta::set_meta(&mut obj, "generation", json!(1));
            }
            if l.rt.kind == "Namespace" {
                let name = meta::name(&obj).to_string();
                meta::set_path(
                    &mut obj,
                    &["metadata", "labels", "kubernetes.io/metadata.name"],
                    json!(name),
                );
                if obj.pointer("/status/phase").is_none() {
                    meta::set_path(&mut obj, &["status", "phase"], json!("Active"));
                }
            }
            if l.rt.kind == "Pod" {
                lifecycle::start(store, &mut obj);
            }
            store.insert(l.rt, obj);
        }
        controllers::reconcile(store, "");
    }
}

/// Checks one document and resolves its type.
fn check_document(mut obj: Value, document: usize) -> Result<Loaded, ScenarioProblem> {
    if !obj.is_object() {
        return Err(ScenarioProblem::NotAnObject);
    }
    let api_version = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or(ScenarioProblem::Missing("apiVersion"))?
        .to_string();
    let kind = obj
        .get("kind")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or(ScenarioProblem::Missing("kind"))?
        .to_string();
    let name = meta::name(&obj).to_string();
    if name.is_empty() {
        return Err(ScenarioProblem::Missing("metadata.name"));
    }
    let rt = catalog::by_kind(&api_version, &kind)
        .filter(|rt| rt.stored)
        .ok_or_else(|| ScenarioProblem::UnknownKind {
            api_version,
            kind: kind.clone(),
        })?;
    let invalid = |message: String| ScenarioProblem::Invalid {
        kind: kind.clone(),
        name: name.clone(),
        message,
    };
    validate::name(&name).map_err(|e| invalid(format!("metadata.name: {e}")))?;
    let namespace = meta::namespace(&obj).to_string();
    if rt.namespaced {
        if namespace.is_empty() {
            meta::set_meta(&mut obj, "namespace", json!("default"));
        }
    } else if !namespace.is_empty() {
        return Err(invalid(format!(
            "{kind} is cluster-scoped but has metadata.namespace {namespace}"
        )));
    }
    Ok(Loaded { rt, obj, document })
}

fn builtin_text(name: &str) -> Option<&'static str> {
    Some(match name.trim_end_matches(".yaml") {
        "payments" => include_str!("../scenarios/payments.yaml"),
        "payments-breach" => include_str!("../scenarios/payments-breach.yaml"),
        "node-miner" => include_str!("../scenarios/node-miner.yaml"),
        "leaked-token" => include_str!("../scenarios/leaked-token.yaml"),
        _ => return None,
    })
}

impl script::Known for Scenario {
    fn has(&self, kind: &str, namespace: &str, name: &str) -> bool {
        self.objects.iter().any(|o| {
            o.rt.kind.eq_ignore_ascii_case(kind)
                && meta::name(&o.obj) == name
                && (!o.rt.namespaced || meta::namespace(&o.obj) == namespace)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_cluster_runs_the_network_plugin_the_plan_names() {
        for (cni, daemonset) in [
            ("calico", "calico-node"),
            ("cilium", "cilium"),
            ("aws-vpc-cni", "aws-node"),
        ] {
            let s = Scenario::empty_with_cni(cni);
            let found = s
                .objects()
                .find(|o| o["kind"] == "DaemonSet")
                .unwrap_or_else(|| panic!("no DaemonSet for {cni}"));
            assert_eq!(found["metadata"]["name"], daemonset);
            assert!(s.objects().any(|o| o["metadata"]["name"] == "kube-system"));
        }
        assert!(
            Scenario::empty_with_cni("aws-vpc-cni")
                .objects()
                .any(|o| o.to_string().contains("--enable-network-policy=true"))
        );
        assert!(
            !Scenario::empty_with_cni("none")
                .objects()
                .any(|o| o["kind"] == "DaemonSet")
        );
    }

    #[test]
    fn payments_loads_and_links() {
        let scenario =
            Scenario::from_yaml("payments.yaml", include_str!("../scenarios/payments.yaml"))
                .unwrap_or_else(|e| panic!("{e}"));
        let pod = scenario
            .objects()
            .find(|o| o["kind"] == "Pod" && meta::name(o) == "api-7f9c")
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            meta::str_at(&pod, "/spec/nodeName"),
            "ip-10-0-1-23.ec2.internal"
        );
        let rs_uid = scenario
            .find_uid("ReplicaSet", "payments", "api-7f9c5d")
            .unwrap_or_default();
        assert_eq!(meta::controller_uid(&pod), rs_uid);
        let event = scenario
            .objects()
            .find(|o| {
                o["kind"] == "Event"
                    && o.pointer("/involvedObject/name") == Some(&json!("api-7f9c"))
            })
            .cloned()
            .unwrap_or_default();
        assert_eq!(meta::str_at(&event, "/involvedObject/uid"), meta::uid(&pod));
        let mut store = Store::new();
        scenario.load_into(&mut store);
        let deploy = store
            .get(catalog::deployments(), "payments", "api")
            .cloned()
            .unwrap_or_default();
        assert_eq!(deploy.pointer("/status/readyReplicas"), Some(&json!(3)));
        // Loading must not have created or removed pods: the scenario is consistent.
        assert_eq!(store.list(catalog::pods(), Some("payments")).len(), 4);
    }

    #[test]
    fn errors_name_the_document() {
        let text = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: Pod\nmetadata: {}\n";
        let err = Scenario::from_yaml("t.yaml", text).expect_err("missing name");
        assert_eq!(err.to_string(), "t.yaml: document 2: missing metadata.name");

        let err = Scenario::from_yaml(
            "t.yaml",
            "apiVersion: v1\nkind: Gadget\nmetadata: {name: g}\n",
        )
        .expect_err("kind");
        assert_eq!(err.document, 1);
        assert!(matches!(*err.problem, ScenarioProblem::UnknownKind { .. }));

        let err = Scenario::from_yaml(
            "t.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\nkind: [\n",
        )
        .expect_err("yaml");
        assert_eq!(err.document, 2);
        assert!(
            matches!(*err.problem, ScenarioProblem::Yaml { line, .. } if line >= 5),
            "{err}"
        );

        let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ghost}\nspec: {containers: [{name: c}]}\n";
        let err = Scenario::from_yaml("t.yaml", text).expect_err("namespace");
        assert!(matches!(
            *err.problem,
            ScenarioProblem::MissingNamespace { .. }
        ));

        let text =
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: many}\n";
        let err = Scenario::from_yaml("t.yaml", text).expect_err("typed");
        assert!(
            matches!(*err.problem, ScenarioProblem::Invalid { .. }),
            "{err}"
        );
    }

    #[test]
    fn empty_has_the_default_namespaces() {
        let scenario = Scenario::empty();
        let names: Vec<&str> = scenario.objects().map(meta::name).collect();
        assert_eq!(names, DEFAULT_NAMESPACES);
    }
}
