//! `warroom discord register`: put warroom's slash commands and its "Add to timeline"
//! message command on Discord, in one bulk overwrite (running it again changes nothing), and
//! say what changed.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use serde_json::Value;
use warroom_adapters::chat::discord::commands::definitions;

use super::{EXIT_BAD_INPUT, Global};
use crate::context;

#[derive(Subcommand, Debug)]
pub enum DiscordCommand {
    /// Register warroom's application commands with Discord (bulk overwrite: idempotent) and
    /// print which were added, changed, removed or left as they were. In a guild
    /// (`--guild`, else the plan's guild_id) they appear at once; `--global` registers them
    /// for every server the bot is in (Discord takes up to an hour to show them).
    Register {
        /// The server (guild) id; default: the plan's `[communication.discord] guild_id`.
        #[arg(long, value_name = "ID", conflicts_with = "global")]
        guild: Option<String>,
        /// Register for every server instead of one.
        #[arg(long)]
        global: bool,
    },
}

pub fn run(cmd: DiscordCommand, global: &Global) -> anyhow::Result<ExitCode> {
    let DiscordCommand::Register {
        guild,
        global: everywhere,
    } = cmd;
    let plan = match context::load_plan(global) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    let (rest, plan_guild) = match crate::discord::rest(&plan) {
        Ok(found) => found,
        Err(why) => {
            eprintln!("warroom discord register: {why}");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    let guild = if everywhere {
        None
    } else {
        guild.or(plan_guild)
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let wanted = definitions();
    let (before, after) = runtime.block_on(async {
        let before = rest.commands(guild.as_deref()).await?;
        let after = rest.overwrite_commands(guild.as_deref(), &wanted).await?;
        Ok::<_, warroom_adapters::chat::ChatError>((before, after))
    })?;
    let by_name = |list: &[Value]| -> BTreeMap<String, Value> {
        list.iter()
            .filter_map(|c| Some((c["name"].as_str()?.to_owned(), comparable(c))))
            .collect()
    };
    let (old, new) = (by_name(&before), by_name(&wanted));
    let mut lines = Vec::new();
    for (name, def) in &new {
        match old.get(name) {
            None => lines.push(format!("added     {name}")),
            Some(o) if o != def => lines.push(format!("changed   {name}")),
            Some(_) => lines.push(format!("unchanged {name}")),
        }
    }
    for name in old.keys().filter(|n| !new.contains_key(*n)) {
        lines.push(format!("removed   {name}"));
    }
    let scope = match &guild {
        Some(g) => format!("in guild {g}"),
        None => "globally".to_owned(),
    };
    if global.json {
        println!(
            "{}",
            serde_json::json!({ "scope": scope, "registered": after.len(), "changes": lines })
        );
    } else {
        for l in &lines {
            println!("{l}");
        }
        println!("{} commands registered {scope}", after.len());
    }
    Ok(ExitCode::SUCCESS)
}

/// The parts of a command that registration sets (Discord adds ids, versions, …).
fn comparable(c: &Value) -> Value {
    serde_json::json!({
        "type": c.get("type").cloned().unwrap_or(Value::from(1)),
        "description": c.get("description").cloned().unwrap_or_default(),
        "options": strip(c.get("options").cloned().unwrap_or(Value::Array(vec![]))),
    })
}

fn strip(options: Value) -> Value {
    match options {
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|o| {
                    serde_json::json!({
                        "type": o["type"],
                        "name": o["name"],
                        "description": o["description"],
                        "required": o.get("required").cloned().unwrap_or(Value::Bool(false)),
                        "choices": o.get("choices").cloned().unwrap_or(Value::Null),
                        "autocomplete": o.get("autocomplete").cloned().unwrap_or(Value::Bool(false)),
                        "options": strip(o.get("options").cloned().unwrap_or(Value::Array(vec![]))),
                    })
                })
                .collect(),
        ),
        other => other,
    }
}
