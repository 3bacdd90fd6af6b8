use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use warroom_config::{LoadedPlan, PlanSource};

use super::Global;
use crate::context::{self, LOCAL_PLAN};
use crate::server;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address for the console, API, health and metrics [default: the plan's [console]
    /// listen, else 127.0.0.1:8686].
    #[arg(long, env = "WARROOM_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// How long a drain keeps retrying evictions a PodDisruptionBudget refuses before it
    /// reports the pods left, e.g. "2m".
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "60s")]
    pub drain_timeout: std::time::Duration,
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    warroom_config::parse_duration(s).map_err(|e| e.to_string())
}

#[derive(Args, Debug)]
pub struct DrillArgs {
    /// A scenario: a YAML file of ordinary Kubernetes manifests (namespaces, nodes, pods,
    /// workloads, services, policies). Default: the built-in payments cluster.
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

fn announce(plan: &LoadedPlan, dir: &std::path::Path) {
    match &plan.source {
        PlanSource::Builtin => crate::logging::notice_info(&format!(
            "no --config and no ./{LOCAL_PLAN}: running on the built-in example plan (drill mode) with the ledger in {}",
            dir.display()
        )),
        PlanSource::File(path) => crate::logging::notice_info(&format!(
            "plan {} (sha256 {}), ledger in {}{}",
            path.display(),
            &plan.digest,
            dir.display(),
            if plan.plan.is_drill() {
                " — DRILL MODE"
            } else {
                ""
            }
        )),
    }
}

fn start(
    plan: LoadedPlan,
    global: &Global,
    args: ServeArgs,
    scenario: Option<warroom_drill::Scenario>,
) -> anyhow::Result<ExitCode> {
    let dir = context::data_dir(global, &plan);
    announce(&plan, &dir);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let listen = args.listen.unwrap_or(plan.plan.console.listen);
    if plan.plan.is_drill() && !listen.ip().is_loopback() {
        return Err(DrillListen(listen).into());
    }
    let opts = server::ServeOptions {
        listen,
        dir,
        scenario,
        drain_timeout: args.drain_timeout,
    };
    runtime.block_on(server::serve(opts, plan))?;
    Ok(ExitCode::SUCCESS)
}

pub fn run(args: ServeArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let plan = context::load_plan(global)?;
    start(plan, global, args, None)
}

/// `warroom drill`: the same process on a simulated cluster, whatever the plan says.
pub fn drill(args: DrillArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let mut plan = context::load_plan(global)?;
    plan.plan.meta.drill = true;
    let scenario = match &args.scenario {
        None => warroom_drill::Scenario::payments(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read scenario {}", path.display()))?;
            warroom_drill::Scenario::from_yaml(&path.display().to_string(), &text)
                .map_err(BadScenario)?
        }
    };
    start(plan, global, args.serve, Some(scenario))
}

/// A scenario file warroom cannot use: bad input (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadScenario(pub warroom_drill::ScenarioError);

/// Drill mode trusts whoever picks a name, so it never listens beyond this machine.
#[derive(Debug, thiserror::Error)]
#[error(
    "refusing to listen on {0} in drill mode: a drill lets anyone who reaches the console act as any person of the plan, so it only listens on loopback (127.0.0.1 or ::1). To serve other machines, set `drill = false` in [plan] and give each person a token in [[console.tokens]]"
)]
pub struct DrillListen(pub std::net::SocketAddr);
