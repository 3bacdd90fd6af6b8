use std::process::ExitCode;

use clap::Subcommand;

use super::{EXIT_FAILED, Global};
use crate::context;
use crate::output::print_json;
use crate::reader::Reader;

#[derive(Subcommand, Debug)]
pub enum LedgerCommand {
    /// Recompute every incident's hash chain and check each incident record against its
    /// timeline. Exit 0 when all are intact, 1 naming the first bad entry.
    Verify,
}

pub fn run(cmd: LedgerCommand, global: &Global) -> anyhow::Result<ExitCode> {
    let LedgerCommand::Verify = cmd;
    let plan = context::load_plan(global)?;
    let dir = context::data_dir(global, &plan);
    let report = Reader::open(&dir)?.verify()?;
    if global.json {
        print_json(&serde_json::json!({
            "intact": report.failure.is_none(),
            "incidents": report.incidents,
            "entries": report.entries,
            "failure": report.failure.as_ref().map(|(incident, seq, reason)| serde_json::json!({"incident": incident, "seq": seq, "reason": reason})),
        }))?;
    }
    match report.failure {
        None => {
            if !global.json {
                println!(
                    "{}: intact — {} incidents, {} entries, every chain recomputed",
                    dir.display(),
                    report.incidents,
                    report.entries
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Some((incident, seq, reason)) => {
            if !global.json {
                eprintln!(
                    "{}: does NOT verify: incident {incident}, entry {seq}: {reason}",
                    dir.display()
                );
            }
            Ok(ExitCode::from(EXIT_FAILED))
        }
    }
}
