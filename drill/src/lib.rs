//! A stateful simulated Kubernetes API server for drills and tests.
//!
//! It speaks the Kubernetes REST API as JSON over plain HTTP, enough for `kube::Client` to get,
//! list, watch, create, replace, patch and delete the objects an incident responder touches,
//! plus the subresources containment and forensics need (scale, eviction, log, node proxy
//! checkpoint). Writes change a store that later reads see, and a few simple controllers keep
//! workloads, their pods and disruption budgets consistent. `/drill/` control endpoints let
//! tests inject faults and RBAC denials and read the request log.
//!
//! Control endpoints (not recorded, not Kubernetes paths):
//! - `GET /drill/requests` lists [`RecordedRequest`]s as JSON; `DELETE` clears them.
//! - `POST /drill/faults` takes a [`Fault`]: the next `times` matching requests fail with
//!   `status` as a metav1.Status. `GET` lists the pending faults, `DELETE` clears them.
//! - `POST /drill/deny` takes a [`Deny`]: matching requests get 403 from then on and
//!   SelfSubjectAccessReviews for that access answer `allowed: false`. `GET` lists, `DELETE` clears.
//!
//! Scenario annotations: `drill.warroom.io/logs.<container>` and
//! `drill.warroom.io/previous-logs.<container>` on pods are what `pods/log` returns;
//! `drill.warroom.io/checkpoint` on a node (`ok`, `disabled`, `no-criu`) picks how the kubelet
//! answers `POST /api/v1/nodes/{node}/proxy/checkpoint/{ns}/{pod}/{container}`.

mod catalog;
mod clock;
mod controllers;
mod crud;
mod discovery;
mod eviction;
mod faults;
mod ids;
mod kubelet;
mod lifecycle;
mod meta;
mod openapi;
mod patch;
mod path;
mod protobuf;
mod record;
mod routes;
mod scale;
mod scenario;
pub mod script;
mod selector;
mod server;
mod status;
mod store;
mod table;
mod validate;
mod watch;

pub use faults::{Deny, Fault};
pub use record::RecordedRequest;
pub use scenario::{Scenario, ScenarioError, ScenarioProblem};
pub use server::{DrillHandle, DrillServer};
