//! Property tests: whatever bytes reach the intake endpoints, the parsers answer with an
//! alert or an error that says what is wrong — never a panic. Seeds are the real payloads in
//! `fixtures/`, cut, spliced and flipped. `PROPTEST_CASES` sets how many cases each runs
//! (256 by default: the smoke run in the test command).

use proptest::prelude::*;

use super::*;

const FIXTURES: &[&str] = &[
    include_str!("fixtures/firing-1.json"),
    include_str!("fixtures/firing-grouped-3.json"),
    include_str!("fixtures/resolve.json"),
    include_str!("fixtures/terminal-shell.json"),
    include_str!("fixtures/terminal-shell-null-fields.json"),
    include_str!("fixtures/k8saudit-attach-exec-pod.json"),
    include_str!("fixtures/syscall-event-drop.json"),
    include_str!("fixtures/trigger.json"),
    include_str!("fixtures/acknowledge.json"),
    include_str!("fixtures/guardduty-ec2-bitcoin.json"),
    include_str!("fixtures/guardduty-eks-runtime.json"),
];

/// A fixture damaged the way hostile or broken input differs from a good one.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::sample::select(FIXTURES),
        0usize..4,
        0usize..8192,
        0usize..8192,
        proptest::collection::vec(any::<u8>(), 0..16),
    )
        .prop_map(|(seed, how, at, to, bytes)| {
            crate::damage::damage(
                seed.as_bytes(),
                crate::damage::Damage::nth(how),
                at,
                to,
                &bytes,
            )
        })
}

fn any_input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![proptest::collection::vec(any::<u8>(), 0..512), mutated()]
}

proptest! {
    #[test]
    fn alertmanager_bodies_never_panic(body in any_input()) {
        if let Err(e) = parse_alertmanager(&body) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn falco_bodies_never_panic(body in any_input()) {
        if let Err(e) = parse_falco(&body) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn events_v2_bodies_never_panic(body in any_input()) {
        if let Err(e) = parse_events_v2(&body) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn guardduty_bodies_never_panic(body in any_input()) {
        if let Err(e) = parse_guardduty(&body) {
            prop_assert!(!e.to_string().is_empty());
        }
    }
}
