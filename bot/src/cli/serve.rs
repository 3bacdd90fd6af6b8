use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Args;
use warroom_config::PlanSource;

use super::Global;
use crate::context::{self, LOCAL_PLAN};
use crate::server;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address for the HTTP server (health, readiness, metrics; later the console and webhooks).
    #[arg(long, default_value = "127.0.0.1:8686", env = "WARROOM_LISTEN")]
    pub listen: SocketAddr,
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
    runtime.block_on(server::serve(args.listen, dir, plan))?;
    Ok(ExitCode::SUCCESS)
}
