use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Args;
use warroom_config::PlanSource;

use super::Global;
use crate::context::{self, LOCAL_PLAN};
use crate::server;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address for the console, API, health and metrics [default: the plan's [console]
    /// listen, else 127.0.0.1:8686].
    #[arg(long, env = "WARROOM_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Drills: make each simulated (dry-run) action take this long, e.g. "5s", to practise
    /// with a slow cluster.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub dry_run_latency: Option<std::time::Duration>,
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    warroom_config::parse_duration(s).map_err(|e| e.to_string())
}

pub fn run(args: ServeArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let plan = context::load_plan(global)?;
    let dir = context::data_dir(global, &plan);
    match &plan.source {
        PlanSource::Builtin => eprintln!(
            "warroom: no --config and no ./{LOCAL_PLAN}: running on the built-in example plan (drill mode) with the ledger in {}",
            dir.display()
        ),
        PlanSource::File(path) => eprintln!(
            "warroom: plan {} (sha256 {}), ledger in {}",
            path.display(),
            &plan.digest,
            dir.display()
        ),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let listen = args.listen.unwrap_or(plan.plan.console.listen);
    let opts = server::ServeOptions {
        listen,
        dir,
        dry_run_latency: args.dry_run_latency.unwrap_or_default(),
    };
    runtime.block_on(server::serve(opts, plan))?;
    Ok(ExitCode::SUCCESS)
}
