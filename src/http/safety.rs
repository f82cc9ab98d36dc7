//! Safety-critical follow-up over HTTP: make-safe visits, the safety audit queue and audit file,
//! retraining assignments and disciplinary cases.

use crate::domain::disciplinary::CaseStatus;
use crate::domain::make_safe::VisitStatus;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use validator::Validate;

use super::extract::{Query, ValidJson, status_filter};
use super::incidents::{IncidentResponse, expected, response as incident_response, responses as incident_responses};
use super::openapi as doc;
use super::page::{DuePage, Items, Page};
use crate::AppState;
use crate::auth::{AuthUser, IncidentHandlers, JobIssuers, Require, Role, SafetyOfficers, SafetyReaders, Technicians};
use crate::db::safety::{DisciplinaryRow, MakeSafeVisitRow, RetrainingRow};
use crate::db::{self, DbConnection};
use crate::domain::safety::{Behaviour, Outcome, RootCause, SystemFactor};
use crate::domain::severity::Severity;
use crate::error::ApiError;
use crate::workflows::safety::{AuditRecord, CaseStep};
use crate::workflows::{self, Actor};

fn username(conn: &mut DbConnection, id: Option<&str>) -> Result<Option<String>, ApiError> {
    Ok(match id {
        Some(id) => db::incidents::username(conn, id)?,
        None => None,
    })
}

/// Usernames of the users a page of rows mentions, looked up in one query.
struct Names(std::collections::HashMap<String, String>);

impl Names {
    fn load<'a>(conn: &mut DbConnection, ids: impl IntoIterator<Item = Option<&'a str>>) -> Result<Self, ApiError> {
        let mut ids: Vec<&str> = ids.into_iter().flatten().collect();
        ids.sort_unstable();
        ids.dedup();
        Ok(Self(db::users::usernames(conn, &ids)?))
    }

    fn of(&self, id: Option<&str>) -> Option<String> {
        id.and_then(|id| self.0.get(id).cloned())
    }
}

/// The one item of a single-row page.
fn only<T>(mut items: Vec<T>) -> Result<T, ApiError> {
    items.pop().ok_or_else(|| ApiError::Internal(anyhow::anyhow!("a row vanished while it was read")))
}

// ---- make-safe visits ----

#[derive(Serialize, utoipa::ToSchema)]
pub struct VisitResponse {
    id: String,
    incident_id: String,
    checklist_key: String,
    due_at: DateTime<Utc>,
    /// Seconds until the deadline; negative when overdue.
    time_left_seconds: i64,
    overdue: bool,
    status: String,
    technician_involved: Option<String>,
    job_id: Option<String>,
    outcome: Option<String>,
    signoff_id: Option<String>,
    note: Option<String>,
}

/// Visits with the technician involved in each incident (two queries for the page).
fn visit_responses(
    conn: &mut DbConnection,
    rows: Vec<MakeSafeVisitRow>,
    now: DateTime<Utc>,
) -> Result<Vec<VisitResponse>, ApiError> {
    let incident_ids: Vec<&str> = rows.iter().map(|r| r.incident_id.as_str()).collect();
    let technicians = db::incidents::technicians(conn, &incident_ids)?;
    let names = Names::load(conn, technicians.values().map(|t| Some(t.as_str())))?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let involved = names.of(technicians.get(&row.incident_id).map(String::as_str));
            visit_response(row, involved, now)
        })
        .collect())
}

fn visit_response(row: MakeSafeVisitRow, involved: Option<String>, now: DateTime<Utc>) -> VisitResponse {
    let time_left = (row.due_at.and_utc() - now).num_seconds();
    let open = row.status == VisitStatus::Open || row.status == VisitStatus::Assigned;
    VisitResponse {
        id: row.id,
        incident_id: row.incident_id,
        checklist_key: row.checklist_key,
        due_at: row.due_at.and_utc(),
        time_left_seconds: time_left,
        overdue: open && time_left < 0,
        status: row.status.to_string(),
        technician_involved: involved,
        job_id: row.job_id,
        outcome: row.outcome.map(|o| o.to_string()),
        signoff_id: row.signoff_id,
        note: row.note,
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VisitQuery {
    /// Comma-separated statuses; default `open,assigned`.
    #[param(pattern = "^(open|assigned|done|cancelled)(,(open|assigned|done|cancelled))*$")]
    status: Option<String>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^[0-9]{1,16}_[0-9A-Fa-f-]{36}$")]
    cursor: Option<String>,
    /// Page size, 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

/// Make-safe visits, soonest due first: the top of the dispatcher's day.
#[utoipa::path(get, path = "/v1/make-safe-visits", tag = "safety", params(VisitQuery),
    responses(
        (status = 200, description = "Make-safe visits, soonest due first", body = Page<VisitResponse>),
        (status = 403, response = doc::Forbidden),
    ))]
pub async fn visits(
    state: web::Data<AppState>,
    _user: Require<IncidentHandlers>,
    query: Query<VisitQuery>,
) -> Result<HttpResponse, ApiError> {
    let VisitQuery { status, cursor, limit } = query.0;
    let statuses = status_filter(status, &[VisitStatus::Open, VisitStatus::Assigned])?;
    let page = DuePage::parse(cursor.as_deref(), limit)?;
    let app = state.clone();
    let (items, next_cursor) = state
        .db
        .run(move |conn| -> Result<_, ApiError> {
            let now = app.clock.now();
            let rows = db::safety::visits(conn, &statuses, page.after.as_ref(), page.limit)?;
            let next = page.next(rows.len(), rows.last().map(|v| (v.due_at, v.id.as_str())));
            Ok((visit_responses(conn, rows, now)?, next))
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page { items, next_cursor }))
}

#[derive(Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignVisitRequest {
    #[validate(length(min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64)]
    technician: String,
    /// Required to send the technician who was involved in the incident.
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    override_reason: Option<String>,
}

/// Sends a technician on a make-safe visit (a job at the same site).
#[utoipa::path(post, path = "/v1/make-safe-visits/{id}/assign", tag = "safety", request_body = AssignVisitRequest,
    params(("id" = Uuid, Path, description = "The make-safe visit")),
    responses(
        (status = 200, description = "The visit, with the job created for it", body = VisitResponse),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
    ))]
pub async fn assign_visit(
    state: web::Data<AppState>,
    user: Require<JobIssuers>,
    id: web::Path<uuid::Uuid>,
    body: ValidJson<AssignVisitRequest>,
) -> Result<HttpResponse, ApiError> {
    let AssignVisitRequest { technician, override_reason } = body.0;
    let (id, actor, app) = (id.into_inner().to_string(), Actor::from(&*user), state.clone());
    let visit = state
        .db
        .run(move |conn| {
            let now = app.clock.now();
            let row =
                workflows::safety::assign_make_safe(conn, &id, &technician, override_reason.as_deref(), &actor, now)?;
            only(visit_responses(conn, vec![row], now)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(visit))
}

// ---- safety audits ----

/// Safety-critical incidents not yet audited, oldest first.
#[utoipa::path(get, path = "/v1/safety/audit-queue", tag = "safety",
    responses(
        (status = 200, description = "Safety-critical incidents not yet audited, oldest first",
            body = Items<IncidentResponse>),
        (status = 403, response = doc::Forbidden),
    ))]
pub async fn audit_queue(state: web::Data<AppState>, _user: Require<SafetyReaders>) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let items = state
        .db
        .run(move |conn| {
            let rows = db::safety::unaudited_safety_critical(conn)?;
            incident_responses(conn, rows, now)
        })
        .await?;
    Ok(HttpResponse::Ok().json(Items { items }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct AuditFile {
    incident: IncidentResponse,
    failure: serde_json::Value,
    /// The sign-off as answered (the one that failed, or the job's latest).
    signoff: Option<serde_json::Value>,
    /// The checklist version the job was pinned to, as served to the app.
    checklist: serde_json::Value,
    make_safe: Option<VisitResponse>,
    technician_history: TechnicianHistory,
    audit: Option<serde_json::Value>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct TechnicianHistory {
    earlier_incidents: Vec<serde_json::Value>,
    retraining: Vec<RetrainingResponse>,
    disciplinary_outcomes: Vec<serde_json::Value>,
}

/// Everything a safety officer needs to judge an incident, in one response.
#[utoipa::path(get, path = "/v1/incidents/{id}/audit-file", tag = "safety",
    params(("id" = Uuid, Path, description = "The incident")),
    responses(
        (status = 200, description = "Everything needed to judge the incident", body = AuditFile),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
    ))]
pub async fn audit_file(
    state: web::Data<AppState>,
    _user: Require<SafetyReaders>,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (id, app) = (id.into_inner().to_string(), state.clone());
    let file = state
        .db
        .run(move |conn| -> Result<_, ApiError> {
            let now = app.clock.now();
            let incident = db::incidents::find(conn, &id)?.ok_or_else(|| ApiError::NotFound(format!("no incident {id}")))?;
            let failure = db::failures::find(conn, &incident.failure_id)?.ok_or_else(|| ApiError::NotFound("no failure".to_owned()))?;
            let job = db::jobs::find(conn, &incident.job_id)?.ok_or_else(|| ApiError::NotFound("no job".to_owned()))?;
            let signoff_row = match &failure.signoff_id {
                Some(signoff_id) => db::signoffs::find(conn, signoff_id)?,
                None => db::signoffs::for_job(conn, &job.id)?.pop(),
            };
            let signoff = signoff_row
                .map(|row| -> Result<serde_json::Value, ApiError> {
                    Ok(serde_json::json!({
                        "id": row.id, "signed_at": row.signed_at.and_utc(), "received_at": row.received_at.and_utc(),
                        "signer_name": row.signer_name, "meaning": row.meaning, "content_hash": row.content_hash,
                        "answers": *row.answers,
                        "failed_items": *row.failed_items,
                    }))
                })
                .transpose()?;
            let version = u32::try_from(job.checklist_version).map_err(anyhow::Error::from)?;
            let pinned = app.catalogue.version(conn, &job.checklist_key, version)?.ok_or_else(|| ApiError::NotFound("no checklist".to_owned()))?;
            let checklist: serde_json::Value = serde_json::from_slice(&pinned.body).map_err(anyhow::Error::from)?;
            let make_safe = db::safety::visit_for_incident(conn, &id)?.map(|v| visit_responses(conn, vec![v], now).and_then(only)).transpose()?;
            let earlier_incidents = db::safety::technician_incidents(conn, &incident.technician_id, &id)?
                .into_iter()
                .map(|i| serde_json::json!({ "id": i.id, "severity": i.severity, "checklist_key": i.checklist_key, "reported_at": i.reported_at.and_utc(), "repeat": i.is_repeat }))
                .collect();
            let retraining = db::safety::retraining_list(conn, Some(&incident.technician_id))?;
            let retraining = retraining_responses(conn, retraining)?;
            let disciplinary_outcomes = db::safety::cases(conn, Some(&incident.technician_id))?
                .into_iter()
                .filter(|c| c.status == CaseStatus::Decided)
                .map(|c| serde_json::json!({ "case_id": c.id, "incident_id": c.incident_id, "outcome": c.outcome, "behaviour": c.behaviour }))
                .collect();
            let audit = db::safety::audit_for_incident(conn, &id)?
                .map(|a| -> Result<serde_json::Value, ApiError> {
                    Ok(serde_json::json!({
                        "auditor": username(conn, Some(&a.auditor_id))?, "confirmed_severity": a.confirmed_severity,
                        "root_cause": a.root_cause, "root_cause_detail": a.root_cause_detail,
                        "corrective_actions": *a.corrective_actions, "recorded_at": a.recorded_at.and_utc(),
                    }))
                })
                .transpose()?;
            let failure = serde_json::json!({
                "id": failure.id, "source": failure.source, "description": failure.description,
                "item_ids": *failure.item_ids, "hazards": *failure.hazards,
                "injury": failure.injury, "vulnerable_occupant": failure.vulnerable_occupant,
                "service_lost": failure.service_lost.as_deref(),
                "reported_at": failure.reported_at.and_utc(),
            });
            Ok(AuditFile {
                incident: incident_response(conn, incident, now)?,
                failure,
                signoff,
                checklist,
                make_safe,
                technician_history: TechnicianHistory { earlier_incidents, retraining, disciplinary_outcomes },
                audit,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(file))
}

/// A recorded safety audit (fields in the order they have always been sent).
#[derive(Serialize, utoipa::ToSchema)]
struct AuditRecorded {
    confirmed_severity: String,
    id: String,
    incident_id: String,
    recorded_at: DateTime<Utc>,
    root_cause: String,
}

#[derive(Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditRequest {
    confirmed_severity: Severity,
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    regrade_reason: Option<String>,
    root_cause: RootCause,
    #[validate(length(min = 1, max = 5000))]
    #[schema(min_length = 1, max_length = 5000)]
    root_cause_detail: String,
    #[serde(default)]
    #[validate(length(max = 20))]
    #[schema(max_items = 20)]
    corrective_actions: Vec<String>,
}

/// Records the safety audit of an incident, once (`If-Match`).
#[utoipa::path(post, path = "/v1/incidents/{id}/audit", tag = "safety", request_body = AuditRequest,
    params(("id" = Uuid, Path, description = "The incident"), doc::IfMatch),
    responses(
        (status = 201, description = "The audit, recorded once per incident", body = AuditRecorded),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
        (status = 412, response = doc::PreconditionFailed),
        (status = 428, response = doc::PreconditionRequired),
    ))]
pub async fn record_audit(
    state: web::Data<AppState>,
    user: Require<SafetyOfficers>,
    req: HttpRequest,
    id: web::Path<uuid::Uuid>,
    body: ValidJson<AuditRequest>,
) -> Result<HttpResponse, ApiError> {
    let expected = expected(&req)?;
    let b = body.0;
    if b.corrective_actions.iter().any(|a| a.trim().is_empty() || a.len() > 1000) {
        return Err(ApiError::field("corrective_actions", "each action is 1 to 1000 characters"));
    }
    let record = AuditRecord {
        confirmed_severity: b.confirmed_severity,
        regrade_reason: b.regrade_reason,
        root_cause: b.root_cause,
        root_cause_detail: b.root_cause_detail,
        corrective_actions: b.corrective_actions,
    };
    let (id, actor, app) = (id.into_inner().to_string(), Actor::from(&*user), state.clone());
    let row = state
        .db
        .run(move |conn| {
            workflows::safety::record_audit(conn, app.context(), &id, record, &expected, &actor, app.clock.now())
        })
        .await?;
    Ok(HttpResponse::Created().json(AuditRecorded {
        confirmed_severity: row.confirmed_severity.to_string(),
        id: row.id,
        incident_id: row.incident_id,
        recorded_at: row.recorded_at.and_utc(),
        root_cause: row.root_cause.to_string(),
    }))
}

// ---- retraining ----

#[derive(Serialize, utoipa::ToSchema)]
pub struct RetrainingResponse {
    id: String,
    incident_id: String,
    technician: Option<String>,
    checklist_key: String,
    item_ids: Vec<String>,
    cause: String,
    due_at: DateTime<Utc>,
    status: String,
    trained_at: Option<DateTime<Utc>>,
    trained_by: Option<String>,
    note: Option<String>,
}

fn retraining_responses(
    conn: &mut DbConnection,
    rows: Vec<RetrainingRow>,
) -> Result<Vec<RetrainingResponse>, ApiError> {
    let names = Names::load(conn, rows.iter().flat_map(|r| [Some(r.technician_id.as_str()), r.trained_by.as_deref()]))?;
    rows.into_iter().map(|row| retraining_response(row, &names)).collect()
}

fn retraining_response(row: RetrainingRow, names: &Names) -> Result<RetrainingResponse, ApiError> {
    Ok(RetrainingResponse {
        technician: names.of(Some(&row.technician_id)),
        trained_by: names.of(row.trained_by.as_deref()),
        item_ids: row.item_ids.to_vec(),
        id: row.id,
        incident_id: row.incident_id,
        checklist_key: row.checklist_key,
        cause: row.cause.to_string(),
        due_at: row.due_at.and_utc(),
        status: row.status.to_string(),
        trained_at: row.trained_at.map(|t| t.and_utc()),
        note: row.note,
    })
}

/// Technicians see their own assignments; safety officers and admins see all.
#[utoipa::path(get, path = "/v1/retraining", tag = "safety",
    responses(
        (status = 200, description = "Retraining assignments (a technician: their own)",
            body = Items<RetrainingResponse>),
        (status = 403, response = doc::Forbidden),
    ))]
pub async fn retraining(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let own = match user.role {
        Role::Technician => Some(user.id.clone()),
        Role::SafetyOfficer | Role::Admin => None,
        Role::Dispatcher => {
            return Err(ApiError::Refused(
                crate::error::Refusal::WrongRole,
                "retraining is visible to safety officers and the technician".to_owned(),
            ));
        }
    };
    let items = state
        .db
        .run(move |conn| {
            let rows = db::safety::retraining_list(conn, own.as_deref())?;
            retraining_responses(conn, rows)
        })
        .await?;
    Ok(HttpResponse::Ok().json(Items { items }))
}

#[derive(Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainingDone {
    /// What training was given, by whom, and how it was checked.
    #[validate(length(min = 10, max = 2000))]
    #[schema(min_length = 10, max_length = 2000)]
    note: String,
}

/// Records that retraining was given: the gate opens.
#[utoipa::path(post, path = "/v1/retraining/{id}/training-done", tag = "safety", request_body = TrainingDone,
    params(("id" = Uuid, Path, description = "The retraining assignment")),
    responses(
        (status = 200, description = "Trained: the gate opens", body = RetrainingResponse),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
    ))]
pub async fn training_done(
    state: web::Data<AppState>,
    user: Require<SafetyOfficers>,
    id: web::Path<uuid::Uuid>,
    body: ValidJson<TrainingDone>,
) -> Result<HttpResponse, ApiError> {
    let (id, actor, app, note) = (id.into_inner().to_string(), Actor::from(&*user), state.clone(), body.0.note);
    let row = state
        .db
        .run(move |conn| {
            let row = workflows::safety::record_training(conn, &id, note.trim(), &actor, app.clock.now())?;
            only(retraining_responses(conn, vec![row])?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(row))
}

// ---- disciplinary cases ----

#[derive(Serialize, utoipa::ToSchema)]
struct CaseResponse {
    id: String,
    incident_id: String,
    technician: Option<String>,
    status: String,
    behaviour: Option<String>,
    system_factors: Vec<String>,
    technician_statement: Option<String>,
    outcome: Option<String>,
    outcome_reason: Option<String>,
    proposed_by: Option<String>,
    approved_by: Option<String>,
    note: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// The technician's other safety-critical incidents, so repeats are visible.
    #[serde(skip_serializing_if = "Option::is_none")]
    prior_safety_incidents: Option<Vec<serde_json::Value>>,
}

fn case_responses(
    conn: &mut DbConnection,
    rows: Vec<DisciplinaryRow>,
    with_history: bool,
) -> Result<Vec<CaseResponse>, ApiError> {
    let people =
        rows.iter().flat_map(|r| [Some(r.technician_id.as_str()), r.proposed_by.as_deref(), r.approved_by.as_deref()]);
    let names = Names::load(conn, people)?;
    rows.into_iter().map(|row| case_response(conn, row, &names, with_history)).collect()
}

fn case_response(
    conn: &mut DbConnection,
    row: DisciplinaryRow,
    names: &Names,
    with_history: bool,
) -> Result<CaseResponse, ApiError> {
    let prior = if with_history {
        Some(
            db::safety::technician_incidents(conn, &row.technician_id, &row.incident_id)?
                .into_iter()
                .filter(|i| i.severity == Severity::SafetyCritical || i.original_severity == Severity::SafetyCritical)
                .map(|i| serde_json::json!({ "id": i.id, "severity": i.severity, "checklist_key": i.checklist_key, "reported_at": i.reported_at.and_utc() }))
                .collect(),
        )
    } else {
        None
    };
    Ok(CaseResponse {
        technician: names.of(Some(&row.technician_id)),
        proposed_by: names.of(row.proposed_by.as_deref()),
        approved_by: names.of(row.approved_by.as_deref()),
        system_factors: row.system_factors.iter().map(|f| f.to_string()).collect(),
        id: row.id,
        incident_id: row.incident_id,
        status: row.status.to_string(),
        behaviour: row.behaviour.map(|b| b.to_string()),
        technician_statement: row.technician_statement,
        outcome: row.outcome.map(|o| o.to_string()),
        outcome_reason: row.outcome_reason,
        note: row.note,
        created_at: row.created_at.and_utc(),
        updated_at: row.updated_at.and_utc(),
        prior_safety_incidents: prior,
    })
}

/// Safety officers see every case; a technician sees their own; nobody else sees any.
fn case_scope(user: &AuthUser) -> Result<Option<String>, ApiError> {
    match user.role {
        Role::SafetyOfficer => Ok(None),
        Role::Technician => Ok(Some(user.id.clone())),
        _ => Err(ApiError::Refused(
            crate::error::Refusal::WrongRole,
            "disciplinary cases are visible to safety officers and the technician concerned".to_owned(),
        )),
    }
}

/// Disciplinary cases: all for safety officers, their own for a technician.
#[utoipa::path(get, path = "/v1/disciplinary-cases", tag = "safety",
    responses(
        (status = 200, description = "Disciplinary cases (a technician: their own)", body = Items<CaseResponse>),
        (status = 403, response = doc::Forbidden),
    ))]
pub async fn cases(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let own = case_scope(&user)?;
    let items = state
        .db
        .run(move |conn| {
            let rows = db::safety::cases(conn, own.as_deref())?;
            case_responses(conn, rows, false)
        })
        .await?;
    Ok(HttpResponse::Ok().json(Items { items }))
}

/// One disciplinary case, with the technician's other safety-critical incidents.
#[utoipa::path(get, path = "/v1/disciplinary-cases/{id}", tag = "safety",
    params(("id" = Uuid, Path, description = "The disciplinary case")),
    responses(
        (status = 200, description = "The case, with the technician's other safety-critical incidents",
            body = CaseResponse),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
    ))]
pub async fn case(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let own = case_scope(&user)?;
    let id = id.into_inner().to_string();
    let case = state
        .db
        .run(move |conn| {
            let row = db::safety::case(conn, &id)?
                .filter(|c| own.as_ref().is_none_or(|t| *t == c.technician_id))
                .ok_or_else(|| ApiError::NotFound(format!("no disciplinary case {id}")))?;
            only(case_responses(conn, vec![row], true)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(case))
}

#[derive(Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    behaviour: Behaviour,
    #[serde(default)]
    system_factors: Vec<SystemFactor>,
}

#[derive(Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatementRequest {
    #[validate(length(min = 1, max = 10000))]
    #[schema(min_length = 1, max_length = 10000)]
    statement: String,
}

#[derive(Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideRequest {
    outcome: Outcome,
    #[validate(length(min = 10, max = 5000, message = "give the reason in at least 10 characters"))]
    #[schema(min_length = 10, max_length = 5000)]
    reason: String,
}

async fn step(
    state: web::Data<AppState>,
    user: AuthUser,
    id: uuid::Uuid,
    step: CaseStep,
) -> Result<HttpResponse, ApiError> {
    case_scope(&user)?;
    let (id, actor, app) = (id.to_string(), Actor::from(&user), state.clone());
    let case = state
        .db
        .run(move |conn| {
            let row = workflows::safety::case_step(conn, &id, step, &actor, app.clock.now())?;
            only(case_responses(conn, vec![row], false)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(case))
}

/// Reviews the behaviour and system factors: open → under review.
#[utoipa::path(post, path = "/v1/disciplinary-cases/{id}/review", tag = "safety", request_body = ReviewRequest,
    params(("id" = Uuid, Path, description = "The disciplinary case")),
    responses(
        (status = 200, description = "The case after this step", body = CaseResponse),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
    ))]
pub async fn review(
    state: web::Data<AppState>,
    user: Require<SafetyOfficers>,
    id: web::Path<uuid::Uuid>,
    body: ValidJson<ReviewRequest>,
) -> Result<HttpResponse, ApiError> {
    let ReviewRequest { behaviour, system_factors } = body.0;
    step(state, user.0, id.into_inner(), CaseStep::Review { behaviour, system_factors }).await
}

/// The technician's statement, before the decision.
#[utoipa::path(post, path = "/v1/disciplinary-cases/{id}/statement", tag = "safety", request_body = StatementRequest,
    params(("id" = Uuid, Path, description = "The disciplinary case")),
    responses(
        (status = 200, description = "The case after this step", body = CaseResponse),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
    ))]
pub async fn statement(
    state: web::Data<AppState>,
    user: Require<Technicians>,
    id: web::Path<uuid::Uuid>,
    body: ValidJson<StatementRequest>,
) -> Result<HttpResponse, ApiError> {
    step(state, user.0, id.into_inner(), CaseStep::Statement { text: body.0.statement.trim().to_owned() }).await
}

/// Decides the outcome; one out of line with the behaviour awaits a second safety officer.
#[utoipa::path(post, path = "/v1/disciplinary-cases/{id}/decide", tag = "safety", request_body = DecideRequest,
    params(("id" = Uuid, Path, description = "The disciplinary case")),
    responses(
        (status = 200, description = "The case after this step", body = CaseResponse),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
    ))]
pub async fn decide(
    state: web::Data<AppState>,
    user: Require<SafetyOfficers>,
    id: web::Path<uuid::Uuid>,
    body: ValidJson<DecideRequest>,
) -> Result<HttpResponse, ApiError> {
    let DecideRequest { outcome, reason } = body.0;
    step(state, user.0, id.into_inner(), CaseStep::Decide { outcome, reason: reason.trim().to_owned() }).await
}

/// A second safety officer decides an out-of-line outcome.
#[utoipa::path(post, path = "/v1/disciplinary-cases/{id}/approve", tag = "safety", operation_id = "approve_case",
    params(("id" = Uuid, Path, description = "The disciplinary case")),
    responses(
        (status = 200, description = "The case after this step", body = CaseResponse),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
    ))]
pub async fn approve(
    state: web::Data<AppState>,
    user: Require<SafetyOfficers>,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    step(state, user.0, id.into_inner(), CaseStep::Approve).await
}
