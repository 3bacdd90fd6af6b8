//! `bench-report`: every comparison of DESIGN.md §9 in one run, side by side with its
//! reference, written as a Markdown table and SVG plots.
//!
//! ```sh
//! cargo run -p warroom-tests --release --bin bench-report -- [--out DIR] [--quick]
//! ```
//!
//! It builds the release binary, then runs the benchmarks one after the other (never two at
//! once: they share two cores and one disk), each with `--json` so its figures are collected:
//! durable appends (ledger vs raw append, preallocated fdatasync, SQLite), command
//! acknowledgement over HTTP, Slack and Discord, alert intake vs Alertmanager with RSS,
//! evidence hashing vs `openssl dgst -sha256`, and readiness with 10,000 incidents. Each
//! benchmark's own output is kept beside the report (`<name>.txt`). `--quick` runs smaller
//! sizes (a check that the report works, not figures to quote).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use warroom_tests::report::{self, Figures};

struct Bench {
    package: &'static str,
    name: &'static str,
    what: &'static str,
    args: Vec<&'static str>,
}

fn benches(quick: bool) -> Vec<Bench> {
    let pick = |full: Vec<&'static str>, small: Vec<&'static str>| if quick { small } else { full };
    vec![
        Bench {
            package: "warroom-ledger",
            name: "durable_appends",
            what: "durable appends: ledger vs raw append, preallocated fdatasync, SQLite",
            args: pick(
                vec!["--entries", "5000", "--rounds", "3"],
                vec!["--entries", "500", "--rounds", "1"],
            ),
        },
        Bench {
            package: "warroom-tests",
            name: "command_ack",
            what: "command acknowledgement over HTTP, Slack and Discord",
            args: pick(
                vec!["--all", "--seconds", "10"],
                vec!["--all", "--seconds", "2"],
            ),
        },
        Bench {
            package: "warroom-tests",
            name: "alert_intake",
            what: "alert intake vs Alertmanager, with RSS",
            args: pick(
                vec!["--rounds", "3"],
                vec!["--alerts", "10000", "--singles", "5000", "--rounds", "1"],
            ),
        },
        Bench {
            package: "warroom-tests",
            name: "evidence_upload",
            what: "evidence hashing vs openssl dgst -sha256, upload memory",
            args: pick(
                vec!["--mib", "1024", "--small-mib", "64"],
                vec!["--mib", "128", "--small-mib", "16", "--runs", "1"],
            ),
        },
        Bench {
            package: "warroom-tests",
            name: "startup",
            what: "ready with 10,000 incidents, idle RSS",
            args: pick(vec![], vec!["--incidents", "1000", "--restarts", "2"]),
        },
    ]
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(warroom_tests::repo_root());
    // What `cargo run` set for this binary: build scripts that watch these (ring's, for one)
    // would see them change and rebuild the TLS stack and all above it, here and again in
    // the next plain `cargo build`.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_MANIFEST_")
            || [
                "CARGO_CRATE_NAME",
                "CARGO_BIN_NAME",
                "CARGO_PRIMARY_PACKAGE",
            ]
            .contains(&&*key)
        {
            c.env_remove(&*key);
        }
    }
    c
}

/// Run one benchmark, echoing its output with a prefix and keeping it in `<out>/<name>.txt`;
/// its figures from `<out>/<name>.json`, or why there are none.
fn run(bench: &Bench, out: &Path) -> Result<serde_json::Value, String> {
    let json = out.join(format!("{}.json", bench.name));
    let _ = std::fs::remove_file(&json);
    let mut child = cargo()
        .args([
            "bench",
            "--locked",
            "-p",
            bench.package,
            "--bench",
            bench.name,
            "--",
        ])
        .args(&bench.args)
        .arg("--json")
        .arg(&json)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cargo bench: {e}"))?;
    let mut log = std::fs::File::create(out.join(format!("{}.txt", bench.name)))
        .map_err(|e| format!("{}: {e}", out.display()))?;
    let stdout = child.stdout.take().ok_or("no output")?;
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        println!("  {}│ {line}", bench.name);
        let _ = writeln!(log, "{line}");
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("{} exited with {status}", bench.name));
    }
    let text = std::fs::read(&json).map_err(|e| format!("{}: {e}", json.display()))?;
    serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", json.display()))
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let commit = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(warroom_tests::repo_root())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    format!(
        "{} · {cores} cores, {cpu} · commit {commit}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    )
}

fn main() -> ExitCode {
    if warroom_tests::load::flag("--help") || warroom_tests::load::flag("-h") {
        println!(
            "bench-report: run every benchmark of DESIGN.md §9 side by side with its reference, in one run\n\n\
             usage: cargo run -p warroom-tests --release --bin bench-report -- [--out DIR] [--quick]\n\n\
             --out DIR   where report.md, the SVG plots and each benchmark's output go (default target/bench-report)\n\
             --quick     smaller sizes: checks the report works; its figures are not to be quoted\n\
             --render    only write report.md and the plots again from the figures already in --out\n\n\
             Needs what the test command installs (Alertmanager, moto, openssl). Takes about 10 minutes."
        );
        return ExitCode::SUCCESS;
    }
    let quick = warroom_tests::load::flag("--quick");
    let out: PathBuf = warroom_tests::load::arg("--out")
        .unwrap_or_else(|| warroom_tests::repo_root().join("target/bench-report"));
    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!("bench-report: {}: {e}", out.display());
        return ExitCode::from(2);
    }
    let started = Instant::now();
    if warroom_tests::load::flag("--render") {
        // Only the report again, from the figures a run left in --out.
        let read = |name: &str| {
            std::fs::read(out.join(format!("{name}.json")))
                .ok()
                .and_then(|t| serde_json::from_slice(&t).ok())
        };
        let fig = Figures {
            ledger: read("durable_appends"),
            ack: read("command_ack"),
            intake: read("alert_intake"),
            evidence: read("evidence_upload"),
            startup: read("startup"),
        };
        let header = std::fs::read_to_string(out.join("report.md"))
            .ok()
            .and_then(|md| md.lines().nth(2).map(str::to_owned))
            .unwrap_or_else(machine);
        return write_report(&fig, &header, &out, &[]);
    }
    println!("bench-report: building the release binary …");
    match cargo()
        .args(["build", "--locked", "--release", "-p", "warroom"])
        .status()
    {
        Ok(s) if s.success() => {}
        other => {
            eprintln!("bench-report: cargo build --release -p warroom failed: {other:?}");
            return ExitCode::from(2);
        }
    }
    let mut fig = Figures::default();
    let mut failed = Vec::new();
    let list = benches(quick);
    for (i, bench) in list.iter().enumerate() {
        println!(
            "[{}/{}] {} ({}; {:.0} s so far)",
            i + 1,
            list.len(),
            bench.name,
            bench.what,
            started.elapsed().as_secs_f64()
        );
        match run(bench, &out) {
            Ok(v) => {
                let slot = match bench.name {
                    "durable_appends" => &mut fig.ledger,
                    "command_ack" => &mut fig.ack,
                    "alert_intake" => &mut fig.intake,
                    "evidence_upload" => &mut fig.evidence,
                    _ => &mut fig.startup,
                };
                *slot = Some(v);
            }
            Err(e) => {
                eprintln!("bench-report: {e}");
                failed.push(bench.name);
            }
        }
    }
    let header = format!(
        "{}{}. Each benchmark's own output is beside this file (`<name>.txt`).",
        machine(),
        if quick {
            " · **--quick: small sizes, not figures to quote**"
        } else {
            ""
        }
    );
    println!("benchmarks took {:.0} s", started.elapsed().as_secs_f64());
    write_report(&fig, &header, &out, &failed)
}

/// `report.md` and the plots into `out`; success when everything was written and no
/// benchmark failed.
fn write_report(fig: &Figures, header: &str, out: &Path, failed: &[&str]) -> ExitCode {
    let md = report::markdown(fig, header);
    let mut written = vec![out.join("report.md")];
    let mut problems = Vec::new();
    if let Err(e) = std::fs::write(out.join("report.md"), &md) {
        problems.push(format!("report.md: {e}"));
    }
    for (name, svg) in [
        (
            "ack-latency.svg",
            fig.ack.as_ref().map(report::ack_latency_svg),
        ),
        ("ledger.svg", fig.ledger.as_ref().map(report::ledger_svg)),
    ] {
        match svg {
            Some(Ok(text)) => match std::fs::write(out.join(name), text) {
                Ok(()) => written.push(out.join(name)),
                Err(e) => problems.push(format!("{name}: {e}")),
            },
            Some(Err(e)) => problems.push(format!("{name}: {e}")),
            None => {}
        }
    }
    println!("\n{md}");
    for w in &written {
        println!("wrote {}", w.display());
    }
    for p in &problems {
        eprintln!("bench-report: {p}");
    }
    if !failed.is_empty() {
        eprintln!(
            "bench-report: these benchmarks failed: {}",
            failed.join(", ")
        );
    }
    if failed.is_empty() && problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
