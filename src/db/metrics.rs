//! The rows behind the recovery metrics.

use chrono::NaiveDateTime;
use diesel::dsl::count_star;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::{failure_items, feedback_requests, incidents, recovery_cases, users};
use crate::domain::make_safe::VisitStatus;
use crate::domain::metrics::RecoveryRecord;
use crate::domain::recovery_case::RecoveryStatus;
use crate::domain::states::MessageStatus;

/// Recovery cases of incidents reported since `from`.
pub fn recovery_records(conn: &mut DbConnection, from: NaiveDateTime) -> QueryResult<Vec<RecoveryRecord>> {
    type Row = (
        String,
        String,
        String,
        NaiveDateTime,
        Option<NaiveDateTime>,
        RecoveryStatus,
        Option<bool>,
        Option<i32>,
        Option<bool>,
    );
    let rows: Vec<Row> = recovery_cases::table
        .inner_join(incidents::table.on(incidents::id.eq(recovery_cases::incident_id)))
        .inner_join(users::table.on(users::id.eq(incidents::technician_id)))
        .left_join(feedback_requests::table.on(feedback_requests::recovery_case_id.eq(recovery_cases::id)))
        .filter(incidents::reported_at.ge(from))
        .select((
            incidents::severity,
            users::username,
            incidents::checklist_key,
            incidents::reported_at,
            recovery_cases::recovered_at,
            recovery_cases::status,
            recovery_cases::surprise_given,
            feedback_requests::satisfaction.nullable(),
            feedback_requests::surprised.nullable(),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(
                severity,
                technician,
                checklist_key,
                reported_at,
                recovered_at,
                status,
                surprise_given,
                score,
                surprised,
            )| {
                RecoveryRecord {
                    severity,
                    technician,
                    checklist_key,
                    reported_at,
                    recovered_at,
                    cancelled: status == RecoveryStatus::Cancelled,
                    surprise_given,
                    feedback: score.zip(surprised),
                }
            },
        )
        .collect())
}

/// (incidents, repeats) reported since `from`.
pub fn repeat_counts(conn: &mut DbConnection, from: NaiveDateTime) -> QueryResult<(i64, i64)> {
    let all = incidents::table.filter(incidents::reported_at.ge(from)).count().get_result(conn)?;
    let repeats = incidents::table
        .filter(incidents::reported_at.ge(from))
        .filter(incidents::is_repeat.eq(true))
        .count()
        .get_result(conn)?;
    Ok((all, repeats))
}

/// The checklist items named in most failures since `from`: (checklist, item, failures).
pub fn failing_items(
    conn: &mut DbConnection,
    from: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<(String, String, i64)>> {
    failure_items::table
        .filter(failure_items::reported_at.ge(from))
        .group_by((failure_items::checklist_key, failure_items::item_id))
        .select((failure_items::checklist_key, failure_items::item_id, count_star()))
        .order((count_star().desc(), failure_items::checklist_key.asc(), failure_items::item_id.asc()))
        .limit(limit)
        .load(conn)
}

/// The figures `/metrics` reads at each scrape; each is one indexed count or a small aggregate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Operations {
    /// Incidents not yet resolved, per grade (`nuisance`, `service_impacting`, `safety_critical`),
    /// leaving out those waiting in triage.
    pub open_by_grade: Vec<(String, i64)>,
    /// Incidents the rules could not grade, waiting for a person.
    pub in_triage: i64,
    /// Make-safe visits not done whose deadline has passed.
    pub make_safe_overdue: i64,
    /// Recovery cases still open whose deadline has passed.
    pub recovery_overdue: i64,
    /// Customer messages not yet delivered nor given up.
    pub outbox_pending: i64,
    /// When the oldest of them was written.
    pub outbox_oldest_pending: Option<NaiveDateTime>,
}

/// Reads [`Operations`] as of `now`.
pub fn operations(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<Operations> {
    use super::incidents::TRIAGE_RANK;
    use super::schema::{make_safe_visits, outbox_messages};
    let unresolved = incidents::status.ne("resolved");
    let open_by_grade = incidents::table
        .filter(unresolved)
        .filter(incidents::queue_rank.lt(TRIAGE_RANK))
        .group_by(incidents::severity)
        .select((incidents::severity, count_star()))
        .order(incidents::severity.asc())
        .load(conn)?;
    let in_triage = incidents::table
        .filter(incidents::status.ne("resolved"))
        .filter(incidents::queue_rank.eq(TRIAGE_RANK))
        .count()
        .get_result(conn)?;
    let make_safe_overdue = make_safe_visits::table
        .filter(make_safe_visits::status.eq_any([VisitStatus::Open, VisitStatus::Assigned]))
        .filter(make_safe_visits::due_at.lt(now))
        .count()
        .get_result(conn)?;
    let recovery_overdue = recovery_cases::table
        .filter(recovery_cases::status.eq(RecoveryStatus::Open))
        .filter(recovery_cases::due_at.lt(now))
        .count()
        .get_result(conn)?;
    let pending = outbox_messages::table.filter(outbox_messages::status.eq(MessageStatus::Pending));
    let (outbox_pending, outbox_oldest_pending) =
        pending.select((count_star(), diesel::dsl::min(outbox_messages::created_at))).get_result(conn)?;
    Ok(Operations {
        open_by_grade,
        in_triage,
        make_safe_overdue,
        recovery_overdue,
        outbox_pending,
        outbox_oldest_pending,
    })
}
