//! Make-safe visits, safety audits, retraining assignments and disciplinary cases.

use chrono::NaiveDateTime;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text, Timestamp};

use super::DbConnection;
use super::schema::{disciplinary_cases, incidents, make_safe_visits, retraining_assignments, safety_audits};
use super::types::Json;
use crate::domain::disciplinary::CaseStatus;
use crate::domain::make_safe::{VisitOutcome, VisitStatus};
use crate::domain::retraining::{RetrainingCause, RetrainingStatus};
use crate::domain::safety::{Behaviour, Outcome, RootCause, SystemFactor};
use crate::domain::severity::Severity;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = make_safe_visits, treat_none_as_null = true)]
pub struct MakeSafeVisitRow {
    pub id: String,
    pub incident_id: String,
    pub checklist_key: String,
    pub due_at: NaiveDateTime,
    pub status: VisitStatus,
    pub job_id: Option<String>,
    pub outcome: Option<VisitOutcome>,
    pub signoff_id: Option<String>,
    pub note: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = safety_audits)]
pub struct SafetyAuditRow {
    pub id: String,
    pub incident_id: String,
    pub auditor_id: String,
    pub confirmed_severity: Severity,
    pub root_cause: RootCause,
    pub root_cause_detail: String,
    pub corrective_actions: Json<Vec<String>>,
    pub recorded_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = retraining_assignments, treat_none_as_null = true)]
pub struct RetrainingRow {
    pub id: String,
    pub incident_id: String,
    pub technician_id: String,
    pub checklist_key: String,
    /// The checklist items that failed.
    pub item_ids: Json<Vec<String>>,
    pub cause: RetrainingCause,
    pub due_at: NaiveDateTime,
    pub status: RetrainingStatus,
    pub trained_at: Option<NaiveDateTime>,
    pub trained_by: Option<String>,
    pub note: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = disciplinary_cases, treat_none_as_null = true)]
pub struct DisciplinaryRow {
    pub id: String,
    pub incident_id: String,
    pub technician_id: String,
    pub status: CaseStatus,
    pub behaviour: Option<Behaviour>,
    pub system_factors: Json<Vec<SystemFactor>>,
    pub technician_statement: Option<String>,
    pub outcome: Option<Outcome>,
    pub outcome_reason: Option<String>,
    pub proposed_by: Option<String>,
    pub approved_by: Option<String>,
    pub note: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

// ---- make-safe visits ----

pub fn insert_visit(conn: &mut DbConnection, row: &MakeSafeVisitRow) -> QueryResult<()> {
    diesel::insert_into(make_safe_visits::table).values(row).execute(conn).map(drop)
}

pub fn save_visit(conn: &mut DbConnection, row: &MakeSafeVisitRow) -> QueryResult<()> {
    diesel::update(make_safe_visits::table.find(&row.id)).set(row).execute(conn).map(drop)
}

pub fn visit(conn: &mut DbConnection, id: &str) -> QueryResult<Option<MakeSafeVisitRow>> {
    super::cached::first!(make_safe_visits::table.find(id).select(MakeSafeVisitRow::as_select()), conn)
}

pub fn visit_for_incident(conn: &mut DbConnection, incident_id: &str) -> QueryResult<Option<MakeSafeVisitRow>> {
    super::cached::first!(
        make_safe_visits::table
            .filter(make_safe_visits::incident_id.eq(incident_id))
            .select(MakeSafeVisitRow::as_select()),
        conn
    )
}

pub fn visit_for_job(conn: &mut DbConnection, job_id: &str) -> QueryResult<Option<MakeSafeVisitRow>> {
    super::cached::first!(
        make_safe_visits::table.filter(make_safe_visits::job_id.eq(job_id)).select(MakeSafeVisitRow::as_select()),
        conn
    )
}

/// Visits in `statuses`, soonest due first.
/// Visits in `statuses`, soonest due first after `after` (deadline, id), at most `limit`.
pub fn visits(
    conn: &mut DbConnection,
    statuses: &[VisitStatus],
    after: Option<&(NaiveDateTime, String)>,
    limit: i64,
) -> QueryResult<Vec<MakeSafeVisitRow>> {
    let mut query = make_safe_visits::table
        .filter(make_safe_visits::status.eq_any(statuses.to_vec()))
        .order((make_safe_visits::due_at.asc(), make_safe_visits::id.asc()))
        .select(MakeSafeVisitRow::as_select())
        .into_boxed();
    if let Some((due, id)) = after {
        // why: a row-value comparison, which the (due_at, id) order can use as an index condition.
        query = query.filter(
            sql::<Bool>("(make_safe_visits.due_at, make_safe_visits.id) > (")
                .bind::<Timestamp, _>(*due)
                .sql(", ")
                .bind::<Text, _>(id.clone())
                .sql(")"),
        );
    }
    query.limit(limit).load(conn)
}

// ---- safety audits ----

pub fn insert_audit(conn: &mut DbConnection, row: &SafetyAuditRow) -> QueryResult<()> {
    diesel::insert_into(safety_audits::table).values(row).execute(conn).map(drop)
}

pub fn audit_for_incident(conn: &mut DbConnection, incident_id: &str) -> QueryResult<Option<SafetyAuditRow>> {
    super::cached::first!(
        safety_audits::table.filter(safety_audits::incident_id.eq(incident_id)).select(SafetyAuditRow::as_select()),
        conn,
    )
}

/// Safety-critical incidents no safety officer has audited yet, oldest first.
pub fn unaudited_safety_critical(conn: &mut DbConnection) -> QueryResult<Vec<super::incidents::IncidentRow>> {
    incidents::table
        .left_join(safety_audits::table.on(safety_audits::incident_id.eq(incidents::id)))
        .filter(incidents::severity.eq(Severity::SafetyCritical))
        .filter(incidents::queue_rank.lt(super::incidents::TRIAGE_RANK))
        .filter(safety_audits::id.is_null())
        .order((incidents::reported_at.asc(), incidents::id.asc()))
        .select(super::incidents::IncidentRow::as_select())
        .load(conn)
}

/// A technician's incidents other than `excluding`, newest first.
pub fn technician_incidents(
    conn: &mut DbConnection,
    technician_id: &str,
    excluding: &str,
) -> QueryResult<Vec<super::incidents::IncidentRow>> {
    incidents::table
        .filter(incidents::technician_id.eq(technician_id))
        .filter(incidents::id.ne(excluding))
        .order(incidents::reported_at.desc())
        .select(super::incidents::IncidentRow::as_select())
        .load(conn)
}

// ---- retraining ----

pub fn insert_retraining(conn: &mut DbConnection, row: &RetrainingRow) -> QueryResult<()> {
    diesel::insert_into(retraining_assignments::table).values(row).execute(conn).map(drop)
}

pub fn save_retraining(conn: &mut DbConnection, row: &RetrainingRow) -> QueryResult<()> {
    diesel::update(retraining_assignments::table.find(&row.id)).set(row).execute(conn).map(drop)
}

pub fn retraining(conn: &mut DbConnection, id: &str) -> QueryResult<Option<RetrainingRow>> {
    super::cached::first!(retraining_assignments::table.find(id).select(RetrainingRow::as_select()), conn)
}

pub fn retraining_for_incident(conn: &mut DbConnection, incident_id: &str) -> QueryResult<Option<RetrainingRow>> {
    super::cached::first!(
        retraining_assignments::table
            .filter(retraining_assignments::incident_id.eq(incident_id))
            .select(RetrainingRow::as_select()),
        conn,
    )
}

/// A technician's assignments on one template in any of `statuses`, oldest first.
pub fn retraining_on(
    conn: &mut DbConnection,
    technician_id: &str,
    checklist_key: &str,
    statuses: &[RetrainingStatus],
) -> QueryResult<Vec<RetrainingRow>> {
    // why: every sign-off asks this (the skill gate); an `IN` list is never cached on its own.
    super::cached::load!(
        retraining_assignments::table
            .filter(retraining_assignments::technician_id.eq(technician_id))
            .filter(retraining_assignments::checklist_key.eq(checklist_key))
            .filter(retraining_assignments::status.eq_any(statuses.to_vec()))
            .order(retraining_assignments::created_at.asc())
            .select(RetrainingRow::as_select()),
        conn
    )
}

/// Assignments, optionally of one technician, newest first.
pub fn retraining_list(conn: &mut DbConnection, technician_id: Option<&str>) -> QueryResult<Vec<RetrainingRow>> {
    let mut query = retraining_assignments::table
        .select(RetrainingRow::as_select())
        .into_boxed::<<DbConnection as diesel::Connection>::Backend>();
    if let Some(technician) = technician_id {
        query = query.filter(retraining_assignments::technician_id.eq(technician.to_owned()));
    }
    query.order(retraining_assignments::created_at.desc()).load(conn)
}

// ---- disciplinary cases ----

pub fn insert_case(conn: &mut DbConnection, row: &DisciplinaryRow) -> QueryResult<()> {
    diesel::insert_into(disciplinary_cases::table).values(row).execute(conn).map(drop)
}

pub fn save_case(conn: &mut DbConnection, row: &DisciplinaryRow) -> QueryResult<()> {
    diesel::update(disciplinary_cases::table.find(&row.id)).set(row).execute(conn).map(drop)
}

pub fn case(conn: &mut DbConnection, id: &str) -> QueryResult<Option<DisciplinaryRow>> {
    super::cached::first!(disciplinary_cases::table.find(id).select(DisciplinaryRow::as_select()), conn)
}

pub fn case_for_incident(conn: &mut DbConnection, incident_id: &str) -> QueryResult<Option<DisciplinaryRow>> {
    super::cached::first!(
        disciplinary_cases::table
            .filter(disciplinary_cases::incident_id.eq(incident_id))
            .select(DisciplinaryRow::as_select()),
        conn,
    )
}

/// Cases, optionally of one technician, newest first.
pub fn cases(conn: &mut DbConnection, technician_id: Option<&str>) -> QueryResult<Vec<DisciplinaryRow>> {
    let mut query = disciplinary_cases::table
        .select(DisciplinaryRow::as_select())
        .into_boxed::<<DbConnection as diesel::Connection>::Backend>();
    if let Some(technician) = technician_id {
        query = query.filter(disciplinary_cases::technician_id.eq(technician.to_owned()));
    }
    query.order(disciplinary_cases::created_at.desc()).load(conn)
}

// ---- the audit file ----

/// What an incident's audit file is assembled from: the incident, its evidence and follow-up, and
/// the technician's history.
#[derive(Debug, Clone)]
pub struct AuditFileRows {
    pub incident: super::incidents::IncidentRow,
    pub failure: super::failures::FailureRow,
    pub job: super::jobs::JobRow,
    /// The sign-off as answered: the one that failed, or else the job's latest.
    pub signoff: Option<super::signoffs::SignOffRow>,
    pub make_safe: Option<MakeSafeVisitRow>,
    /// The technician's other incidents, newest first.
    pub earlier_incidents: Vec<super::incidents::IncidentRow>,
    /// The technician's retraining assignments, newest first.
    pub retraining: Vec<RetrainingRow>,
    /// The technician's decided disciplinary cases, newest first.
    pub decided_cases: Vec<DisciplinaryRow>,
    pub audit: Option<SafetyAuditRow>,
    /// The auditor's username (`None` without an audit).
    pub auditor: Option<String>,
}

/// The rows of an incident's audit file; `None` when there is no such incident. Its failure report
/// and job always exist (foreign keys, and nothing deletes them), so a missing one is `NotFound`.
pub fn audit_file(conn: &mut DbConnection, incident_id: &str) -> QueryResult<Option<AuditFileRows>> {
    let Some(incident) = super::incidents::find(conn, incident_id)? else { return Ok(None) };
    let failure = super::failures::find(conn, &incident.failure_id)?.ok_or(diesel::result::Error::NotFound)?;
    let job = super::jobs::find(conn, &incident.job_id)?.ok_or(diesel::result::Error::NotFound)?;
    let signoff = match &failure.signoff_id {
        Some(signoff_id) => super::signoffs::find(conn, signoff_id)?,
        None => super::signoffs::for_job(conn, &job.id)?.pop(),
    };
    let technician = incident.technician_id.as_str();
    let make_safe = visit_for_incident(conn, incident_id)?;
    let earlier_incidents = technician_incidents(conn, technician, incident_id)?;
    let retraining = retraining_list(conn, Some(technician))?;
    let decided_cases = decided_cases(conn, technician)?;
    let audit = audit_for_incident(conn, incident_id)?;
    let auditor = match &audit {
        Some(audit) => super::incidents::username(conn, &audit.auditor_id)?,
        None => None,
    };
    Ok(Some(AuditFileRows {
        incident,
        failure,
        job,
        signoff,
        make_safe,
        earlier_incidents,
        retraining,
        decided_cases,
        audit,
        auditor,
    }))
}

/// A technician's decided disciplinary cases, newest first.
pub fn decided_cases(conn: &mut DbConnection, technician_id: &str) -> QueryResult<Vec<DisciplinaryRow>> {
    disciplinary_cases::table
        .filter(disciplinary_cases::technician_id.eq(technician_id))
        .filter(disciplinary_cases::status.eq(CaseStatus::Decided))
        .order(disciplinary_cases::created_at.desc())
        .select(DisciplinaryRow::as_select())
        .load(conn)
}
