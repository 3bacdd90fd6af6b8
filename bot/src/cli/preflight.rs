//! `warroom preflight`: would the planned actions be permitted, and is isolation enforced?

use std::process::ExitCode;

use clap::Args;
use serde_json::json;
use warroom_adapters::cluster::Cluster;
use warroom_adapters::cluster::kubernetes::preflight::{Verdict, check_actions, detect_cni};
use warroom_commands::command::{ObjectKind, Target};
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
        // In a drill beside a running `warroom serve`, check the clusters it simulates (the
        // ones the team is acting on), not fresh copies.
        let running = if plan.plan.is_drill() {
            crate::reader::Remote::find(&dir)
                .ok()
                .flatten()
                .and_then(|r| r.drill_clusters().ok())
                .filter(|c| !c.is_empty())
        } else {
            None
        };
        let clusters = match running {
            Some(urls) => {
                if !global.json {
                    println!("checking the drill clusters of the running warroom serve");
                }
                crate::clusters::drill_at(&plan, &dir, &urls)?
            }
            None if plan.plan.is_drill() => {
                crate::clusters::drill(&plan, &dir, warroom_drill::Scenario::payments()).await?
            }
            None => crate::clusters::real(&plan, &dir).await,
        };
        let kube = std::sync::Arc::new(clusters.kube);
        let aws = crate::clusters::aws(&plan, kube.clone(), crate::clusters::evidence_store(&plan, &dir)).await;
        let actions: Vec<ActionName> = plan.plan.actions.keys().copied().collect();
        let mut denied_any = false;
        let mut report = Vec::new();
        let names: Vec<String> = plan.plan.clusters.iter().map(|c| c.name.clone()).filter(|n| args.cluster.as_ref().is_none_or(|c| c == n)).collect();
        anyhow::ensure!(!names.is_empty(), "no cluster to check: the plan has {}", if plan.plan.clusters.is_empty() { "no [[clusters]]".to_owned() } else { format!("no cluster named {}", args.cluster.unwrap_or_default()) });
        for name in names {
            let plan_engine = plan.plan.cluster(&name).map(|c| c.network_policy.as_str()).unwrap_or("?");
            let target = match kube.target(&name) {
                Ok(t) => t,
                Err(e) => {
                    denied_any = true;
                    if !global.json {
                        println!("UNKNOWN — {e}");
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
            let aws_report = match &aws {
                Some(aws) => aws.preflight(&name, first_provider_id(kube.as_ref(), &name).await.as_deref()).await,
                None => None,
            };
            if let Some(r) = &aws_report {
                denied_any |= !r.ok();
                if !global.json {
                    print_aws(r);
                }
            } else if !global.json && plan.plan.cluster(&name).is_some_and(|c| c.aws_account.is_some()) {
                println!("  aws: not contacted (see the start-up line above)");
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
                "aws": aws_report,
            }));
        }
        if global.json {
            print_json(&json!({ "clusters": report, "ok": !denied_any }))?;
        }
        Ok(if denied_any { ExitCode::from(EXIT_FAILED) } else { ExitCode::SUCCESS })
    })
}

/// The providerID of the cluster's first node: an instance for calls that name one.
async fn first_provider_id(kube: &dyn Cluster, cluster: &str) -> Option<String> {
    let node = kube.names(cluster, false).await.ok()?.into_iter().next()?;
    let target = Target {
        kind: ObjectKind::Node,
        namespace: String::new(),
        name: node,
    };
    kube.resolve(cluster, &target).await.ok()?.provider_id
}

fn print_aws(r: &warroom_adapters::aws::preflight::Report) {
    match &r.caller {
        Ok(arn) => println!("  aws account {}: acting as {arn}", r.account),
        Err(e) => println!("  aws account {}: UNKNOWN identity — {e}", r.account),
    }
    match &r.assumed {
        Ok(_) => println!("    role {}: assumed", r.role),
        Err(e) => println!("    role {}: CANNOT BE ASSUMED — {e}", r.role),
    }
    for c in &r.checks {
        match &c.detail {
            Some(d) => println!("    {:<34} {} — {d}", c.call, c.verdict),
            None => println!("    {:<34} {}", c.call, c.verdict),
        }
    }
}
