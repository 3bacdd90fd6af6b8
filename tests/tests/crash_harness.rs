//! The crash harness, short (the long run is `cargo bench -p warroom-tests --bench
//! crash_harness`): warroom killed with SIGKILL at random moments through approve → execute,
//! alert → page → escalate and signed Slack deliveries, restarted, and checked after every
//! kill.

#[test]
fn killed_at_random_moments_warroom_keeps_every_promise() {
    let seed = std::env::var("WARROOM_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| warroom_tests::unix_now() as u64);
    // WARROOM_CRASH_FLOWS=200 for the long run on a debug build.
    let flows = std::env::var("WARROOM_CRASH_FLOWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(24);
    let started = std::time::Instant::now();
    let report = warroom_tests::crash::run(flows, seed, &mut |_| {});
    eprintln!(
        "crash harness, seed {seed}: {report} in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        report.violations.is_empty(),
        "seed {seed} (WARROOM_CRASH_SEED={seed} runs it again): {report}\n{}",
        report.violations.join("\n")
    );
    assert_eq!(report.kills, flows);
    // The first four flows are one of each kind, so these hold for every seed.
    assert!(report.acknowledged > 0, "seed {seed}: {report}");
    assert!(
        report.requests > 0 && report.pages > 0,
        "seed {seed}: {report}"
    );
}
