//! The command grammar shared by the console, Slack, Discord and the HTTP API.

pub mod ast;
mod lex;
mod manual;
mod parse;
#[cfg(test)]
mod parse_tests;
mod suggest;
mod usage;

pub use ast::{AckScope, ActionRequest, Command, IncidentRole, ObjectKind, Target};
pub use lex::{LexError, as_word, free_text, words};
pub use parse::{MAX_COMMAND_CHARS, ParseError, help_for, parse};
pub use suggest::{closest, did_you_mean};
pub use usage::{USAGES, help_text, usage_of};
