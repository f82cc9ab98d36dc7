//! The rows behind the recovery metrics.

use chrono::NaiveDateTime;
use diesel::dsl::count_star;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::{failure_items, feedback_requests, incidents, recovery_cases, users};
use crate::domain::metrics::RecoveryRecord;

/// Recovery cases of incidents reported since `from`.
pub fn recovery_records(conn: &mut DbConnection, from: NaiveDateTime) -> QueryResult<Vec<RecoveryRecord>> {
    type Row =
        (String, String, String, NaiveDateTime, Option<NaiveDateTime>, String, Option<bool>, Option<i32>, Option<bool>);
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
                    cancelled: status == "cancelled",
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
