//! Log output: text for people (every field value escaped, so a value from outside cannot
//! forge a line or send terminal escapes) or JSON lines for collectors (`--log-format json`).

use std::fmt::Write as _;
use std::io::IsTerminal;

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::format::{Writer, debug_fn};

#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One readable line per event; control characters in values are escaped.
    #[default]
    Text,
    /// One JSON object per line (timestamp, level, target, fields, spans).
    Json,
}

/// The format chosen at start, for [`notice_info`] and [`notice_warn`].
static FORMAT: std::sync::OnceLock<LogFormat> = std::sync::OnceLock::new();

/// A message for the operator at start and stop (where warroom listens, which plan, what is
/// not configured): `warroom: …` for a person, or one JSON line like the log's own, so a
/// collector reading JSON never meets a line it cannot parse. Shown whatever `WARROOM_LOG`
/// says.
pub fn notice_info(message: &str) {
    notice("INFO", message);
}

/// As [`notice_info`], for something that does not work as configured.
pub fn notice_warn(message: &str) {
    notice("WARN", message);
}

fn notice(level: &str, message: &str) {
    match FORMAT.get().copied().unwrap_or_default() {
        LogFormat::Text => eprintln!("warroom: {message}"),
        LogFormat::Json => eprintln!(
            "{}",
            serde_json::json!({
                "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                "level": level,
                "fields": { "message": message },
                "target": "warroom",
            })
        ),
    }
}

/// Install the subscriber: `WARROOM_LOG` filters (default `warn`), stderr is the output.
pub fn init(format: LogFormat) {
    let _ = FORMAT.set(format);
    let filter = EnvFilter::try_from_env("WARROOM_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder
            // Colours only for a person at a terminal; never in files or pipes.
            .with_ansi(std::io::stderr().is_terminal())
            .fmt_fields(
                debug_fn(|w: &mut Writer<'_>, field, value| {
                    let text = format!("{value:?}");
                    if field.name() == "message" {
                        w.write_str(&escape(&text))
                    } else {
                        write!(w, "{}={}", field.name(), escape(&text))
                    }
                })
                .delimited(" "),
            )
            .init(),
    }
}

/// Control characters (newlines, ESC, NUL, …) written as Rust-style escapes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_cannot_leave_their_field() {
        assert_eq!(
            escape("mallory\n2026-11-30T00:00:00Z  INFO forged\u{1b}[31m\0"),
            "mallory\\n2026-11-30T00:00:00Z  INFO forged\\u{1b}[31m\\u{0}"
        );
        assert_eq!(escape("plain é ✓"), "plain é ✓");
    }
}
