use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Subcommand, ValueEnum};
use warroom_commands::clock::timestamp;
use warroom_commands::{Event, Incident, IncidentId, Severity};
use warroom_ledger::{Entry, to_markdown};

use super::Global;
use crate::context;
use crate::output::{print_json, short, write_atomically};
use crate::reader::Reader;

#[derive(Subcommand, Debug)]
pub enum IncidentCommand {
    /// Open an incident and print its id (the only thing written to stdout, for scripts).
    Open {
        /// One line saying what is wrong, e.g. "Shell spawned in payments-api".
        #[arg(long)]
        title: String,
        /// sev1 (critical, all hands) … sev4 (minor).
        #[arg(long, value_parser = parse_severity)]
        severity: Severity,
    },
    /// Add a note to an incident's timeline.
    Note {
        /// Incident id, e.g. INC-20261127-0001.
        id: IncidentId,
        /// The note; quote it.
        text: String,
    },
    /// List incidents, oldest first.
    List,
    /// Show an incident and its timeline.
    Show { id: IncidentId },
    /// Export an incident: JSON carries every entry with its hashes (check it with
    /// `warroom export verify`); Markdown is a readable post-mortem timeline.
    Export {
        id: IncidentId,
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// Write here instead of stdout (written atomically).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Copy, Clone, Debug, ValueEnum)]
pub enum ExportFormat {
    Json,
    Markdown,
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse::<Severity>().map_err(|e| e.to_string())
}

pub fn run(cmd: IncidentCommand, global: &Global) -> anyhow::Result<ExitCode> {
    let plan = context::load_plan(global)?;
    let dir = context::data_dir(global, &plan);
    let actor = context::cli_actor();
    // Reads work beside a running server (through it); writes need the ledger itself.
    let cmd = match cmd {
        IncidentCommand::List => return list(&Reader::open(&dir)?, global.json),
        IncidentCommand::Show { id } => return show(&Reader::open(&dir)?, &id, global.json),
        IncidentCommand::Export { id, format, out } => {
            return export(&Reader::open(&dir)?, &id, format, out, &actor.to_string());
        }
        write => write,
    };
    let ledger = match context::open_ledger(&dir) {
        Err(warroom_ledger::LedgerError::Locked { .. })
            if crate::reader::Remote::find(&dir).ok().flatten().is_some() =>
        {
            anyhow::bail!(
                "{} is owned by a running warroom serve: record this through it instead (the console, or POST /api/v1/command with a person's token)",
                dir.display()
            )
        }
        other => other?,
    };
    match cmd {
        IncidentCommand::Open { title, severity } => {
            let title = title.trim();
            anyhow::ensure!(!title.is_empty(), "--title must not be empty");
            let done = ledger.open_incident(title, severity, &actor).wait()?;
            if global.json {
                print_json(
                    &serde_json::json!({"id": done.incident.id, "incident": done.incident, "entry": done.entry}),
                )?;
            } else {
                println!("{}", done.incident.id);
                eprintln!(
                    "opened {} ({severity}) as {actor}; recorded in {}",
                    done.incident.id,
                    dir.display()
                );
            }
        }
        IncidentCommand::Note { id, text } => {
            anyhow::ensure!(!text.trim().is_empty(), "the note is empty");
            let done = ledger.append(&id, &actor, Event::Note { text }).wait()?;
            if global.json {
                print_json(&done.entry)?;
            } else {
                println!(
                    "recorded note as entry {} of {} (chain head {})",
                    done.entry.seq,
                    id,
                    short(&done.entry.hash)
                );
            }
        }
        IncidentCommand::List | IncidentCommand::Show { .. } | IncidentCommand::Export { .. } => {
            unreachable!("read commands return above")
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn export(
    reader: &Reader,
    id: &IncidentId,
    format: ExportFormat,
    out: Option<PathBuf>,
    actor: &str,
) -> anyhow::Result<ExitCode> {
    let export = reader.export(id, timestamp(chrono::Utc::now()), actor.to_owned())?;
    let text = match format {
        ExportFormat::Json => serde_json::to_string_pretty(&export)? + "\n",
        ExportFormat::Markdown => to_markdown(&export),
    };
    match out {
        Some(path) => {
            write_atomically(&path, text.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!(
                "exported {} ({} entries, head {}) to {}",
                id,
                export.entries.len(),
                short(&export.head.hash),
                path.display()
            );
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn list(reader: &Reader, json: bool) -> anyhow::Result<ExitCode> {
    let incidents = reader.incidents()?;
    if json {
        print_json(&incidents)?;
        return Ok(ExitCode::SUCCESS);
    }
    if incidents.is_empty() {
        println!("no incidents in {}", reader.place());
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<18} {:<5} {:<9} {:<17} {:>7}  TITLE",
        "ID", "SEV", "STATUS", "OPENED (UTC)", "ENTRIES"
    );
    for i in incidents {
        println!(
            "{:<18} {:<5} {:<9} {:<17} {:>7}  {}",
            i.id.to_string(),
            i.severity.to_string(),
            i.status.to_string(),
            i.opened_at.format("%Y-%m-%d %H:%M").to_string(),
            i.entries,
            i.title
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn show(reader: &Reader, id: &IncidentId, json: bool) -> anyhow::Result<ExitCode> {
    let (incident, entries, evidence) = reader.show(id)?;
    if json {
        print_json(
            &serde_json::json!({"incident": incident, "entries": entries, "evidence": evidence}),
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    print_header(&incident);
    for e in &entries {
        println!("  {}", describe_entry(e));
        for change in e.event().map(|ev| ev.changes()).unwrap_or_default() {
            println!("         {change}");
        }
    }
    for ev in &evidence {
        println!(
            "  evidence {}: {} ({} bytes, sha256 {}) at {}",
            ev.id, ev.name, ev.size, ev.sha256, ev.location
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn print_header(i: &Incident) {
    println!("{} — {}", i.id, i.title);
    println!(
        "severity {}  status {}  opened {} by {}",
        i.severity,
        i.status,
        i.opened_at.format("%Y-%m-%d %H:%M:%S UTC"),
        i.opened_by
    );
    println!(
        "chain head: entry {} {}",
        i.entries.saturating_sub(1),
        i.head
    );
    println!("timeline:");
}

fn describe_entry(e: &Entry) -> String {
    let what = e
        .event()
        .map(|ev| ev.describe())
        .unwrap_or_else(|_| format!("{} {}", e.kind, e.data));
    let time = e.at.get(..19).unwrap_or(&e.at).replace('T', " ");
    format!("#{:<3} {time}  {:<16} {what}", e.seq, e.actor)
}
