//! Customer recovery cases.

use chrono::NaiveDateTime;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text, Timestamp};

use super::DbConnection;
use super::feedback::FeedbackRow;
use super::schema::{feedback_requests, incidents, recovery_cases};
use crate::domain::recovery_case::{RecoveryState, RecoveryStatus, RemedyStatus};
use crate::domain::safety::RootCause;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = recovery_cases, treat_none_as_null = true)]
pub struct RecoveryCaseRow {
    pub id: String,
    pub incident_id: String,
    pub customer_id: String,
    pub due_at: NaiveDateTime,
    pub status: RecoveryStatus,
    pub fixed_at: Option<NaiveDateTime>,
    pub apologised_at: Option<NaiveDateTime>,
    pub remedy_settled_at: Option<NaiveDateTime>,
    pub recovered_at: Option<NaiveDateTime>,
    /// The apology as sent (the draft, or the dispatcher's edit of it).
    pub apology_text: Option<String>,
    pub remedy_id: Option<String>,
    pub remedy_value_gbp: Option<f64>,
    pub remedy_status: Option<RemedyStatus>,
    pub remedy_proposed_by: Option<String>,
    pub remedy_approved_by: Option<String>,
    /// The recovery-policy version the remedy was offered under.
    pub policy_version: Option<String>,
    /// The expedited fix visit (a job) for a service-impacting failure.
    pub fix_job_id: Option<String>,
    /// The explanation to the customer is due a day after the fix.
    pub explanation_due_at: Option<NaiveDateTime>,
    pub explanation_text: Option<String>,
    pub root_cause: Option<RootCause>,
    pub explained_at: Option<NaiveDateTime>,
    /// Whether a personal surprise was given (`None` until decided).
    pub surprise_given: Option<bool>,
    pub surprise_note: Option<String>,
    pub note: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl RecoveryCaseRow {
    /// What the recovery state machine needs to know of the case.
    pub fn state(&self) -> RecoveryState {
        RecoveryState {
            status: self.status,
            fixed: self.fixed_at.is_some(),
            apologised: self.apologised_at.is_some(),
            remedy: self.remedy_status,
            fix_visit_sent: self.fix_job_id.is_some(),
            surprise_decided: self.surprise_given.is_some(),
            explained: self.explained_at.is_some(),
        }
    }
}

pub fn insert(conn: &mut DbConnection, row: &RecoveryCaseRow) -> QueryResult<()> {
    diesel::insert_into(recovery_cases::table).values(row).execute(conn).map(drop)
}

pub fn save(conn: &mut DbConnection, row: &RecoveryCaseRow) -> QueryResult<()> {
    diesel::update(recovery_cases::table.find(&row.id)).set(row).execute(conn).map(drop)
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<RecoveryCaseRow>> {
    super::cached::first!(recovery_cases::table.find(id).select(RecoveryCaseRow::as_select()), conn)
}

pub fn for_incident(conn: &mut DbConnection, incident_id: &str) -> QueryResult<Option<RecoveryCaseRow>> {
    super::cached::first!(
        recovery_cases::table.filter(recovery_cases::incident_id.eq(incident_id)).select(RecoveryCaseRow::as_select()),
        conn
    )
}

/// A case as the dispatcher's list shows it: with its incident's grade and report time and the
/// customer's feedback.
#[derive(Debug, Clone)]
pub struct CaseView {
    pub case: RecoveryCaseRow,
    pub severity: String,
    pub reported_at: NaiveDateTime,
    pub feedback: Option<FeedbackRow>,
}

/// Cases in `statuses` (or the one case `only`), soonest due first after `after` (deadline, id), at
/// most `limit`, with what the list shows beside them.
pub fn views(
    conn: &mut DbConnection,
    statuses: &[RecoveryStatus],
    only: Option<&str>,
    after: Option<&(NaiveDateTime, String)>,
    limit: i64,
) -> QueryResult<Vec<CaseView>> {
    let mut query = recovery_cases::table
        .inner_join(incidents::table.on(incidents::id.eq(recovery_cases::incident_id)))
        .left_join(feedback_requests::table.on(feedback_requests::recovery_case_id.eq(recovery_cases::id)))
        .select((
            RecoveryCaseRow::as_select(),
            incidents::severity,
            incidents::reported_at,
            Option::<FeedbackRow>::as_select(),
        ))
        .order((recovery_cases::due_at.asc(), recovery_cases::id.asc()))
        .into_boxed();
    if !statuses.is_empty() {
        query = query.filter(recovery_cases::status.eq_any(statuses.to_vec()));
    }
    if let Some(id) = only {
        query = query.filter(recovery_cases::id.eq(id.to_owned()));
    }
    if let Some((due, id)) = after {
        // why: a row-value comparison, which the (due_at, id) order can use as an index condition.
        query = query.filter(
            sql::<Bool>("(recovery_cases.due_at, recovery_cases.id) > (")
                .bind::<Timestamp, _>(*due)
                .sql(", ")
                .bind::<Text, _>(id.clone())
                .sql(")"),
        );
    }
    let rows: Vec<(RecoveryCaseRow, String, NaiveDateTime, Option<FeedbackRow>)> = query.limit(limit).load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(case, severity, reported_at, feedback)| CaseView { case, severity, reported_at, feedback })
        .collect())
}

pub fn for_fix_job(conn: &mut DbConnection, job_id: &str) -> QueryResult<Option<RecoveryCaseRow>> {
    super::cached::first!(
        recovery_cases::table.filter(recovery_cases::fix_job_id.eq(job_id)).select(RecoveryCaseRow::as_select()),
        conn
    )
}
