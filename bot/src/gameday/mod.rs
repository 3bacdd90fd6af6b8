//! Game days: a scenario's script run against the team on the drill cluster, and the
//! scorecard it earns.
//!
//! The script's alerts take the real intake path (the same parsers and rules as a sender's
//! post), its cluster changes go to the drill API server the team acts on, and its
//! conditions read what the team did from the ledger and from what that API server saw. The
//! clock is the server's (scaled with `--speed`, or moved by hand with `--manual-clock`), so
//! every time on the scorecard is the ledger's.
//!
//! Caveat: a run lives in this process. A clean stop ends it early and keeps its scorecard;
//! if warroom is killed mid-run, its incidents stay in the ledger but the run is not scored.

pub mod render;
pub mod run;
pub mod score;

pub use run::{Run, RunSettings, start};
