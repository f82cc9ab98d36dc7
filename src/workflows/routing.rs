//! Where a grade sends a failure: the mission's central rule, in one place. Grading by the rules,
//! a person's grade from triage and a safety officer's re-grade all come through [`route`].
//!
//! - Safety-critical: a make-safe visit within the deadline and retraining that gates the
//!   checklist; the safety officer's audit of it then opens a fair disciplinary review.
//! - Anything else: customer recovery (apology, fix, remedy, explanation, feedback within 24 h),
//!   and retraining for a technician who failed the same item before.
//! - In triage: nothing yet. A person grades it first, and no apology goes out meanwhile.

use chrono::{DateTime, Utc};

use super::follow_up::Opening;
use super::{Actor, Context, Error, recovery, safety};
use crate::db::{DbConnection, incidents::IncidentRow};
use crate::domain::severity::Severity;

/// How the incident came by its current grade.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Grading<'a> {
    /// The first grade: by the rules when the failure was reported, or by a person in triage.
    First { repeated_items: &'a [String] },
    /// A safety officer re-graded an incident routed before.
    Regrade { before: &'a IncidentRow, reason: &'a str },
}

/// Opens (and, for a re-grade across the safety line, closes) the follow-up the grade calls for,
/// in the caller's transaction.
pub(crate) fn route(
    conn: &mut DbConnection,
    ctx: Context<'_>,
    incident: &IncidentRow,
    failed_items: &[String],
    grading: Grading<'_>,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    if incident.in_triage() {
        return Ok(());
    }
    let is_safety = |row: &IncidentRow| row.severity == Severity::SafetyCritical;
    match grading {
        Grading::First { .. } if is_safety(incident) => {
            safety::open_safety_follow_up(conn, ctx, incident, failed_items, Opening::First, actor, now)
        }
        Grading::First { repeated_items } => {
            recovery::open(conn, ctx, incident, Opening::First, actor, now)?;
            safety::retrain_on_repeat(conn, ctx, incident, repeated_items, actor, now)
        }
        Grading::Regrade { before, reason } => match (is_safety(before), is_safety(incident)) {
            (false, true) => {
                recovery::cancel(conn, incident, reason, actor, now)?;
                safety::open_safety_follow_up(conn, ctx, incident, failed_items, Opening::Again, actor, now)
            }
            (true, false) => {
                safety::close_safety_follow_up(conn, incident, reason, actor, now)?;
                recovery::open(conn, ctx, incident, Opening::Again, actor, now)
            }
            _ => Ok(()),
        },
    }
}
