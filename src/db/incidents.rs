//! Incidents: the graded, workable side of a failure report (the dispatcher and safety queues).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::{failure_reports, incidents, users};

type Backend = <DbConnection as diesel::Connection>::Backend;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = incidents)]
pub struct IncidentRow {
    pub id: String,
    pub failure_id: String,
    pub job_id: String,
    pub customer_id: String,
    pub technician_id: String,
    pub checklist_key: String,
    pub severity: String,
    pub severity_rank: i32,
    pub original_severity: String,
    /// JSON array of the classifier's reasons.
    pub reasons: String,
    pub rules_version: String,
    pub is_repeat: bool,
    pub status: String,
    pub assignee_id: Option<String>,
    pub reported_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Bumped by every change; the ETag.
    pub revision: i64,
}

pub fn insert(conn: &mut DbConnection, row: &IncidentRow) -> QueryResult<()> {
    diesel::insert_into(incidents::table).values(row).execute(conn).map(drop)
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<IncidentRow>> {
    incidents::table.find(id).select(IncidentRow::as_select()).first(conn).optional()
}

pub fn for_failure(conn: &mut DbConnection, failure_id: &str) -> QueryResult<Option<IncidentRow>> {
    incidents::table
        .filter(incidents::failure_id.eq(failure_id))
        .select(IncidentRow::as_select())
        .first(conn)
        .optional()
}

/// The incident opened by each of these sign-offs, as (sign-off id, incident id).
pub fn for_signoffs(conn: &mut DbConnection, signoff_ids: &[String]) -> QueryResult<Vec<(String, String)>> {
    incidents::table
        .inner_join(failure_reports::table)
        .filter(failure_reports::signoff_id.eq_any(signoff_ids))
        .select((failure_reports::signoff_id.assume_not_null(), incidents::id))
        .load(conn)
}

/// The customer's most recent incident reported in `from..=to`.
pub fn latest_for_customer(
    conn: &mut DbConnection,
    customer_id: &str,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Option<IncidentRow>> {
    incidents::table
        .filter(incidents::customer_id.eq(customer_id))
        .filter(incidents::reported_at.between(from, to))
        .order(incidents::reported_at.desc())
        .select(IncidentRow::as_select())
        .first(conn)
        .optional()
}

/// Queue filters; `None` means any.
#[derive(Debug, Default, Clone)]
pub struct QueueFilter {
    pub severity: Option<String>,
    pub status: Option<String>,
    pub technician_id: Option<String>,
    pub customer_id: Option<String>,
    pub since: Option<NaiveDateTime>,
}

/// Position in the queue order (most urgent, then newest, then id): the page cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuePosition {
    pub severity_rank: i32,
    pub reported_at: NaiveDateTime,
    pub id: String,
}

/// One page of the queue: most urgent first, newest first within a grade.
pub fn queue(
    conn: &mut DbConnection,
    filter: &QueueFilter,
    after: Option<&QueuePosition>,
    limit: i64,
) -> QueryResult<Vec<IncidentRow>> {
    let mut query = incidents::table.select(IncidentRow::as_select()).into_boxed::<Backend>();
    if let Some(severity) = &filter.severity {
        query = query.filter(incidents::severity.eq(severity.clone()));
    }
    if let Some(status) = &filter.status {
        query = query.filter(incidents::status.eq(status.clone()));
    }
    if let Some(technician) = &filter.technician_id {
        query = query.filter(incidents::technician_id.eq(technician.clone()));
    }
    if let Some(customer) = &filter.customer_id {
        query = query.filter(incidents::customer_id.eq(customer.clone()));
    }
    if let Some(since) = filter.since {
        query = query.filter(incidents::reported_at.ge(since));
    }
    if let Some(p) = after {
        query = query.filter(
            incidents::severity_rank.lt(p.severity_rank).or(incidents::severity_rank.eq(p.severity_rank).and(
                incidents::reported_at
                    .lt(p.reported_at)
                    .or(incidents::reported_at.eq(p.reported_at).and(incidents::id.lt(p.id.clone()))),
            )),
        );
    }
    query
        .order((incidents::severity_rank.desc(), incidents::reported_at.desc(), incidents::id.desc()))
        .limit(limit)
        .load(conn)
}

/// What a change sets on an incident.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = incidents)]
pub struct IncidentChange {
    pub severity: Option<String>,
    pub severity_rank: Option<i32>,
    pub status: Option<String>,
    pub assignee_id: Option<String>,
    pub updated_at: Option<NaiveDateTime>,
}

/// Applies `change` if the incident is still at `revision`; returns whether it was.
pub fn update_at_revision(
    conn: &mut DbConnection,
    id: &str,
    revision: i64,
    change: &IncidentChange,
) -> QueryResult<bool> {
    let updated =
        diesel::update(incidents::table.filter(incidents::id.eq(id)).filter(incidents::revision.eq(revision)))
            .set((change, incidents::revision.eq(revision + 1)))
            .execute(conn)?;
    Ok(updated == 1)
}

/// The technician of each of these incidents (incident id → technician's user id), in one query.
pub fn technicians(
    conn: &mut DbConnection,
    incident_ids: &[&str],
) -> QueryResult<std::collections::HashMap<String, String>> {
    let rows: Vec<(String, String)> = incidents::table
        .filter(incidents::id.eq_any(incident_ids))
        .select((incidents::id, incidents::technician_id))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

pub fn username(conn: &mut DbConnection, user_id: &str) -> QueryResult<Option<String>> {
    users::table.find(user_id).select(users::username).first(conn).optional()
}
