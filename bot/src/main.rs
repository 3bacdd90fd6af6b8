//! `warroom`: the binary. Commands are in `cli/`, the HTTP server in `server/`.

mod cli;
mod clusters;
mod context;
mod discord;
mod engine;
mod gameday;
mod inbound;
mod leadership;
mod ledger_copy;
mod logging;
mod output;
mod pagers;
mod platforms;
mod reader;
mod server;
mod slack;
mod verify;
mod warm_copy;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command, EXIT_BAD_INPUT, EXIT_FAILED};
use warroom_config::PlanError;

fn main() -> ExitCode {
    // `warroom incident show … | head` should end quietly, as other command-line tools do,
    // not panic on a closed pipe.
    // SAFETY: called first thing, before any thread exists; SIG_DFL is a valid disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    logging::init(cli.global.log_format);
    let global = cli.global.clone();
    let result = match cli.command {
        Command::Plan(cmd) => cli::plan::run(cmd, &global),
        Command::Incident(cmd) => cli::incident::run(cmd, &global),
        Command::Export(cmd) => cli::export::run(cmd, &global),
        Command::Ledger(cmd) => cli::ledger::run(cmd, &global),
        Command::Discord(cmd) => cli::discord::run(cmd, &global),
        Command::Serve(args) => cli::serve::run(args, &global),
        Command::Drill(args) => cli::serve::drill(args, &global),
        Command::Preflight(args) => cli::preflight::run(args, &global),
    };
    match result {
        Ok(code) => code,
        Err(err) => report(&err),
    }
}

/// Print an error chain once, and pick the exit code: 2 for input warroom cannot use,
/// 1 for everything else.
fn report(err: &anyhow::Error) -> ExitCode {
    if let Some(PlanError::Invalid { path, problems }) = err.downcast_ref::<PlanError>() {
        for p in problems {
            eprintln!("{p}");
        }
        eprintln!(
            "{}: {} problem(s); fix them, then check with `warroom plan check {}`",
            path.display(),
            problems.len(),
            path.display()
        );
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    eprintln!("error: {err}");
    for cause in err.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
    let bad_input = err.downcast_ref::<PlanError>().is_some()
        || matches!(
            err.downcast_ref::<warroom_ledger::LedgerError>(),
            Some(
                warroom_ledger::LedgerError::NoSuchIncident(_)
                    | warroom_ledger::LedgerError::NotALedger { .. }
            )
        )
        || err.downcast_ref::<reader::NotFound>().is_some()
        || err.downcast_ref::<cli::serve::BadScenario>().is_some()
        || err.downcast_ref::<cli::serve::DrillListen>().is_some();
    ExitCode::from(if bad_input {
        EXIT_BAD_INPUT
    } else {
        EXIT_FAILED
    })
}
