use std::process::ExitCode;

use clap::Subcommand;

use super::{EXIT_FAILED, Global};
use crate::context;
use crate::output::print_json;

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
    let ledger = context::open_ledger(&dir)?;
    let report = ledger.verify()?;
    if global.json {
        print_json(&serde_json::json!({
            "intact": report.failure.is_none(),
            "incidents": report.incidents,
            "entries": report.entries,
            "failure": report.failure.as_ref().map(|f| serde_json::json!({"incident": f.incident, "seq": f.seq, "reason": f.reason.to_string()})),
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
        Some(f) => {
            if !global.json {
                eprintln!("{}: does NOT verify: {f}", dir.display());
            }
            Ok(ExitCode::from(EXIT_FAILED))
        }
    }
}
