//! Everything that talks to the outside, each behind a trait the engine calls.
//!
//! One folder per adapter family: chat (the web console), cluster (Kubernetes through kube), evidence store.

pub mod aws;
pub mod chat;
pub mod cluster;
pub mod deadline_body;
pub mod evidence;
pub mod executors;
pub mod lease;
pub mod pager;
pub mod segments;
