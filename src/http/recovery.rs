//! Customer recovery cases: the dispatcher's 24-hour clock for ordinary failures.

use crate::domain::recovery_case::RecoveryStatus;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use validator::Validate;

use super::extract::{Query, ValidJson, status_filter};
use super::openapi as doc;
use super::page::{DuePage, Page};
use crate::AppState;
use crate::auth::{AuthUser, IncidentHandlers, JobIssuers, Require};
use crate::db::recovery::{CaseView, RecoveryCaseRow};
use crate::db::{self, DbConnection};
use crate::domain::recovery::{self, Urgency};
use crate::domain::safety::RootCause;
use crate::error::ApiError;
use crate::workflows::recovery::ApologyDraft;
use crate::workflows::{self, Actor};

#[derive(Serialize, utoipa::ToSchema)]
struct CaseResponse {
    id: String,
    incident_id: String,
    customer_id: String,
    severity: String,
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
    apology_text: Option<String>,
    remedy_id: Option<String>,
    remedy_value_gbp: Option<f64>,
    /// `pending_approval` or `settled`.
    remedy_status: Option<String>,
    policy_version: Option<String>,
    fix_job_id: Option<String>,
    explanation_due_at: Option<DateTime<Utc>>,
    /// The explanation is due and has not been sent.
    explanation_overdue: bool,
    explanation_text: Option<String>,
    root_cause: Option<String>,
    explained_at: Option<DateTime<Utc>>,
    surprise_given: Option<bool>,
    surprise_note: Option<String>,
    note: Option<String>,
    /// The customer's answer on the feedback form, once given.
    feedback: Option<Feedback>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Feedback {
    answered_at: DateTime<Utc>,
    satisfaction: Option<i32>,
    surprised: Option<bool>,
    surprise_note: Option<String>,
    comment: Option<String>,
}

fn response(CaseView { case: row, severity, reported_at, feedback }: CaseView, now: DateTime<Utc>) -> CaseResponse {
    let urgency = (row.status == RecoveryStatus::Open).then(|| match recovery::urgency(row.due_at, now.naive_utc()) {
        Urgency::OnTrack => "on_track",
        Urgency::DueSoon => "due_soon",
        Urgency::Overdue => "overdue",
    });
    let feedback = feedback.and_then(|f| {
        Some(Feedback {
            answered_at: f.answered_at?.and_utc(),
            satisfaction: f.satisfaction,
            surprised: f.surprised,
            surprise_note: f.surprise_note,
            comment: f.comment,
        })
    });
    CaseResponse {
        feedback,
        time_left_seconds: (row.due_at.and_utc() - now).num_seconds(),
        recovered_within_target: row.recovered_at.map(|at| recovery::within_target(reported_at, at)),
        id: row.id,
        incident_id: row.incident_id,
        customer_id: row.customer_id,
        severity,
        due_at: row.due_at.and_utc(),
        urgency,
        status: row.status.to_string(),
        fixed_at: row.fixed_at.map(|t| t.and_utc()),
        apologised_at: row.apologised_at.map(|t| t.and_utc()),
        remedy_settled_at: row.remedy_settled_at.map(|t| t.and_utc()),
        recovered_at: row.recovered_at.map(|t| t.and_utc()),
        apology_text: row.apology_text,
        remedy_id: row.remedy_id,
        remedy_value_gbp: row.remedy_value_gbp,
        remedy_status: row.remedy_status.map(|s| s.to_string()),
        policy_version: row.policy_version,
        explanation_overdue: row.explained_at.is_none()
            && row.explanation_due_at.is_some_and(|due| due < now.naive_utc()),
        fix_job_id: row.fix_job_id,
        explanation_due_at: row.explanation_due_at.map(|t| t.and_utc()),
        explanation_text: row.explanation_text,
        root_cause: row.root_cause.map(|c| c.to_string()),
        explained_at: row.explained_at.map(|t| t.and_utc()),
        surprise_given: row.surprise_given,
        surprise_note: row.surprise_note,
        note: row.note,
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Comma-separated statuses; default `open`.
    #[param(pattern = "^(open|recovered|cancelled)(,(open|recovered|cancelled))*$")]
    status: Option<String>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^[0-9]{1,16}_[0-9A-Fa-f-]{36}$")]
    cursor: Option<String>,
    /// Page size, 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

/// Recovery cases, soonest deadline first.
#[utoipa::path(get, path = "/v1/recovery-cases", tag = "recovery", operation_id = "list_recovery_cases",
    params(ListQuery),
    responses(
        (status = 200, description = "Recovery cases, soonest deadline first", body = Page<CaseResponse>),
        (status = 403, response = doc::Forbidden),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    _user: Require<IncidentHandlers>,
    query: Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let ListQuery { status, cursor, limit } = query.0;
    let statuses = status_filter(status, &[RecoveryStatus::Open])?;
    let page = DuePage::parse(cursor.as_deref(), limit)?;
    let app = state.clone();
    let (items, next_cursor) = state
        .db
        .run(move |conn| -> Result<_, ApiError> {
            let now = app.clock.now();
            let views = db::recovery::views(conn, &statuses, None, page.after.as_ref(), page.limit)?;
            let next = page.next(views.len(), views.last().map(|view| (view.case.due_at, view.case.id.as_str())));
            Ok((views.into_iter().map(|view| response(view, now)).collect::<Vec<_>>(), next))
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page { items, next_cursor }))
}

async fn change(
    state: web::Data<AppState>,
    id: uuid::Uuid,
    work: impl FnOnce(&mut DbConnection, &AppState, &str, DateTime<Utc>) -> Result<RecoveryCaseRow, workflows::Error>
    + Send
    + 'static,
) -> Result<HttpResponse, ApiError> {
    let (id, app) = (id.to_string(), state.clone());
    let case = state
        .db
        .run(move |conn| {
            let now = app.clock.now();
            let row = work(conn, &app, &id, now)?;
            let view = db::recovery::views(conn, &[], Some(&row.id), None, 1)?.pop();
            view.map(|view| response(view, now)).ok_or_else(|| ApiError::NotFound(format!("no recovery case {id}")))
        })
        .await?;
    Ok(HttpResponse::Ok().json(case))
}

/// The failure is fixed (frontline staff record it without waiting for approval).
#[utoipa::path(post, path = "/v1/recovery-cases/{id}/fixed", tag = "recovery",
    params(("id" = Uuid, Path, description = "The recovery case")),
    responses(
        (status = 200, description = "The case after this step", body = CaseResponse),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
    ))]
pub async fn fixed(
    state: web::Data<AppState>,
    user: Require<JobIssuers>,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let actor = Actor::from(&*user);
    change(state, id.into_inner(), move |conn, app, id, now| {
        workflows::recovery::record_fixed(conn, app.context(), id, &actor, now)
    })
    .await
}

/// The apology draft for the case.
#[utoipa::path(get, path = "/v1/recovery-cases/{id}/apology", tag = "recovery",
    params(("id" = Uuid, Path, description = "The recovery case")),
    responses(
        (status = 200, description = "The apology draft", body = ApologyDraft),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
    ))]
pub async fn apology_draft(
    state: web::Data<AppState>,
    _user: Require<IncidentHandlers>,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (id, app) = (id.into_inner().to_string(), state.clone());
    let draft = state.db.run(move |conn| workflows::recovery::apology_draft(conn, app.context(), &id)).await?;
    Ok(HttpResponse::Ok().json(draft))
}

#[derive(Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApologyRequest {
    /// The edited apology; without it the draft is sent as it is.
    #[validate(length(min = 20, max = 5000))]
    #[schema(min_length = 20, max_length = 5000)]
    text: Option<String>,
}

/// Sends the apology (the draft as is, or edited) and records it.
#[utoipa::path(post, path = "/v1/recovery-cases/{id}/apology", tag = "recovery", request_body = ApologyRequest,
    params(("id" = Uuid, Path, description = "The recovery case")),
    responses(
        (status = 200, description = "The case after this step", body = CaseResponse),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
    ))]
pub async fn apologise(
    state: web::Data<AppState>,
    user: Require<JobIssuers>,
    id: web::Path<uuid::Uuid>,
    body: ValidJson<ApologyRequest>,
) -> Result<HttpResponse, ApiError> {
    let (actor, text) = (Actor::from(&*user), body.0.text.map(|t| t.trim().to_owned()));
    change(state, id.into_inner(), move |conn, app, id, now| {
        workflows::recovery::apologise(conn, app.context(), id, text, &actor, now)
    })
    .await
}

#[derive(Serialize, utoipa::ToSchema)]
struct OfferResponse {
    tier: u8,
    explanation: Vec<String>,
    options: Vec<OptionResponse>,
    policy_version: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct OptionResponse {
    id: String,
    label: String,
    value_gbp: f64,
    /// Above the frontline limit: the policy's approver must approve it.
    needs_approval: bool,
}

/// The remedies the customer chooses from.
#[utoipa::path(get, path = "/v1/recovery-cases/{id}/remedies", tag = "recovery",
    params(("id" = Uuid, Path, description = "The recovery case")),
    responses(
        (status = 200, description = "The remedies the customer chooses from", body = OfferResponse),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
    ))]
pub async fn remedies(
    state: web::Data<AppState>,
    _user: Require<IncidentHandlers>,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (id, app) = (id.into_inner().to_string(), state.clone());
    let offer = state.db.run(move |conn| workflows::recovery::offer(conn, app.context(), &id)).await?;
    let options = offer
        .options
        .into_iter()
        .map(|r| OptionResponse {
            needs_approval: state.policy.needs_approval(&r),
            id: r.id,
            label: r.label,
            value_gbp: r.value_gbp,
        })
        .collect();
    Ok(HttpResponse::Ok().json(OfferResponse {
        tier: offer.tier,
        explanation: offer.explanation,
        options,
        policy_version: state.policy.version.clone(),
    }))
}

#[derive(Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemedyRequest {
    #[validate(length(min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64)]
    remedy_id: String,
}

/// Records the customer's choice.
#[utoipa::path(post, path = "/v1/recovery-cases/{id}/remedy", tag = "recovery", request_body = RemedyRequest,
    params(("id" = Uuid, Path, description = "The recovery case")),
    responses(
        (status = 200, description = "The case after this step", body = CaseResponse),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
    ))]
pub async fn choose_remedy(
    state: web::Data<AppState>,
    user: Require<JobIssuers>,
    id: web::Path<uuid::Uuid>,
    body: ValidJson<RemedyRequest>,
) -> Result<HttpResponse, ApiError> {
    let (actor, role, remedy) = (Actor::from(&*user), user.role, body.0.remedy_id);
    change(state, id.into_inner(), move |conn, app, id, now| {
        workflows::recovery::choose_remedy(conn, app.context(), id, &remedy, &actor, role, now)
    })
    .await
}

/// The policy's approver approves a remedy above the frontline limit.
#[utoipa::path(post, path = "/v1/recovery-cases/{id}/remedy/approve", tag = "recovery",
    params(("id" = Uuid, Path, description = "The recovery case")),
    responses(
        (status = 200, description = "The case after this step", body = CaseResponse),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
    ))]
pub async fn approve_remedy(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (actor, role) = (Actor::from(&user), user.role);
    change(state, id.into_inner(), move |conn, app, id, now| {
        workflows::recovery::approve_remedy(conn, app.context(), id, &actor, role, now)
    })
    .await
}

#[derive(Serialize, utoipa::ToSchema)]
struct Suggestions {
    suggestions: Vec<recovery::SurpriseSuggestion>,
}

/// Surprises that fit the customer's known preferences (with the preference behind each).
#[utoipa::path(get, path = "/v1/recovery-cases/{id}/surprise", tag = "recovery",
    params(("id" = Uuid, Path, description = "The recovery case")),
    responses(
        (status = 200, description = "Personal touches that fit the customer's preferences", body = Suggestions),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
    ))]
pub async fn surprise(
    state: web::Data<AppState>,
    _user: Require<IncidentHandlers>,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (id, app) = (id.into_inner().to_string(), state.clone());
    let suggestions =
        state.db.run(move |conn| workflows::recovery::surprise_suggestions(conn, app.context(), &id)).await?;
    Ok(HttpResponse::Ok().json(Suggestions { suggestions }))
}

#[derive(Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SurpriseRequest {
    given: bool,
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    note: Option<String>,
}

/// Records whether a surprise was given.
#[utoipa::path(post, path = "/v1/recovery-cases/{id}/surprise", tag = "recovery", request_body = SurpriseRequest,
    params(("id" = Uuid, Path, description = "The recovery case")),
    responses(
        (status = 200, description = "The case after this step", body = CaseResponse),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
    ))]
pub async fn record_surprise(
    state: web::Data<AppState>,
    user: Require<JobIssuers>,
    id: web::Path<uuid::Uuid>,
    body: ValidJson<SurpriseRequest>,
) -> Result<HttpResponse, ApiError> {
    let (actor, SurpriseRequest { given, note }) = (Actor::from(&*user), body.0);
    change(state, id.into_inner(), move |conn, _, id, now| {
        workflows::recovery::record_surprise(conn, id, given, note, &actor, now)
    })
    .await
}

#[derive(Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FixVisitRequest {
    #[validate(length(min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64)]
    technician: String,
}

/// Sends an expedited fix visit (service-impacting failures).
#[utoipa::path(post, path = "/v1/recovery-cases/{id}/fix-visit", tag = "recovery", request_body = FixVisitRequest,
    params(("id" = Uuid, Path, description = "The recovery case")),
    responses(
        (status = 200, description = "The case after this step", body = CaseResponse),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
    ))]
pub async fn fix_visit(
    state: web::Data<AppState>,
    user: Require<JobIssuers>,
    id: web::Path<uuid::Uuid>,
    body: ValidJson<FixVisitRequest>,
) -> Result<HttpResponse, ApiError> {
    let (actor, technician) = (Actor::from(&*user), body.0.technician);
    change(state, id.into_inner(), move |conn, _, id, now| {
        workflows::recovery::send_fix_visit(conn, id, &technician, &actor, now)
    })
    .await
}

#[derive(Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExplanationRequest {
    root_cause: RootCause,
    #[validate(length(min = 10, max = 5000))]
    #[schema(min_length = 10, max_length = 5000)]
    what_went_wrong: String,
    #[validate(length(min = 10, max = 5000))]
    #[schema(min_length = 10, max_length = 5000)]
    what_changed: String,
}

/// Records the explanation sent to the customer after the fix.
#[utoipa::path(post, path = "/v1/recovery-cases/{id}/explanation", tag = "recovery",
    request_body = ExplanationRequest, params(("id" = Uuid, Path, description = "The recovery case")),
    responses(
        (status = 200, description = "The case after this step", body = CaseResponse),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
    ))]
pub async fn explain(
    state: web::Data<AppState>,
    user: Require<JobIssuers>,
    id: web::Path<uuid::Uuid>,
    body: ValidJson<ExplanationRequest>,
) -> Result<HttpResponse, ApiError> {
    let ExplanationRequest { root_cause, what_went_wrong, what_changed } = body.0;
    let explanation = workflows::recovery::Explanation {
        root_cause,
        what_went_wrong: what_went_wrong.trim().to_owned(),
        what_changed: what_changed.trim().to_owned(),
    };
    let actor = Actor::from(&*user);
    change(state, id.into_inner(), move |conn, app, id, now| {
        workflows::recovery::explain(conn, app.context(), id, explanation, &actor, now)
    })
    .await
}
