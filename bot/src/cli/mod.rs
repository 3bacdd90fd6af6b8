//! The command line: what each command does is in its `--help`.

pub mod discord;
pub mod export;
pub mod incident;
pub mod ledger;
pub mod plan;
pub mod preflight;
pub mod restore;
pub mod serve;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Exit code for a check that found a problem (a broken chain, an altered export).
pub const EXIT_FAILED: u8 = 1;
/// Exit code for input warroom cannot use (an invalid plan, an unreadable file).
pub const EXIT_BAD_INPUT: u8 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "warroom",
    version,
    about = "ChatOps for Kubernetes incident response: incidents, two-person approval, and a verifiable evidence ledger",
    long_about = "warroom keeps an incident's decision timeline and evidence log in a local sled ledger whose \
entries form a SHA-256 hash chain, runs the long-lived bot (`warroom serve`), and checks response plans.\n\n\
The plan is read from --config FILE, else ./warroom.toml, else the built-in example plan. \
The ledger lives in --data DIR, else the plan's storage.data_dir, else ./warroom-data.",
    after_help = "Examples:\n  warroom serve                                  # built-in example plan, ./warroom-data\n  warroom plan check config/examples/plan.toml\n  id=$(warroom incident open --title \"Shell in payments-api\" --severity sev2)\n  warroom incident note \"$id\" \"Isolated the pod\"\n  warroom incident export \"$id\" --format json --out timeline.json\n  warroom export verify timeline.json"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Ledger folder; overrides the plan's storage.data_dir.
    #[arg(long, global = true, value_name = "DIR", env = "WARROOM_DATA")]
    pub data: Option<PathBuf>,
    /// Response plan to use (default: ./warroom.toml, else the built-in example plan).
    #[arg(long, global = true, value_name = "FILE", env = "WARROOM_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print records as JSON instead of text (for scripts).
    #[arg(long, global = true)]
    pub json: bool,
    /// Log lines on stderr: `text` (values escaped) or `json` (one object per line, for
    /// log collectors). Filter with WARROOM_LOG (e.g. `info`, `warroom=debug`).
    #[arg(
        long,
        global = true,
        value_enum,
        default_value_t,
        env = "WARROOM_LOG_FORMAT"
    )]
    pub log_format: crate::logging::LogFormat,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check a response plan.
    #[command(subcommand)]
    Plan(plan::PlanCommand),
    /// Open incidents, add notes, list, show and export timelines.
    #[command(subcommand)]
    Incident(incident::IncidentCommand),
    /// Check an exported timeline offline.
    #[command(subcommand)]
    Export(export::ExportCommand),
    /// Check the ledger itself.
    #[command(subcommand)]
    Ledger(ledger::LedgerCommand),
    /// Set Discord up: register warroom's slash commands.
    #[command(subcommand)]
    Discord(discord::DiscordCommand),
    /// Run the long-lived warroom process: the console at /, the command API at /api/v1,
    /// /healthz, /readyz, /metrics. On the built-in plan (or `drill = true`) it runs a drill
    /// against a simulated Kubernetes cluster in the same process.
    Serve(serve::ServeArgs),
    /// Run a drill: `serve` against a simulated Kubernetes API server loaded from a
    /// scenario file, whatever the plan says.
    Drill(serve::DrillArgs),
    /// Ask each cluster of the plan whether every planned action would be permitted
    /// (SelfSubjectAccessReview) and whether a NetworkPolicy-enforcing CNI is visible.
    /// Exit 1 when any planned action would be denied.
    Preflight(preflight::PreflightArgs),
}
