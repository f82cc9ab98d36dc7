//! Make-safe visits: the dispatcher's list, soonest due first, and sending a technician.

use crate::domain::make_safe::VisitStatus;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use validator::Validate;

use super::{Names, only};
use crate::AppState;
use crate::auth::{IncidentHandlers, JobIssuers, Require};
use crate::db::safety::MakeSafeVisitRow;
use crate::db::{self, DbConnection};
use crate::error::ApiError;
use crate::http::extract::{Query, ValidJson, status_filter};
use crate::http::openapi as doc;
use crate::http::page::{DuePage, Page};
use crate::workflows::{self, Actor};

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
pub(super) fn visit_responses(
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
