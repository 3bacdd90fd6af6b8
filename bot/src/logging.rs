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

/// Install the subscriber: `WARROOM_LOG` filters (default `warn`), stderr is the output.
pub fn init(format: LogFormat) {
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
