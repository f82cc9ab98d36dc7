//! Customer recovery for ordinary failures: a case per incident with a 24-hour clock from the
//! report; recovered once it is fixed, apologised for and the remedy settled.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{Actor, audit};
use crate::db::incidents::IncidentRow;
use crate::db::recovery::RecoveryCaseRow;
use crate::db::{self, DbConnection, write_transaction};
use crate::domain::recovery;
use crate::error::ApiError;

/// Opens the recovery case of an ordinary incident (or reopens it after a re-grade back down),
/// in the caller's transaction. Its deadline runs from when the failure was reported.
pub(crate) fn open(
    conn: &mut DbConnection,
    incident: &IncidentRow,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    match db::recovery::for_incident(conn, &incident.id)? {
        Some(mut case) if case.status == "cancelled" => {
            (case.status, case.updated_at) = ("open".to_owned(), now.naive_utc());
            db::recovery::save(conn, &case)?;
            audit(
                conn,
                actor,
                "recovery.reopened",
                ("recovery_case", &case.id),
                json!({ "incident_id": incident.id }),
                now,
            )
        }
        Some(_) => Ok(()),
        None => {
            let case = RecoveryCaseRow {
                id: uuid::Uuid::now_v7().to_string(),
                incident_id: incident.id.clone(),
                customer_id: incident.customer_id.clone(),
                due_at: incident.reported_at + recovery::TARGET,
                status: "open".to_owned(),
                fixed_at: None,
                apologised_at: None,
                remedy_settled_at: None,
                recovered_at: None,
                note: None,
                created_at: now.naive_utc(),
                updated_at: now.naive_utc(),
            };
            db::recovery::insert(conn, &case)?;
            let details = json!({ "incident_id": incident.id, "due_at": case.due_at.and_utc() });
            audit(conn, actor, "recovery.opened", ("recovery_case", &case.id), details, now)
        }
    }
}

/// Cancels an open recovery case when its incident is re-graded safety-critical.
pub(crate) fn cancel(
    conn: &mut DbConnection,
    incident: &IncidentRow,
    reason: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    if let Some(mut case) = db::recovery::for_incident(conn, &incident.id)?
        && case.status == "open"
    {
        case.status = "cancelled".to_owned();
        case.note = Some(format!("cancelled: re-graded safety_critical: {reason}"));
        case.updated_at = now.naive_utc();
        db::recovery::save(conn, &case)?;
        audit(conn, actor, "recovery.cancelled", ("recovery_case", &case.id), json!({ "reason": reason }), now)?;
    }
    Ok(())
}

/// A step towards recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Fixed,
    Apologised,
    RemedySettled,
}

/// Records a step (once); the case is recovered when all three are done.
pub fn record_step(
    conn: &mut DbConnection,
    id: &str,
    step: Step,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<RecoveryCaseRow, ApiError> {
    write_transaction(conn, |conn| {
        let mut case =
            db::recovery::find(conn, id)?.ok_or_else(|| ApiError::NotFound(format!("no recovery case {id}")))?;
        if case.status != "open" {
            return Err(ApiError::Conflict(format!("the recovery case is {}", case.status)));
        }
        let slot = match step {
            Step::Fixed => &mut case.fixed_at,
            Step::Apologised => &mut case.apologised_at,
            Step::RemedySettled => &mut case.remedy_settled_at,
        };
        if slot.is_some() {
            return Err(ApiError::Conflict(format!("{step:?} is already recorded")));
        }
        *slot = Some(now.naive_utc());
        let step_name = super::safety::enum_str(&step)?;
        audit(conn, actor, "recovery.step", ("recovery_case", id), json!({ "step": step_name }), now)?;
        if case.fixed_at.is_some() && case.apologised_at.is_some() && case.remedy_settled_at.is_some() {
            case.status = "recovered".to_owned();
            case.recovered_at = Some(now.naive_utc());
            let reported = case.due_at - recovery::TARGET;
            let details = json!({ "within_target": recovery::within_target(reported, now.naive_utc()) });
            audit(conn, actor, "recovery.recovered", ("recovery_case", id), details, now)?;
        }
        case.updated_at = now.naive_utc();
        db::recovery::save(conn, &case)?;
        Ok(case)
    })
}
