//! `warroom ledger restore --from s3://…`: a ledger rebuilt from its off-box copy.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use warroom_adapters::segments::{SegmentBucket, SegmentStore};
use warroom_commands::SystemClock;

use super::{EXIT_BAD_INPUT, EXIT_FAILED};
use crate::output::print_json;

pub fn run(
    bucket: &SegmentBucket,
    installation: Option<String>,
    to: &Path,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let installation = match installation {
        Some(i) => i,
        None => match SegmentStore::installations(bucket) {
            Ok(found) if found.len() == 1 => found[0].clone(),
            Ok(found) if found.is_empty() => {
                eprintln!("error: {} holds no ledger copy", bucket.url());
                return Ok(ExitCode::from(EXIT_BAD_INPUT));
            }
            Ok(found) => {
                eprintln!(
                    "error: {} holds the copies of {} installations ({}): choose one with --installation",
                    bucket.url(),
                    found.len(),
                    found.join(", ")
                );
                return Ok(ExitCode::from(EXIT_BAD_INPUT));
            }
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(ExitCode::from(EXIT_BAD_INPUT));
            }
        },
    };
    let store = SegmentStore::new(bucket.clone(), &installation)?;
    let names = match store.list() {
        Ok(n) => n,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    let location = store.location();
    let segments = match store.get_all(&names, &mut |done, total| {
        if !json && (done % 100 == 1 || done == total) {
            eprint!("\rreading {location}: {done}/{total}");
        }
    }) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("\nerror: {e}");
            return Ok(ExitCode::from(EXIT_FAILED));
        }
    };
    if !json && !names.is_empty() {
        eprintln!();
    }
    let report = match warroom_ledger::segment::restore(&segments, to, Arc::new(SystemClock)) {
        Ok(r) => r,
        Err(e @ warroom_ledger::LedgerError::Folder { .. }) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
        Err(e) => {
            eprintln!("error: nothing restored: {e}");
            return Ok(ExitCode::from(EXIT_FAILED));
        }
    };
    let complete = report.rebuilt.complete();
    if json {
        print_json(&serde_json::json!({
            "complete": complete,
            "from": store.location(),
            "to": to,
            "installation": installation,
            "segments": report.segments,
            "last_batch": report.last_batch,
            "head": report.head,
            "incidents": report.rebuilt.incidents,
            "problems": report.rebuilt.problems,
        }))?;
    } else {
        for p in &report.rebuilt.problems {
            eprintln!("lost: {p}");
        }
        for i in report.rebuilt.incidents.iter().filter(|i| i.lost.is_some()) {
            eprintln!(
                "{}: kept {} of {} entries; lost from there: {}",
                i.incident,
                i.kept,
                i.known,
                i.lost.as_deref().unwrap_or_default()
            );
        }
        println!(
            "restored {} incidents ({} entries) from {} segments of {} into {}; chain head {} (journal batch {}){}",
            report.rebuilt.incidents.len(),
            report.rebuilt.incidents.iter().map(|i| i.kept).sum::<u64>(),
            report.segments,
            store.location(),
            to.display(),
            report.head,
            report.last_batch,
            if complete {
                "; every chain verified"
            } else {
                "; NOT complete (see above)"
            }
        );
    }
    Ok(if complete {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    })
}
