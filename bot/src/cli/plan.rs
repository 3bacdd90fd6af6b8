use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use warroom_config::{PlanError, PlanSource};

use super::{EXIT_BAD_INPUT, Global};
use crate::context::{self, LOCAL_PLAN};

#[derive(Subcommand, Debug)]
pub enum PlanCommand {
    /// Validate a plan: exit 0 and print a summary, or exit 2 listing every problem as
    /// FILE:LINE:COLUMN, the field and a hint.
    ///
    /// Without FILE: --config, else ./warroom.toml, else the built-in example plan.
    Check {
        /// The plan file (TOML).
        file: Option<PathBuf>,
    },
}

pub fn run(cmd: PlanCommand, global: &Global) -> anyhow::Result<ExitCode> {
    let PlanCommand::Check { file } = cmd;
    let loaded = match file.or_else(|| global.config.clone()) {
        Some(path) => warroom_config::load_file(&path),
        None => context::load_plan(global),
    };
    match loaded {
        Ok(plan) => {
            if global.json {
                println!(
                    "{}",
                    serde_json::json!({"valid": true, "plan": plan.source.display(), "digest": plan.digest, "problems": []})
                );
            } else {
                if matches!(plan.source, PlanSource::Builtin) {
                    eprintln!(
                        "no FILE, no --config and no ./{LOCAL_PLAN}: checking the built-in example plan"
                    );
                }
                println!("{}: valid (sha256 {})", plan.source.display(), plan.digest);
                println!("{}", plan.plan.summary());
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(PlanError::Invalid { path, problems }) => {
            if global.json {
                let list: Vec<_> = problems
                    .iter()
                    .map(|p| serde_json::json!({"file": p.file, "line": p.line, "column": p.column, "path": p.path, "message": p.message, "hint": p.hint}))
                    .collect();
                println!(
                    "{}",
                    serde_json::json!({"valid": false, "plan": path.display().to_string(), "problems": list})
                );
            } else {
                for p in &problems {
                    eprintln!("{p}");
                }
                eprintln!(
                    "{}: {} problem{} found; the plan was not used",
                    path.display(),
                    problems.len(),
                    if problems.len() == 1 { "" } else { "s" }
                );
            }
            Ok(ExitCode::from(EXIT_BAD_INPUT))
        }
        Err(e @ PlanError::Read { .. }) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(EXIT_BAD_INPUT))
        }
    }
}
