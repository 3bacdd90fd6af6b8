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

/// How long a starting server waits for a ledger lock held by a process that is not a
/// running server: a CLI command copying the folder to read it, or writing one entry.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// As [`open_ledger_with`], for a server starting: a lock held by a `warroom serve` that
/// answers at the address its `serve.json` names is final at once ("in use"); any other
/// holder (a `ledger verify` or `incident list` copying the folder, a CLI write) lets go
/// when its work is done, so the start waits for it, up to [`LOCK_WAIT`] (or `at_most`, for
/// a leader that must renew its Lease before it lapses), saying so once,
/// instead of exiting (which under Kubernetes or systemd means a crash loop, and in HA a
/// Lease held by a replica that cannot serve).
pub fn open_ledger_for_server(
    dir: &Path,
    clock: Arc<dyn warroom_commands::Clock>,
    at_most: std::time::Duration,
) -> Result<Ledger, LedgerError> {
    let wait = LOCK_WAIT.min(at_most);
    let deadline = std::time::Instant::now() + wait;
    let mut said = false;
    loop {
        match open_ledger_with(dir, clock.clone()) {
            Err(LedgerError::Locked { .. })
                if std::time::Instant::now() < deadline && !server_answers(dir) =>
            {
                if !said {
                    crate::logging::notice_warn(&format!(
                        "the ledger in {} is locked by another process that is not a running warroom serve (a CLI command reading or writing it): waiting up to {} s for it to finish",
                        dir.display(),
                        wait.as_secs()
                    ));
                    said = true;
                }
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            other => return other,
        }
    }
}

/// Whether the server `dir`'s `serve.json` names is another process that is running and
/// takes connections now. This process is not one (a restart after a crash finds its own
/// address there), nor is a process that is gone.
fn server_answers(dir: &Path) -> bool {
    #[derive(serde::Deserialize)]
    struct File {
        url: String,
        #[serde(default)]
        pid: Option<u32>,
    }
    let Some(f) = std::fs::read(dir.join(crate::server::SERVER_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice::<File>(&b).ok())
    else {
        return false;
    };
    if let Some(pid) = f.pid
        && (pid == std::process::id() || !Path::new(&format!("/proc/{pid}")).exists())
    {
        return false;
    }
    let address = f.url.trim_start_matches("http://").trim_end_matches('/');
    std::net::ToSocketAddrs::to_socket_addrs(address)
        .into_iter()
        .flatten()
        .any(|a| {
            std::net::TcpStream::connect_timeout(&a, std::time::Duration::from_millis(500)).is_ok()
        })
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
