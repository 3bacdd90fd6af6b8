//! Checks on the typed plan that serde cannot express.

mod quorum;
mod refs;
pub(crate) mod secrets;
mod shapes;
mod unique;

use crate::model::Plan;
use crate::report::Report;

pub(crate) fn check(plan: &Plan, report: &mut Report<'_>) {
    unique::check(plan, report);
    refs::check(plan, report);
    quorum::check(plan, report);
    shapes::check(plan, report);
}
