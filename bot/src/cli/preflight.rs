//! `warroom preflight`: would the planned actions be permitted, and is isolation enforced?

use std::process::ExitCode;

use clap::Args;
use serde_json::json;
use warroom_adapters::cluster::kubernetes::preflight::{Verdict, check_actions, detect_cni};
use warroom_config::ActionName;

use super::{EXIT_FAILED, Global};
use crate::context;
use crate::output::print_json;

#[derive(Args, Debug)]
pub struct PreflightArgs {
    /// Check only this cluster of the plan.
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,
}

pub fn run(args: PreflightArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let plan = context::load_plan(global)?;
    let dir = context::data_dir(global, &plan);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let clusters = if plan.plan.is_drill() {
            crate::clusters::drill(&plan, &dir, warroom_drill::Scenario::payments()).await?
        } else {
            crate::clusters::real(&plan, &dir).await
        };
        let actions: Vec<ActionName> = plan.plan.actions.keys().copied().collect();
        let mut denied_any = false;
        let mut report = Vec::new();
        let names: Vec<String> = plan.plan.clusters.iter().map(|c| c.name.clone()).filter(|n| args.cluster.as_ref().is_none_or(|c| c == n)).collect();
        anyhow::ensure!(!names.is_empty(), "no cluster to check: the plan has {}", if plan.plan.clusters.is_empty() { "no [[clusters]]".to_owned() } else { format!("no cluster named {}", args.cluster.unwrap_or_default()) });
        for name in names {
            let plan_engine = plan.plan.cluster(&name).map(|c| c.network_policy.as_str()).unwrap_or("?");
            let target = match clusters.kube.target(&name) {
                Ok(t) => t,
                Err(e) => {
                    denied_any = true;
                    if !global.json {
                        println!("cluster {name}: UNKNOWN — {e}");
                    }
                    report.push(json!({ "cluster": name, "error": e.to_string() }));
                    continue;
                }
            };
            let checks = check_actions(target, &actions).await;
            let cni = detect_cni(target).await;
            if !global.json {
                println!("cluster {name} ({}):", target.server);
                for c in &checks {
                    match &c.verdict {
                        Verdict::Allowed if c.action.risk() != warroom_config::Risk::Read && warroom_adapters::executors::on_aws(c.action) => {
                            println!("  {:<11} allowed in Kubernetes; its AWS part is not configured in this build", c.action.as_str())
                        }
                        Verdict::Allowed => println!("  {:<11} allowed", c.action.as_str()),
                        Verdict::Denied(missing) => {
                            println!("  {:<11} DENIED — missing:", c.action.as_str());
                            for m in missing {
                                println!("                - {m}");
                            }
                        }
                        Verdict::Unknown(why) => println!("  {:<11} unknown — {why}", c.action.as_str()),
                    }
                }
                match (&cni.error, cni.enforcing) {
                    (Some(e), _) => println!("  network policy: unknown — {e}"),
                    (None, true) => println!("  network policy: enforced ({}); the plan says {plan_engine}", cni.found.join(", ")),
                    (None, false) => println!(
                        "  network policy: NO enforcing CNI visible{} — quarantine would not isolate; the plan says {plan_engine}",
                        if cni.found.is_empty() { String::new() } else { format!(" ({})", cni.found.join(", ")) }
                    ),
                }
            }
            // Unknown is not a pass: nobody can say the action would work.
            denied_any |= checks.iter().any(|c| matches!(c.verdict, Verdict::Denied(_) | Verdict::Unknown(_)));
            report.push(json!({
                "cluster": name,
                "server": target.server,
                "actions": checks.iter().map(|c| json!({
                    "action": c.action.as_str(),
                    "verdict": match &c.verdict { Verdict::Allowed => "allowed", Verdict::Denied(_) => "denied", Verdict::Unknown(_) => "unknown" },
                    "missing": match &c.verdict { Verdict::Denied(m) => m.clone(), _ => Vec::new() },
                    "reason": match &c.verdict { Verdict::Unknown(r) => Some(r.clone()), _ => None },
                })).collect::<Vec<_>>(),
                "network_policy": { "found": cni.found, "enforcing": cni.enforcing, "error": cni.error, "plan_says": plan_engine },
            }));
        }
        if global.json {
            print_json(&json!({ "clusters": report, "ok": !denied_any }))?;
        }
        Ok(if denied_any { ExitCode::from(EXIT_FAILED) } else { ExitCode::SUCCESS })
    })
}
