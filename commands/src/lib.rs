//! The pure core of warroom: the incident model, who acted, what happened and when.
//!
//! Nothing here performs I/O: no async runtime, storage, cluster, cloud or chat crates.
//! The clock is injected so that expiry and escalation are testable without sleeping.

pub mod actor;
pub mod alert;
pub mod authorize;
pub mod change;
pub mod clock;
pub mod command;
pub mod containment;
#[doc(hidden)]
pub mod damage;
pub mod event;
pub mod guardrails;
pub mod ids;
pub mod incident;
pub mod markup;
pub mod outbox;
pub mod reminders;
pub mod request;
pub mod undo;

pub use actor::Actor;
pub use clock::{Clock, ManualClock, ScaledClock, SystemClock};
pub use event::{EscalationStep, Event, EventError};
pub use ids::{IdError, IncidentId};
pub use incident::{Escalation, Incident, IncidentStatus};
pub use request::{Refusal, Request, RequestSpec, RequestStatus};
pub use warroom_config::{PersonId, Severity};
