//! Everything that talks to the outside, each behind a trait the engine calls.
//!
//! One folder per adapter family. Today: the evidence store (local folder).

pub mod evidence;
