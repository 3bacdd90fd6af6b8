use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use warroom_ledger::{ExportError, verify_export};

use super::{EXIT_BAD_INPUT, EXIT_FAILED, Global};
use crate::output::print_json;

#[derive(Subcommand, Debug)]
pub enum ExportCommand {
    /// Recompute an exported timeline's hash chain offline. Exit 0 when intact, 1 naming the
    /// first entry that does not verify, 2 when the file is not a readable export.
    Verify {
        /// A JSON export from `warroom incident export ID --format json`.
        file: PathBuf,
    },
}

pub fn run(cmd: ExportCommand, global: &Global) -> anyhow::Result<ExitCode> {
    let ExportCommand::Verify { file } = cmd;
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", file.display());
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    let (code, report) = match verify_export(&text) {
        Ok(ok) => {
            if !global.json {
                println!(
                    "{}: intact — incident {}, {} entries, {} evidence records, head {}",
                    file.display(),
                    ok.incident,
                    ok.entries,
                    ok.evidence,
                    ok.head
                );
            }
            (
                ExitCode::SUCCESS,
                serde_json::json!({"intact": true, "incident": ok.incident, "entries": ok.entries, "evidence": ok.evidence, "head": ok.head}),
            )
        }
        Err(ExportError::Tampered(e)) => {
            if !global.json {
                eprintln!("{}: does NOT verify: {e}", file.display());
            }
            (
                ExitCode::from(EXIT_FAILED),
                serde_json::json!({"intact": false, "incident": e.incident, "seq": e.seq, "reason": e.reason.to_string()}),
            )
        }
        Err(e @ ExportError::Unreadable(_)) => {
            if !global.json {
                eprintln!("{}: {e}", file.display());
            }
            (
                ExitCode::from(EXIT_BAD_INPUT),
                serde_json::json!({"intact": false, "reason": e.to_string()}),
            )
        }
    };
    if global.json {
        print_json(&report)?;
    }
    Ok(code)
}
