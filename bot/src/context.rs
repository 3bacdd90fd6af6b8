//! What every command needs: the plan, the ledger folder and who is acting.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use warroom_commands::{Actor, SystemClock};
use warroom_config::{LoadedPlan, PlanError, PlanSource};
use warroom_ledger::{Ledger, LedgerError};

use crate::cli::Global;

/// Default plan file looked for in the working directory.
pub const LOCAL_PLAN: &str = "warroom.toml";
/// Ledger folder used when neither --data nor the plan names one.
pub const DEFAULT_DATA: &str = "warroom-data";
/// The data folder of `warroom drill` on a plan written for production, when `--data` is
/// not given: never the plan's own ledger.
pub const DRILL_DATA: &str = "warroom-drill-data";

/// The plan to use: `--config`, else `./warroom.toml`, else the built-in example.
pub fn load_plan(global: &Global) -> Result<LoadedPlan, PlanError> {
    match &global.config {
        Some(path) => warroom_config::load_file(path),
        None if Path::new(LOCAL_PLAN).exists() => warroom_config::load_file(Path::new(LOCAL_PLAN)),
        None => Ok(warroom_config::builtin()),
    }
}

/// The ledger folder: `--data`, else the plan's storage folder, else `./warroom-data`.
/// The built-in plan always uses `./warroom-data`, so a first run never writes elsewhere.
pub fn data_dir(global: &Global, plan: &LoadedPlan) -> PathBuf {
    if let Some(dir) = &global.data {
        return dir.clone();
    }
    match (&plan.source, plan.plan.data_dir()) {
        (PlanSource::File(file), Some(dir)) if dir.is_relative() => {
            // A relative folder in a plan is relative to the plan file, not to wherever
            // warroom happens to be started.
            file.parent().unwrap_or(Path::new(".")).join(dir)
        }
        (PlanSource::File(_), Some(dir)) => dir.to_path_buf(),
        _ => PathBuf::from(DEFAULT_DATA),
    }
}

pub fn open_ledger(dir: &Path) -> Result<Ledger, LedgerError> {
    Ledger::open(dir, Arc::new(SystemClock))
}

/// As [`open_ledger`], stamping entries with `clock` (a drill's scaled or manual clock).
pub fn open_ledger_with(
    dir: &Path,
    clock: Arc<dyn warroom_commands::Clock>,
) -> Result<Ledger, LedgerError> {
    Ledger::open(dir, clock)
}

/// For commands that only read: a private copy, so the data folder is never written.
pub fn open_read_only(dir: &Path) -> Result<Ledger, LedgerError> {
    Ledger::open_read_only(dir, Arc::new(SystemClock))
}

/// The local user running the CLI, recorded as `cli:<user>`.
pub fn cli_actor() -> Actor {
    let user = ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.trim().is_empty()))
        .unwrap_or_else(uid_name);
    Actor::Cli(user)
}

/// Fall back to the uid when no user name is in the environment (containers, cron).
fn uid_name() -> String {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata("/proc/self") {
        Ok(m) if m.uid() == 0 => "root".into(),
        Ok(m) => format!("uid-{}", m.uid()),
        Err(_) => "unknown".into(),
    }
}
