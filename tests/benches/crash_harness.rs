//! The crash harness, long: `cargo bench -p warroom-tests --bench crash_harness -- --flows
//! 200 --seed 7` (build `cargo build --release -p warroom` first). Kills warroom with SIGKILL
//! at random moments through approve → execute, alert → page → escalate and signed Slack
//! deliveries, restarts it, and checks every promise after each kill (see
//! `warroom_tests::crash`). Prints the counts; exits 1 on any violation.

fn main() {
    let flows = warroom_tests::load::arg("--flows").unwrap_or(200);
    let seed = warroom_tests::load::arg("--seed").unwrap_or(7);
    let started = std::time::Instant::now();
    let report = warroom_tests::crash::run(flows, seed, &mut |r| {
        if r.kills % 10 == 0 {
            eprintln!("{r}");
        }
    });
    println!(
        "crash harness, seed {seed}: {report} in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    for v in &report.violations {
        println!("VIOLATION: {v}");
    }
    if !report.violations.is_empty() {
        std::process::exit(1);
    }
}
