//! The incident queue: filter, page, read (with ETag) and change (with If-Match).

use actix_web::http::header::{self, ETag, EntityTag};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use validator::Validate;

use super::extract::{Query, ValidJson};
use super::openapi as doc;
use crate::AppState;
use crate::auth::{Graders, IncidentHandlers, Require, SafetyReaders};
use crate::db::incidents::{IncidentRow, QueueFilter, QueuePosition, QueueStatus};
use crate::db::{self, DbConnection};
use crate::domain::severity::{Reason, Severity};
use crate::error::ApiError;
use crate::workflows::incidents::{Change, Expected, STATUSES, TRIAGE};
use crate::workflows::{self, Actor};

const DEFAULT_PAGE: i64 = 50;
const MAX_PAGE: i64 = 200;

#[derive(Serialize, utoipa::ToSchema)]
pub struct IncidentResponse {
    id: String,
    failure_id: String,
    job_id: String,
    customer_id: String,
    technician: String,
    checklist_key: String,
    severity: String,
    original_severity: String,
    reasons: Vec<Reason>,
    rules_version: String,
    repeat: bool,
    /// `triage` while it waits for a person to grade it, else the workflow status.
    status: String,
    /// Set for a report the rules could not grade: when a person must grade it by, and whether
    /// that time has passed. Stays (with `graded_at`) after it is graded.
    triage: Option<TriageView>,
    assignee: Option<String>,
    reported_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct TriageView {
    due_at: DateTime<Utc>,
    overdue: bool,
    graded_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct HistoryEntry {
    at: DateTime<Utc>,
    actor: String,
    action: String,
    details: serde_json::Value,
}

/// One incident with its audit history, as `GET /v1/incidents/{id}` returns it.
#[derive(Serialize, utoipa::ToSchema)]
struct IncidentDetail {
    #[serde(flatten)]
    incident: IncidentResponse,
    history: Vec<HistoryEntry>,
    /// What the grade opened, each where the API and the console show it.
    links: IncidentLinks,
}

/// The follow-up an incident opened: null until it exists.
#[derive(Serialize, utoipa::ToSchema)]
struct IncidentLinks {
    /// The make-safe visit (`GET /v1/make-safe-visits` lists it).
    make_safe_visit: Option<Link>,
    recovery_case: Option<Link>,
    retraining: Option<Link>,
    disciplinary_case: Option<Link>,
    /// The incident's page in the console.
    console: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Link {
    id: String,
    status: String,
    href: String,
}

pub(crate) fn response(
    conn: &mut DbConnection,
    row: IncidentRow,
    now: DateTime<Utc>,
) -> Result<IncidentResponse, ApiError> {
    responses(conn, vec![row], now)?.pop().ok_or_else(|| ApiError::Internal(anyhow::anyhow!("incident response lost")))
}

/// Responses for a page of incidents, with every username looked up in one query.
pub(crate) fn responses(
    conn: &mut DbConnection,
    rows: Vec<IncidentRow>,
    now: DateTime<Utc>,
) -> Result<Vec<IncidentResponse>, ApiError> {
    let ids: Vec<&str> =
        rows.iter().flat_map(|r| std::iter::once(r.technician_id.as_str()).chain(r.assignee_id.as_deref())).collect();
    let names = db::users::usernames(conn, &ids)?;
    let name = |id: &str| names.get(id).cloned();
    rows.into_iter()
        .map(|row| {
            let in_triage = row.in_triage();
            let triage = row.triage_due_at.map(|due| TriageView {
                due_at: due.and_utc(),
                overdue: in_triage && now.naive_utc() > due,
                graded_at: row.triaged_at.map(|at| at.and_utc()),
            });
            Ok(IncidentResponse {
                reasons: row.reasons.to_vec(),
                triage,
                technician: name(&row.technician_id).unwrap_or_default(),
                assignee: row.assignee_id.as_deref().and_then(name),
                id: row.id,
                failure_id: row.failure_id,
                job_id: row.job_id,
                customer_id: row.customer_id,
                checklist_key: row.checklist_key,
                severity: row.severity.to_string(),
                original_severity: row.original_severity.to_string(),
                rules_version: row.rules_version,
                repeat: row.is_repeat,
                status: if in_triage { TRIAGE.to_owned() } else { row.status.to_string() },
                reported_at: row.reported_at.and_utc(),
                updated_at: row.updated_at.and_utc(),
            })
        })
        .collect()
}

fn etag(revision: i64) -> EntityTag {
    EntityTag::new_strong(format!("rev-{revision}"))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    /// `nuisance`, `service_impacting` or `safety_critical`.
    #[param(pattern = "^(nuisance|service_impacting|safety_critical)$")]
    severity: Option<String>,
    /// A workflow status, or `triage` for the reports waiting for a person to grade them.
    #[param(pattern = "^(triage|open|acknowledged|assigned|resolved)$")]
    status: Option<String>,
    /// A technician's username.
    technician: Option<String>,
    /// A customer id.
    customer: Option<String>,
    /// Only incidents reported at or after this time.
    since: Option<DateTime<Utc>>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^[0-3]_[0-9]{1,16}_.+$")]
    cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct IncidentPage {
    items: Vec<IncidentResponse>,
    next_cursor: Option<String>,
}

fn encode_cursor(p: &QueuePosition) -> String {
    format!("{}_{}_{}", p.queue_rank, p.reported_at.and_utc().timestamp_micros(), p.id)
}

fn decode_cursor(raw: &str) -> Option<QueuePosition> {
    let mut parts = raw.splitn(3, '_');
    let queue_rank = parts.next()?.parse().ok()?;
    let micros = parts.next()?.parse().ok()?;
    let id = parts.next()?.to_owned();
    let reported_at = super::page::cursor_time(micros)?;
    Some(QueuePosition { queue_rank, reported_at, id })
}

/// The incident queue, filtered and paged.
#[utoipa::path(get, path = "/v1/incidents", tag = "incidents", operation_id = "list_incidents", params(QueueQuery),
    responses(
        (status = 200, description = "The triage lane first, then most urgent first, newest first within a grade",
            body = IncidentPage),
        (status = 403, response = doc::Forbidden),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    _user: Require<IncidentHandlers>,
    query: Query<QueueQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.0;
    let mut errors = Vec::new();
    let severity = q.severity.as_deref().map(Severity::parse);
    if severity.is_some_and(|s| s.is_none()) {
        errors.push(crate::error::FieldError::new("severity", "one of nuisance, service_impacting, safety_critical"));
    }
    let status = q.status.as_deref().map(QueueStatus::parse);
    if status.is_some_and(|s| s.is_none()) {
        errors.push(crate::error::FieldError::new("status", format!("one of {}", STATUSES.join(", "))));
    }
    let after = match q.cursor.as_deref() {
        Some(raw) => match decode_cursor(raw) {
            Some(position) => Some(position),
            None => {
                errors.push(crate::error::FieldError::new("cursor", "use a next_cursor value from an earlier page"));
                None
            }
        },
        None => None,
    };
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        errors.push(crate::error::FieldError::new("limit", format!("1 to {MAX_PAGE}")));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let since: Option<NaiveDateTime> = q.since.map(|s| s.naive_utc());
    let now = state.clock.now();
    let (items, next_cursor) = state
        .db
        .run(move |conn| -> Result<_, ApiError> {
            let technician_id = match &q.technician {
                Some(name) => Some(db::users::by_username(conn, name)?.map(|u| u.id).unwrap_or_default()),
                None => None,
            };
            let (severity, status) = (severity.flatten(), status.flatten());
            let filter = QueueFilter { severity, status, technician_id, customer_id: q.customer, since };
            let rows = db::incidents::queue(conn, &filter, after.as_ref(), limit)?;
            let next = (rows.len() as i64 == limit).then(|| rows.last()).flatten().map(|last| {
                encode_cursor(&QueuePosition {
                    queue_rank: last.queue_rank,
                    reported_at: last.reported_at,
                    id: last.id.clone(),
                })
            });
            let items = responses(conn, rows, now)?;
            Ok((items, next))
        })
        .await?;
    Ok(HttpResponse::Ok().json(IncidentPage { items, next_cursor }))
}

/// One incident with its history and ETag.
#[utoipa::path(get, path = "/v1/incidents/{id}", tag = "incidents", operation_id = "get_incident",
    params(("id" = Uuid, Path, description = "The incident")),
    responses(
        (status = 200, description = "The incident with its audit history", body = IncidentDetail,
            headers(("ETag" = String, description = "The revision, for `If-Match`"))),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
    ))]
pub async fn get(
    state: web::Data<AppState>,
    _user: Require<IncidentHandlers>,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner().to_string();
    let now = state.clock.now();
    let (detail, revision) = state
        .db
        .run(move |conn| -> Result<_, ApiError> {
            let row = db::incidents::find(conn, &id)?.ok_or_else(|| ApiError::NotFound(format!("no incident {id}")))?;
            let revision = row.revision;
            let history = db::audit::for_entity(conn, "incident", &id)?
                .into_iter()
                .map(|e| HistoryEntry {
                    at: e.at.and_utc(),
                    actor: e.actor,
                    action: e.action,
                    details: serde_json::from_str(&e.details).unwrap_or(serde_json::Value::Null),
                })
                .collect();
            let follow_up = db::incidents::follow_up(conn, &id)?;
            let links = IncidentLinks {
                make_safe_visit: follow_up.visit.map(|v| Link {
                    href: "/v1/make-safe-visits".to_owned(),
                    id: v.id,
                    status: v.status.to_string(),
                }),
                recovery_case: follow_up.recovery.map(|c| Link {
                    href: format!("/v1/recovery-cases?status={}", c.status),
                    id: c.id,
                    status: c.status.to_string(),
                }),
                retraining: follow_up.retraining.map(|r| Link {
                    href: "/v1/retraining".to_owned(),
                    id: r.id,
                    status: r.status.to_string(),
                }),
                disciplinary_case: follow_up.case.map(|c| Link {
                    href: format!("/v1/disciplinary-cases/{}", c.id),
                    id: c.id,
                    status: c.status.to_string(),
                }),
                console: format!("/console/incidents/{id}"),
            };
            Ok((IncidentDetail { incident: response(conn, row, now)?, history, links }, revision))
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(ETag(etag(revision)))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .json(detail))
}

/// Reads `If-Match`: 428 without one; `*` or the listed revisions otherwise.
pub fn expected(req: &HttpRequest) -> Result<Expected, ApiError> {
    let raw = req
        .headers()
        .get(header::IF_MATCH)
        .ok_or_else(|| ApiError::PreconditionRequired("send If-Match with the incident's ETag".to_owned()))?
        .to_str()
        .map_err(|_| ApiError::PreconditionFailed("If-Match is not readable".to_owned()))?;
    if raw.trim() == "*" {
        return Ok(Expected::Any);
    }
    let revisions = raw
        .split(',')
        .filter_map(|tag| tag.trim().trim_matches('"').strip_prefix("rev-").and_then(|n| n.parse().ok()))
        .collect();
    Ok(Expected::Revisions(revisions))
}

async fn apply(
    state: web::Data<AppState>,
    req: &HttpRequest,
    id: uuid::Uuid,
    actor: Actor,
    change: Change,
) -> Result<HttpResponse, ApiError> {
    let expected = expected(req)?;
    let id = id.to_string();
    let app = state.clone();
    let (incident, revision) = state
        .db
        .run(move |conn| -> Result<_, ApiError> {
            let now = app.clock.now();
            let row = workflows::incidents::change(conn, app.context(), &id, &expected, change, &actor, now)?;
            let revision = row.revision;
            Ok((response(conn, row, now)?, revision))
        })
        .await?;
    Ok(HttpResponse::Ok().insert_header(ETag(etag(revision))).json(incident))
}

/// Acknowledges an open incident (`If-Match`).
#[utoipa::path(post, path = "/v1/incidents/{id}/acknowledge", tag = "incidents",
    params(("id" = Uuid, Path, description = "The incident"), doc::IfMatch),
    responses(
        (status = 200, description = "The incident as changed", body = IncidentResponse,
            headers(("ETag" = String, description = "The new revision"))),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
        (status = 412, response = doc::PreconditionFailed),
        (status = 428, response = doc::PreconditionRequired),
    ))]
pub async fn acknowledge(
    state: web::Data<AppState>,
    user: Require<IncidentHandlers>,
    req: HttpRequest,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    apply(state, &req, id.into_inner(), Actor::from(&*user), Change::Acknowledge).await
}

#[derive(Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    #[validate(length(min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64)]
    assignee: String,
}

/// Assigns an incident to a dispatcher, safety officer or admin (`If-Match`).
#[utoipa::path(post, path = "/v1/incidents/{id}/assign", tag = "incidents", operation_id = "assign_incident",
    request_body = AssignRequest, params(("id" = Uuid, Path, description = "The incident"), doc::IfMatch),
    responses(
        (status = 200, description = "The incident as changed", body = IncidentResponse,
            headers(("ETag" = String, description = "The new revision"))),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
        (status = 412, response = doc::PreconditionFailed),
        (status = 428, response = doc::PreconditionRequired),
    ))]
pub async fn assign(
    state: web::Data<AppState>,
    user: Require<IncidentHandlers>,
    req: HttpRequest,
    id: web::Path<uuid::Uuid>,
    body: ValidJson<AssignRequest>,
) -> Result<HttpResponse, ApiError> {
    let change = Change::Assign { assignee: body.0.assignee };
    apply(state, &req, id.into_inner(), Actor::from(&*user), change).await
}

#[derive(Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegradeRequest {
    severity: Severity,
    /// Why the grade is wrong: kept in the audit log for ever.
    #[validate(length(min = 10, max = 2000, message = "give the reason in at least 10 characters"))]
    #[schema(min_length = 10, max_length = 2000)]
    reason: String,
}

/// A safety officer re-grades any incident; a dispatcher grades one waiting in triage.
#[utoipa::path(post, path = "/v1/incidents/{id}/regrade", tag = "incidents",
    request_body = RegradeRequest, params(("id" = Uuid, Path, description = "The incident"), doc::IfMatch),
    responses(
        (status = 200, description = "The incident as changed", body = IncidentResponse,
            headers(("ETag" = String, description = "The new revision"))),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
        (status = 412, response = doc::PreconditionFailed),
        (status = 428, response = doc::PreconditionRequired),
    ))]
pub async fn regrade(
    state: web::Data<AppState>,
    user: Require<Graders>,
    req: HttpRequest,
    id: web::Path<uuid::Uuid>,
    body: ValidJson<RegradeRequest>,
) -> Result<HttpResponse, ApiError> {
    let RegradeRequest { severity, reason } = body.0;
    if reason.trim().chars().count() < 10 {
        return Err(ApiError::field("reason", "give the reason in at least 10 characters"));
    }
    let change = Change::Regrade { severity, reason: reason.trim().to_owned(), by: user.role };
    apply(state, &req, id.into_inner(), Actor::from(&*user), change).await
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// Must be `true`: only the reports a person graded are exported.
    regraded: bool,
}

/// One labelled note: the report as written, the machine's grade and the person's. The fields
/// `note` and `expected` are what `fieldproof rules eval --notes` reads.
#[derive(Serialize, utoipa::ToSchema)]
struct LabelledReport {
    incident_id: String,
    note: String,
    expected: String,
    machine_grade: String,
    rules_version: String,
    graded_by: Option<String>,
    graded_at: Option<DateTime<Utc>>,
    reason: Option<String>,
}

/// `GET /v1/incidents/export?regraded=true`: every report a person re-graded or graded out of
/// triage, as JSON lines, so the evaluation set can grow from real use.
#[utoipa::path(get, path = "/v1/incidents/export", tag = "incidents", params(ExportQuery),
    responses(
        (status = 200, description = "JSON lines, one per report a person graded", body = LabelledReport,
            content_type = "application/x-ndjson"),
        (status = 403, response = doc::Forbidden),
    ))]
pub async fn export(
    state: web::Data<AppState>,
    _user: Require<SafetyReaders>,
    query: Query<ExportQuery>,
) -> Result<HttpResponse, ApiError> {
    if !query.0.regraded {
        return Err(ApiError::field("regraded", "only `regraded=true` is exported: the reports a person graded"));
    }
    let rows = state.db.query(db::incidents::human_graded).await?;
    let mut body = String::new();
    for row in rows {
        let details: serde_json::Value =
            row.decision.as_ref().and_then(|d| serde_json::from_str(&d.details).ok()).unwrap_or_default();
        let machine_grade = row.incident.machine_grade().to_owned();
        let line = LabelledReport {
            incident_id: row.incident.id,
            note: row.description,
            expected: row.incident.severity.to_string(),
            machine_grade,
            rules_version: row.incident.rules_version,
            graded_by: row.decision.as_ref().map(|d| d.actor.clone()),
            graded_at: row.decision.as_ref().map(|d| d.at.and_utc()),
            reason: details["reason"].as_str().map(str::to_owned),
        };
        body += &serde_json::to_string(&line).map_err(anyhow::Error::from)?;
        body.push('\n');
    }
    Ok(HttpResponse::Ok().content_type("application/x-ndjson").body(body))
}
