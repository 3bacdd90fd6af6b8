use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use clap::Subcommand;
use warroom_commands::SystemClock;

use super::{EXIT_BAD_INPUT, EXIT_FAILED, Global};
use crate::context;
use crate::output::print_json;
use crate::reader::Reader;
use crate::verify::Report;

#[derive(Subcommand, Debug)]
pub enum LedgerCommand {
    /// Check the ledger: recompute every incident's hash chain, check each incident record
    /// against its timeline, and re-hash every stored evidence artifact. Only reads: the
    /// data folder is never written (a private copy is opened), and beside a running
    /// `warroom serve` the server checks its own ledger. Exit 0 when every byte checked out,
    /// 1 naming the damage, 2 when the folder is not a ledger.
    Verify {
        /// Skip re-hashing the evidence bytes: a quick chain-only check.
        #[arg(long)]
        skip_evidence: bool,
    },
    /// Copy every entry that still verifies from a damaged ledger into a new folder, and
    /// list exactly what was lost. The damaged folder is left untouched. Exit 0 when nothing
    /// was lost, 1 when something was, 2 when the source is not a ledger or the target is
    /// not empty.
    Salvage {
        /// New (or empty) folder for the salvaged ledger.
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
    },
    /// Rebuild a ledger from its off-box copy (the segments `[ha]` uploads) into a new or
    /// empty folder — disaster recovery with no server left. Every segment's hash link is
    /// checked before anything is written, and the rebuilt ledger's chains are verified as
    /// they are replayed. Exit 0 when the whole copy was restored, 1 when the chain is broken
    /// or something could not be kept (named), 2 when the bucket or folder cannot be used.
    Restore {
        /// The bucket and prefix, as `[ha] bucket` names them: s3://BUCKET/PREFIX/.
        #[arg(long, value_name = "S3_URL")]
        from: String,
        /// New (or empty) folder for the restored ledger.
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
        /// Which installation's copy, when the prefix holds more than one.
        #[arg(long, value_name = "ID")]
        installation: Option<String>,
        /// The bucket's region (default: the plan's `[ha] region`).
        #[arg(long)]
        region: Option<String>,
        /// An S3-compatible endpoint (default: the plan's `[ha] endpoint`).
        #[arg(long, value_name = "URL")]
        endpoint: Option<String>,
    },
}

pub fn run(cmd: LedgerCommand, global: &Global) -> anyhow::Result<ExitCode> {
    let plan = context::load_plan(global)?;
    let dir = context::data_dir(global, &plan);
    match cmd {
        LedgerCommand::Verify { skip_evidence } => {
            let store = crate::clusters::evidence_store(&plan, &dir);
            let evidence = (!skip_evidence).then_some(store.as_ref());
            let outcome = catching_panics(|| {
                let reader = Reader::open(&dir)?;
                let mut progress = Progress::new("re-hashing evidence");
                let report = reader.verify(evidence, &mut |done, total| progress.show(done, total));
                progress.finish();
                report
            });
            match outcome {
                Ok(Ok(report)) => print_report(&dir, &report, global.json),
                Ok(Err(e)) => match e.downcast_ref::<warroom_ledger::LedgerError>() {
                    // Whatever stops the stored records from being read is damage to name.
                    Some(
                        warroom_ledger::LedgerError::Damaged { .. }
                        | warroom_ledger::LedgerError::Storage { .. }
                        | warroom_ledger::LedgerError::Corrupt { .. }
                        | warroom_ledger::LedgerError::Format { .. },
                    ) => damaged(global.json, &e.to_string()),
                    _ => Err(e),
                },
                Err(panic) => damaged(
                    global.json,
                    &format!(
                        "{}: the ledger's files are damaged: sled could not read them ({panic}). `warroom ledger salvage --to NEW_DIR` copies what still verifies",
                        dir.display()
                    ),
                ),
            }
        }
        LedgerCommand::Salvage { to } => salvage(&dir, &to, global.json),
        LedgerCommand::Restore {
            from,
            to,
            installation,
            region,
            endpoint,
        } => {
            let ha = plan.plan.ha.as_ref();
            let Some((bucket, prefix)) =
                warroom_adapters::segments::SegmentBucket::parse_url(&from)
            else {
                eprintln!("error: `{from}` is not an S3 URL: write s3://BUCKET/PREFIX/");
                return Ok(ExitCode::from(EXIT_BAD_INPUT));
            };
            let Some(region) = region.or_else(|| ha.map(|h| h.region.clone())) else {
                eprintln!("error: give --region (the plan has no [ha] to take it from)");
                return Ok(ExitCode::from(EXIT_BAD_INPUT));
            };
            let bucket = warroom_adapters::segments::SegmentBucket {
                bucket,
                region,
                prefix,
                endpoint: endpoint.or_else(|| ha.and_then(|h| h.endpoint.clone())),
                retention: None,
            };
            crate::cli::restore::run(&bucket, installation, &to, global.json)
        }
    }
}

fn damaged(json: bool, message: &str) -> anyhow::Result<ExitCode> {
    if json {
        print_json(&serde_json::json!({"intact": false, "damage": message}))?;
    } else {
        eprintln!("does NOT verify: {message}");
    }
    Ok(ExitCode::from(EXIT_FAILED))
}

fn print_report(dir: &std::path::Path, report: &Report, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        print_json(report)?;
    } else {
        for note in &report.repaired {
            eprintln!("note: {note}");
        }
        if let Some(f) = &report.failure {
            eprintln!(
                "{}: does NOT verify: incident {}, entry {}: {}",
                dir.display(),
                f.incident,
                f.seq,
                f.reason
            );
        }
        for p in &report.evidence_problems {
            eprintln!(
                "{}: evidence {} ({}, incident {}) {}: expected sha256 {}, found {}",
                dir.display(),
                p.evidence,
                p.name,
                p.incident,
                p.problem,
                p.expected_sha256,
                p.actual_sha256.as_deref().unwrap_or("nothing")
            );
        }
        if report.intact {
            let evidence = match report.evidence_checked {
                Some(n) => format!("{n} evidence artifacts re-hashed"),
                None => "evidence not re-hashed (--skip-evidence)".into(),
            };
            println!(
                "{}: intact — {} incidents, {} entries, every chain recomputed, {evidence}",
                dir.display(),
                report.incidents,
                report.entries
            );
            println!("installation {}", report.installation);
        }
    }
    Ok(if report.intact {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    })
}

fn salvage(from: &std::path::Path, to: &std::path::Path, json: bool) -> anyhow::Result<ExitCode> {
    let outcome = catching_panics(|| {
        warroom_ledger::salvage::salvage(from, to, Arc::new(SystemClock))
            .map_err(anyhow::Error::from)
    });
    let report = match outcome {
        Ok(Ok(report)) => report,
        Ok(Err(e)) => {
            let bad_input = matches!(
                e.downcast_ref::<warroom_ledger::LedgerError>(),
                Some(
                    warroom_ledger::LedgerError::NotALedger { .. }
                        | warroom_ledger::LedgerError::Folder { .. }
                )
            );
            eprintln!("error: {e}");
            return Ok(ExitCode::from(if bad_input {
                EXIT_BAD_INPUT
            } else {
                EXIT_FAILED
            }));
        }
        Err(panic) => anyhow::bail!("salvage stopped: {panic}"),
    };
    if json {
        print_json(&serde_json::json!({
            "complete": report.complete(),
            "from": from, "to": to,
            "incidents": report.incidents,
            "problems": report.problems,
        }))?;
    } else {
        for p in &report.problems {
            eprintln!("lost: {p}");
        }
        for i in &report.incidents {
            match &i.lost {
                Some(why) => eprintln!(
                    "{}: kept {} of {} entries ({} evidence records kept, {} lost); lost from there: {why}",
                    i.incident, i.kept, i.known, i.evidence_kept, i.evidence_lost
                ),
                None if i.evidence_lost > 0 => eprintln!(
                    "{}: kept all {} entries; {} evidence records lost",
                    i.incident, i.kept, i.evidence_lost
                ),
                None => println!("{}: kept all {} entries", i.incident, i.kept),
            }
        }
        println!(
            "salvaged {} incidents from {} into {}{}; {} is untouched",
            report.incidents.iter().filter(|i| i.kept > 0).count(),
            from.display(),
            to.display(),
            if report.complete() {
                ", nothing lost"
            } else {
                ""
            },
            from.display()
        );
    }
    Ok(if report.complete() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    })
}

/// Run `f`, turning a panic inside it (sled on damaged files) into its message, without the
/// default hook printing a backtrace over the report.
fn catching_panics<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    let caught = Arc::new(Mutex::new(None::<String>));
    let seen = caught.clone();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let text = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        *seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(format!("{text}{at}"));
    }));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(previous);
    result.map_err(|panic| {
        caught
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or_else(|| warroom_ledger::panic_message(&panic))
    })
}

/// A progress line on a terminal, shown once the work has taken over a second.
struct Progress {
    what: &'static str,
    started: Instant,
    shown: bool,
    tty: bool,
}

impl Progress {
    fn new(what: &'static str) -> Self {
        Progress {
            what,
            started: Instant::now(),
            shown: false,
            tty: std::io::stderr().is_terminal(),
        }
    }

    fn show(&mut self, done: u64, total: u64) {
        if !self.tty || self.started.elapsed().as_secs_f64() < 1.0 {
            return;
        }
        self.shown = true;
        let pct = (done * 100).checked_div(total).unwrap_or(100);
        eprint!(
            "\r{}: {:.1} of {:.1} MB ({pct}%)",
            self.what,
            done as f64 / 1e6,
            total as f64 / 1e6
        );
    }

    fn finish(&mut self) {
        if self.shown {
            eprintln!();
        }
    }
}
