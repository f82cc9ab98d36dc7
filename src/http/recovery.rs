//! Customer recovery cases: the dispatcher's 24-hour clock for ordinary failures.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use validator::Validate;

use super::extract::{Query, ValidJson, status_filter};
use crate::AppState;
use crate::auth::{IncidentHandlers, JobIssuers, Require};
use crate::db::recovery::RecoveryCaseRow;
use crate::db::{self, DbConnection};
use crate::domain::recovery::{self, Urgency};
use crate::error::ApiError;
use crate::workflows::recovery::Step;
use crate::workflows::{self, Actor};

#[derive(Serialize)]
struct CaseResponse {
    id: String,
    incident_id: String,
    customer_id: String,
    severity: Option<String>,
    due_at: DateTime<Utc>,
    /// Seconds until the 24-hour deadline; negative when past it.
    time_left_seconds: i64,
    /// `on_track`, `due_soon` (4 hours or less left) or `overdue`; null once closed.
    urgency: Option<&'static str>,
    status: String,
    fixed_at: Option<DateTime<Utc>>,
    apologised_at: Option<DateTime<Utc>>,
    remedy_settled_at: Option<DateTime<Utc>>,
    recovered_at: Option<DateTime<Utc>>,
    recovered_within_target: Option<bool>,
    note: Option<String>,
}

fn response(conn: &mut DbConnection, row: RecoveryCaseRow, now: DateTime<Utc>) -> Result<CaseResponse, ApiError> {
    let severity = db::incidents::find(conn, &row.incident_id)?.map(|i| i.severity);
    let urgency = (row.status == "open").then(|| match recovery::urgency(row.due_at, now.naive_utc()) {
        Urgency::OnTrack => "on_track",
        Urgency::DueSoon => "due_soon",
        Urgency::Overdue => "overdue",
    });
    let reported_at = row.due_at - recovery::TARGET;
    Ok(CaseResponse {
        time_left_seconds: (row.due_at.and_utc() - now).num_seconds(),
        recovered_within_target: row.recovered_at.map(|at| recovery::within_target(reported_at, at)),
        id: row.id,
        incident_id: row.incident_id,
        customer_id: row.customer_id,
        severity,
        due_at: row.due_at.and_utc(),
        urgency,
        status: row.status,
        fixed_at: row.fixed_at.map(|t| t.and_utc()),
        apologised_at: row.apologised_at.map(|t| t.and_utc()),
        remedy_settled_at: row.remedy_settled_at.map(|t| t.and_utc()),
        recovered_at: row.recovered_at.map(|t| t.and_utc()),
        note: row.note,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Comma-separated statuses; default `open`.
    status: Option<String>,
}

/// Recovery cases, soonest deadline first.
pub async fn list(
    state: web::Data<AppState>,
    _user: Require<IncidentHandlers>,
    query: Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let statuses = status_filter(query.0.status, "open", &["open", "recovered", "cancelled"])?;
    let app = state.clone();
    let items = state
        .db
        .run(move |conn| {
            let wanted: Vec<&str> = statuses.iter().map(String::as_str).collect();
            let now = app.clock.now();
            db::recovery::list(conn, &wanted)?
                .into_iter()
                .map(|row| response(conn, row, now))
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}

#[derive(Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct StepRequest {
    step: Step,
}

/// Frontline staff record progress without waiting for approval.
pub async fn step(
    state: web::Data<AppState>,
    user: Require<JobIssuers>,
    id: web::Path<uuid::Uuid>,
    body: ValidJson<StepRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, actor, app, step) = (id.into_inner().to_string(), Actor::from(&*user), state.clone(), body.0.step);
    let case = state
        .db
        .run(move |conn| {
            let now = app.clock.now();
            let row = workflows::recovery::record_step(conn, &id, step, &actor, now)?;
            response(conn, row, now)
        })
        .await?;
    Ok(HttpResponse::Ok().json(case))
}
