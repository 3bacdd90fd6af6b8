//! Scripts as users write them, good and bad: every error names the file and line.

use std::time::Duration;

use crate::Scenario;
use crate::script::{Action, AlertFormat, Condition, Trigger};

const CLUSTER: &str = "apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Node
metadata: {name: node-a}
spec: {providerID: aws:///eu-west-1a/i-0123456789abcdef0}
---
apiVersion: v1
kind: Pod
metadata: {name: cart-1, namespace: shop}
spec:
  nodeName: node-a
  containers: [{name: cart, image: shop/cart:1.0}]
";

fn with_script(script: &str) -> String {
    format!(
        "{CLUSTER}---\napiVersion: drill.warroom.io/v1\nkind: GameDay\nmetadata: {{name: shop-day}}\ntitle: A day at the shop\nend: 30m\nscript:\n{script}"
    )
}

/// The line of the script's first step in `with_script`'s output.
fn first_step_line() -> usize {
    with_script("").lines().count() + 1
}

fn error(script: &str) -> String {
    Scenario::from_yaml("shop.yaml", &with_script(script))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_else(|| panic!("accepted: {script}"))
}

#[test]
fn a_script_reads_into_timed_and_conditional_steps() {
    let text = with_script(
        "  - at: 0s
    say: a shell in cart-1
    process: {pod: shop/cart-1, container: cart, command: sh -i, rule: Terminal shell in container}
  - at: 10m
    unless: quarantine pod shop/cart-1
    then:
      - lateral: {from: shop/cart-1, to: shop/cart-1}
      - alert: {format: falco, payload: {rule: x, priority: Critical, output: y, time: '2026-01-01T00:00:00Z', output_fields: {}}}
  - when: delete pod shop/cart-1
    unless: capture pod shop/cart-1
    lost: cart-1's memory is gone
",
    );
    let s = Scenario::from_yaml("shop.yaml", &text).unwrap();
    let g = s.game_day().unwrap();
    assert_eq!(g.name, "shop-day");
    assert_eq!(g.end, Duration::from_secs(1800));
    assert_eq!(g.steps.len(), 3);
    let first = first_step_line();
    assert_eq!(
        g.steps.iter().map(|s| s.line).collect::<Vec<_>>(),
        [first, first + 3, first + 8]
    );
    assert_eq!(g.steps[0].trigger, Trigger::At(Duration::ZERO));
    assert!(
        matches!(&g.steps[0].actions[..], [Action::Say(_), Action::Process { pod, .. }] if pod == "cart-1")
    );
    assert_eq!(
        g.steps[1].unless,
        Some(Condition::Done {
            action: "quarantine".into(),
            kind: "pod".into(),
            namespace: "shop".into(),
            name: "cart-1".into()
        })
    );
    assert!(matches!(
        &g.steps[1].actions[1],
        Action::Alert {
            format: AlertFormat::Falco,
            ..
        }
    ));
    assert!(
        matches!(&g.steps[2].trigger, Trigger::When(Condition::Done { action, .. }) if action == "delete")
    );
}

#[test]
fn a_scenario_without_a_script_has_no_game_day() {
    assert!(
        Scenario::from_yaml("shop.yaml", CLUSTER)
            .unwrap()
            .game_day()
            .is_none()
    );
}

#[test]
fn errors_name_the_file_and_the_line_of_the_step() {
    let first = first_step_line();
    let e = error("  - at: 0s\n    say: fine\n  - at: soon\n    say: when?\n");
    assert_eq!(
        e,
        format!(
            "shop.yaml:{}: at: `soon` is not a duration: use a number with s, m or h, e.g. 30s, 10m or 1h30m",
            first + 2
        )
    );
    let e = error("  - at: 0s\n    unless: quarantine pod shop/cart-9\n    say: x\n");
    assert!(
        e.starts_with(&format!(
            "shop.yaml:{}: unless: pod shop/cart-9 is not in the scenario",
            first + 1
        )),
        "{e}"
    );
    let e = error(
        "  - at: 1m\n    then:\n      - say: ok\n      - lateral: {from: shop/cart-1, to: shop/nope}\n",
    );
    assert!(
        e.starts_with(&format!(
            "shop.yaml:{}: lateral: to: pod shop/nope",
            first + 3
        )),
        "{e}"
    );
}

#[test]
fn unknown_fields_and_bad_shapes_are_refused_with_a_line() {
    let first = first_step_line();
    let e = error("  - at: 0s\n    sya: typo\n");
    assert!(
        e.starts_with(&format!("shop.yaml:{}:", first + 1)),
        "{e} (first step at {first})"
    );
    assert!(!e.contains("at line"), "{e}");
    assert!(e.contains("unknown field `sya`"), "{e}");
    assert!(error("  - say: no time\n").contains("needs `at`"));
    assert!(error("  - at: 0s\n    when: resolve\n    say: x\n").contains("not both"));
    assert!(error("  - at: 0s\n").contains("does nothing"));
    assert!(error("  - at: 40m\n    say: late\n").contains("after the game day's end"));
    assert!(
        error("  - at: 0s\n    unless: nuke pod shop/cart-1\n    say: x\n")
            .contains("`nuke` is not an action")
    );
    assert!(
        error("  - at: 0s\n    unless: quarantine pod cart-1\n    say: x\n")
            .contains("needs its namespace")
    );
    assert!(
        error("  - at: 0s\n    alert: {format: nagios, payload: {}}\n").contains("not an intake")
    );
    assert!(
        error("  - at: 0s\n    alert: {format: falco, file: x.json}\n")
            .contains("not read from a file")
    );
    assert!(
        error("  - at: 0s\n    token: {serviceaccount: shop/default, from: outside}\n")
            .contains("serviceaccount shop/default is not in the scenario")
    );
    assert!(error("  - at: 0s\n    say: a\n    lost: b\n    lateral: {from: shop/cart-1, to: shop/cart-1}\n").contains("does one thing"));
    assert!(
        error("  - at: 0s\n    then:\n      - at: 1m\n        say: x\n")
            .contains("cannot have `at`")
    );
    let two = format!(
        "{}---\napiVersion: drill.warroom.io/v1\nkind: GameDay\nmetadata: {{name: b}}\nscript: [{{at: 0s, say: x}}]\n",
        with_script("  - at: 0s\n    say: x\n")
    );
    assert!(
        Scenario::from_yaml("shop.yaml", &two)
            .unwrap_err()
            .to_string()
            .contains("second")
    );
}

#[test]
fn a_script_may_name_what_it_creates() {
    let text = with_script(
        "  - at: 1m
    create: {apiVersion: v1, kind: Pod, metadata: {name: miner, namespace: shop}, spec: {nodeName: node-a, containers: [{name: m, image: x}]}}
  - at: 2m
    unless: delete pod shop/miner
    process: {pod: shop/miner, container: m, command: xmrig}
",
    );
    let g = Scenario::from_yaml("shop.yaml", &text).unwrap();
    assert_eq!(g.game_day().unwrap().steps.len(), 2);
}

#[test]
fn every_built_in_scenario_loads_and_the_game_days_have_scripts() {
    for name in Scenario::BUILTIN {
        let s = Scenario::builtin(name).unwrap_or_else(|| panic!("built-in {name} does not load"));
        assert_eq!(s.game_day().is_some(), name != "payments", "{name}");
    }
    let g = Scenario::builtin("payments-breach").unwrap();
    let g = g.game_day().unwrap();
    assert!(g.steps.iter().any(|s| {
        s.actions
            .iter()
            .any(|a| matches!(a, Action::Lateral { .. }))
    }));
}

#[test]
fn a_game_day_builds_on_a_base_cluster() {
    let text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: extra}\n---\napiVersion: drill.warroom.io/v1\nkind: GameDay\nbase: payments\nmetadata: {name: on-payments}\nscript:\n  - at: 0s\n    process: {pod: payments/api-7f9c, container: api, command: sh}\n";
    let s = Scenario::from_yaml("mine.yaml", text).unwrap();
    assert!(crate::script::Known::has(&s, "pod", "payments", "api-7f9c"));
    assert!(crate::script::Known::has(&s, "namespace", "", "extra"));
    let unknown = text.replace("base: payments", "base: nowhere");
    let e = Scenario::from_yaml("mine.yaml", &unknown)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("base: `nowhere` is not a built-in scenario"),
        "{e}"
    );
    // Redefining an object of the base is refused, as any duplicate is.
    let twice = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: payments}}\n---\n{}",
        text.split("---\n").nth(1).unwrap()
    );
    assert!(
        Scenario::from_yaml("mine.yaml", &twice)
            .unwrap_err()
            .to_string()
            .contains("declared twice")
    );
}
