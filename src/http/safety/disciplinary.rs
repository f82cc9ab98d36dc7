//! Disciplinary cases: review, the technician's statement, the decision and its second approval.

use crate::domain::severity::Severity;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use validator::Validate;

use super::{Names, only};
use crate::AppState;
use crate::auth::{AuthUser, Require, Role, SafetyOfficers, Technicians};
use crate::db::safety::DisciplinaryRow;
use crate::db::{self, DbConnection};
use crate::domain::safety::{Behaviour, Outcome, SystemFactor};
use crate::error::ApiError;
use crate::http::extract::ValidJson;
use crate::http::openapi as doc;
use crate::http::page::Items;
use crate::workflows::safety::CaseStep;
use crate::workflows::{self, Actor};

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
