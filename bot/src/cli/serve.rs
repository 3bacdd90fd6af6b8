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
    /// workloads, services, policies), optionally with a `kind: GameDay` script that fires
    /// alerts and reacts to the team. A built-in one by name: payments-breach, node-miner,
    /// leaked-token (game days) or payments (a quiet cluster, the default).
    #[arg(long, value_name = "FILE|NAME")]
    pub scenario: Option<PathBuf>,
    /// Run the game day's clock this many times faster than real time (escalations, expiries
    /// and the ledger's timestamps follow it), e.g. 10 to rehearse a 45-minute script in 4½.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = parse_speed)]
    pub speed: u32,
    /// Move the clock only when told: `POST /api/v1/drill/clock {"advance": "5m"}`. For
    /// tabletop exercises that pause between steps, and for tests.
    #[arg(long, conflicts_with = "speed")]
    pub manual_clock: bool,
    #[command(flatten)]
    pub serve: ServeArgs,
}

fn parse_speed(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(v) if (1..=1000).contains(&v) => Ok(v),
        _ => Err(format!(
            "`{s}` is not a speed: give a whole number from 1 (real time) to 1000"
        )),
    }
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

/// The clock a server runs on: the system's, a game day's scaled one, or a manual one.
struct Clocks {
    clock: std::sync::Arc<dyn warroom_commands::Clock>,
    manual: Option<std::sync::Arc<warroom_commands::ManualClock>>,
    speed: u32,
}

impl Clocks {
    fn system() -> Clocks {
        Clocks {
            clock: std::sync::Arc::new(warroom_commands::SystemClock),
            manual: None,
            speed: 1,
        }
    }
}

fn start(
    plan: LoadedPlan,
    global: &Global,
    args: ServeArgs,
    scenario: Option<warroom_drill::Scenario>,
    clocks: Clocks,
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
        clock: clocks.clock,
        manual_clock: clocks.manual,
        speed: clocks.speed,
    };
    runtime.block_on(server::serve(opts, plan))?;
    Ok(ExitCode::SUCCESS)
}

pub fn run(args: ServeArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let plan = context::load_plan(global)?;
    start(plan, global, args, None, Clocks::system())
}

/// `warroom drill`: the same process on a simulated cluster, whatever the plan says.
///
/// On a plan written for production, the drill keeps to this machine: it leaves out `[ha]`
/// and the plan's evidence store (see `Plan::confine_to_drill`) and, without `--data`, keeps
/// its ledger in `./warroom-drill-data`, never the plan's.
pub fn drill(args: DrillArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let mut plan = context::load_plan(global)?;
    let mut global = global.clone();
    if !plan.plan.is_drill() && global.data.is_none() {
        global.data = Some(context::DRILL_DATA.into());
    }
    for left_out in plan.plan.confine_to_drill() {
        crate::logging::notice_warn(&format!("drill: {left_out}"));
    }
    let global = &global;
    let scenario = match &args.scenario {
        None => warroom_drill::Scenario::payments(),
        Some(path)
            if !path.exists()
                && warroom_drill::Scenario::builtin(&path.to_string_lossy()).is_some() =>
        {
            warroom_drill::Scenario::builtin(&path.to_string_lossy())
                .unwrap_or_else(warroom_drill::Scenario::payments)
        }
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!(
                    "cannot read scenario {} (built-in ones: {})",
                    path.display(),
                    warroom_drill::Scenario::BUILTIN.join(", ")
                )
            })?;
            warroom_drill::Scenario::from_yaml_in(&path.display().to_string(), &text, path.parent())
                .map_err(BadScenario)?
        }
    };
    let now = chrono::Utc::now();
    let clocks = if args.manual_clock {
        let manual = std::sync::Arc::new(warroom_commands::ManualClock::new(now));
        Clocks {
            clock: manual.clone(),
            manual: Some(manual),
            speed: 0,
        }
    } else if args.speed != 1 {
        Clocks {
            clock: std::sync::Arc::new(warroom_commands::ScaledClock::new(
                now,
                f64::from(args.speed),
            )),
            manual: None,
            speed: args.speed,
        }
    } else {
        Clocks::system()
    };
    start(plan, global, args.serve, Some(scenario), clocks)
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
