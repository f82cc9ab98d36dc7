//! Incidents: the graded, workable side of a failure report (the dispatcher and safety queues).

use chrono::NaiveDateTime;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Integer, Text, Timestamp};

use super::DbConnection;
use super::schema::{failure_reports, incidents, users};
use super::types::Json;
use crate::domain::severity::{Reason, Severity};
use crate::domain::states::IncidentStatus;

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
    pub severity: Severity,
    pub severity_rank: i32,
    pub original_severity: Severity,
    /// The classifier's reasons.
    pub reasons: Json<Vec<Reason>>,
    pub rules_version: String,
    pub is_repeat: bool,
    pub status: IncidentStatus,
    pub assignee_id: Option<String>,
    pub reported_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Bumped by every change; the ETag.
    pub revision: i64,
    /// Where it sorts in the queue: 3 while it waits in triage, else the severity rank.
    pub queue_rank: i32,
    /// Set when the rules could not grade the report: a person must grade it by then.
    pub triage_due_at: Option<NaiveDateTime>,
    /// When a person graded it out of triage.
    pub triaged_at: Option<NaiveDateTime>,
}

/// `queue_rank` of an incident waiting in triage: above every grade.
pub const TRIAGE_RANK: i32 = 3;

impl IncidentRow {
    /// Waiting for a person to grade it.
    pub fn in_triage(&self) -> bool {
        self.triage_due_at.is_some() && self.triaged_at.is_none()
    }

    /// The grade the rules gave: `triage` when they could not grade the report.
    pub fn machine_grade(&self) -> &str {
        if self.triage_due_at.is_some() { "triage" } else { self.original_severity.as_str() }
    }
}

pub fn insert(conn: &mut DbConnection, row: &IncidentRow) -> QueryResult<()> {
    super::cached::execute!(diesel::insert_into(incidents::table).values(row).returning(incidents::id), conn,).map(drop)
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<IncidentRow>> {
    super::cached::first!(incidents::table.find(id).select(IncidentRow::as_select()), conn)
}

pub fn for_failure(conn: &mut DbConnection, failure_id: &str) -> QueryResult<Option<IncidentRow>> {
    super::cached::first!(
        incidents::table.filter(incidents::failure_id.eq(failure_id)).select(IncidentRow::as_select()),
        conn,
    )
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
    super::cached::first!(
        incidents::table
            .filter(incidents::customer_id.eq(customer_id))
            .filter(incidents::reported_at.between(from, to))
            .order(incidents::reported_at.desc())
            .select(IncidentRow::as_select()),
        conn,
    )
}

/// Queue filters; `None` means any.
#[derive(Debug, Default, Clone)]
pub struct QueueFilter {
    pub severity: Option<Severity>,
    pub status: Option<QueueStatus>,
    pub technician_id: Option<String>,
    pub customer_id: Option<String>,
    pub since: Option<NaiveDateTime>,
}

/// Where an incident is in the dispatcher's work, as the queue filters it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueStatus {
    /// Waiting for a person to grade it (not a stored status).
    Triage,
    /// Graded, with this status.
    Graded(IncidentStatus),
}

impl QueueStatus {
    /// `triage`, or a stored incident status.
    pub fn parse(text: &str) -> Option<Self> {
        if text == "triage" { Some(Self::Triage) } else { IncidentStatus::parse(text).map(Self::Graded) }
    }
}

/// Position in the queue order (most urgent, then newest, then id): the page cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuePosition {
    pub queue_rank: i32,
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
    if let Some(severity) = filter.severity {
        query = query.filter(incidents::severity.eq(severity));
    }
    match filter.status {
        Some(QueueStatus::Triage) => query = query.filter(incidents::queue_rank.eq(TRIAGE_RANK)),
        Some(QueueStatus::Graded(status)) => {
            query = query.filter(incidents::status.eq(status)).filter(incidents::queue_rank.lt(TRIAGE_RANK));
        }
        None => {}
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
        // why: a row-value comparison is an index condition on incidents_queue; the same written
        // as nested ORs is a filter that reads every row before a deep page.
        query = query.filter(
            sql::<Bool>("(incidents.queue_rank, incidents.reported_at, incidents.id) < (")
                .bind::<Integer, _>(p.queue_rank)
                .sql(", ")
                .bind::<Timestamp, _>(p.reported_at)
                .sql(", ")
                .bind::<Text, _>(p.id.clone())
                .sql(")"),
        );
    }
    query
        .order((incidents::queue_rank.desc(), incidents::reported_at.desc(), incidents::id.desc()))
        .limit(limit)
        .load(conn)
}

/// What a change sets on an incident.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = incidents)]
pub struct IncidentChange {
    pub severity: Option<Severity>,
    pub severity_rank: Option<i32>,
    pub queue_rank: Option<i32>,
    pub status: Option<IncidentStatus>,
    pub assignee_id: Option<String>,
    pub updated_at: Option<NaiveDateTime>,
    pub triaged_at: Option<NaiveDateTime>,
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
    super::cached::first!(users::table.find(user_id).select(users::username), conn)
}

/// The reports graded by `rules_version` since `since`, with their incidents (for `rules diff`).
pub fn graded_by(
    conn: &mut DbConnection,
    rules_version: &str,
    since: NaiveDateTime,
) -> QueryResult<Vec<(IncidentRow, super::failures::FailureRow)>> {
    incidents::table
        .inner_join(failure_reports::table)
        .filter(incidents::rules_version.eq(rules_version))
        .filter(incidents::reported_at.ge(since))
        .order(incidents::reported_at.asc())
        .select((IncidentRow::as_select(), super::failures::FailureRow::as_select()))
        .load(conn)
}

/// A report whose grade a person changed or set in triage, with the latest such decision.
#[derive(Debug, Clone)]
pub struct HumanGrade {
    pub incident: IncidentRow,
    pub description: String,
    /// The audit entry of the person's latest grade (`incident.regraded` or `incident.triaged`).
    pub decision: Option<super::audit::AuditEntryRow>,
}

/// Every report graded by a person (re-graded, or graded out of triage), oldest first, with the
/// person's latest decision: two queries.
pub fn human_graded(conn: &mut DbConnection) -> QueryResult<Vec<HumanGrade>> {
    use super::schema::audit_log;
    let rows: Vec<(IncidentRow, String)> = incidents::table
        .inner_join(failure_reports::table)
        .filter(incidents::severity.ne(incidents::original_severity).or(incidents::triaged_at.is_not_null()))
        .order((incidents::reported_at.asc(), incidents::id.asc()))
        .select((IncidentRow::as_select(), failure_reports::description))
        .load(conn)?;
    let ids: Vec<&str> = rows.iter().map(|(i, _)| i.id.as_str()).collect();
    let decisions: Vec<super::audit::AuditEntryRow> = audit_log::table
        .filter(audit_log::entity_type.eq("incident"))
        .filter(audit_log::entity_id.eq_any(&ids))
        .filter(audit_log::action.eq_any(["incident.regraded", "incident.triaged"]))
        .order((audit_log::at.asc(), audit_log::id.asc()))
        .select(super::audit::AuditEntryRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(incident, description)| {
            let decision = decisions.iter().rev().find(|d| d.entity_id == incident.id).cloned();
            HumanGrade { incident, description, decision }
        })
        .collect())
}

/// What an incident's grade opened: its make-safe visit, recovery case, retraining and
/// disciplinary case, each once it exists.
pub struct FollowUp {
    pub visit: Option<super::safety::MakeSafeVisitRow>,
    pub recovery: Option<super::recovery::RecoveryCaseRow>,
    pub retraining: Option<super::safety::RetrainingRow>,
    pub case: Option<super::safety::DisciplinaryRow>,
}

pub fn follow_up(conn: &mut DbConnection, incident_id: &str) -> QueryResult<FollowUp> {
    Ok(FollowUp {
        visit: super::safety::visit_for_incident(conn, incident_id)?,
        recovery: super::recovery::for_incident(conn, incident_id)?,
        retraining: super::safety::retraining_for_incident(conn, incident_id)?,
        case: super::safety::case_for_incident(conn, incident_id)?,
    })
}
