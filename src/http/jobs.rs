//! Jobs: dispatchers issue them; technicians fetch their own and sync changes with a cursor.

use actix_web::{HttpResponse, http::header, web};
use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use validator::Validate;

use super::extract::{Query, ValidJson};
use super::openapi as doc;
use crate::AppState;
use crate::auth::{AuthUser, JobIssuers, Require, Role, Technicians};
use crate::db::{self, jobs::JobView};
use crate::error::ApiError;
use crate::workflows::jobs::{CustomerRef, NewCustomer, NewJob, Site};
use crate::workflows::{self, Actor};

/// Largest page of `GET /v1/me/jobs`.
const PAGE_SIZE: i64 = 100;

#[derive(Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateJobRequest {
    id: Option<uuid::Uuid>,
    customer_id: Option<uuid::Uuid>,
    #[validate(nested)]
    customer: Option<CustomerInput>,
    #[validate(nested)]
    site: SiteInput,
    #[validate(length(min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64)]
    technician: String,
    #[validate(length(min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64)]
    checklist_key: String,
    scheduled_for: DateTime<Utc>,
}

#[derive(Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerInput {
    id: Option<uuid::Uuid>,
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    #[validate(length(min = 3, max = 40))]
    #[schema(min_length = 3, max_length = 40)]
    phone: Option<String>,
    #[validate(email)]
    email: Option<String>,
    #[serde(default)]
    #[validate(length(max = 50))]
    #[schema(max_items = 50)]
    preferences: Vec<String>,
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    notes: Option<String>,
}

#[derive(Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteInput {
    #[validate(length(min = 1, max = 500))]
    #[schema(min_length = 1, max_length = 500)]
    address: String,
    #[validate(length(min = 2, max = 16))]
    #[schema(min_length = 2, max_length = 16)]
    postcode: String,
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    notes: Option<String>,
}

impl TryFrom<CreateJobRequest> for NewJob {
    type Error = ApiError;

    fn try_from(req: CreateJobRequest) -> Result<Self, ApiError> {
        let customer = match (req.customer_id, req.customer) {
            (Some(id), None) => CustomerRef::Existing(id),
            (None, Some(c)) => CustomerRef::New(NewCustomer {
                id: c.id.unwrap_or_else(uuid::Uuid::now_v7),
                name: c.name,
                phone: c.phone,
                email: c.email,
                preferences: c.preferences,
                notes: c.notes,
            }),
            _ => return Err(ApiError::field("customer", "send exactly one of `customer_id` or `customer`")),
        };
        Ok(NewJob {
            id: req.id.unwrap_or_else(uuid::Uuid::now_v7),
            customer,
            site: Site { address: req.site.address, postcode: req.site.postcode, notes: req.site.notes },
            technician: req.technician,
            checklist_key: req.checklist_key,
            scheduled_for: req.scheduled_for.trunc_subsecs(6),
        })
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct JobResponse {
    id: String,
    customer: CustomerSummary,
    site: SiteResponse,
    technician: String,
    checklist_key: String,
    checklist_version: i32,
    checklist_url: String,
    scheduled_for: DateTime<Utc>,
    status: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct CustomerSummary {
    id: String,
    name: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct SiteResponse {
    address: String,
    postcode: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    notes: Option<String>,
}

impl From<JobView> for JobResponse {
    fn from(view: JobView) -> Self {
        let job = view.job;
        Self {
            checklist_url: format!("/v1/checklists/{}/versions/{}", job.checklist_key, job.checklist_version),
            id: job.id,
            customer: CustomerSummary { id: job.customer_id, name: view.customer_name },
            site: SiteResponse { address: job.site_address, postcode: job.site_postcode, notes: job.site_notes },
            technician: view.technician_username,
            checklist_key: job.checklist_key,
            checklist_version: job.checklist_version,
            scheduled_for: job.scheduled_for.and_utc(),
            status: job.status.to_string(),
            created_at: job.created_at.and_utc(),
            updated_at: job.updated_at.and_utc(),
        }
    }
}

/// Issues a job, pinned to the checklist's latest version (dispatcher, admin).
#[utoipa::path(post, path = "/v1/jobs", tag = "jobs", operation_id = "create_job", request_body = CreateJobRequest,
    responses(
        (status = 201, description = "The job, pinned to the checklist's latest version", body = JobResponse,
            headers(("Location" = String, description = "`/v1/jobs/{id}`"))),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
    ))]
pub async fn create(
    state: web::Data<AppState>,
    user: Require<JobIssuers>,
    body: ValidJson<CreateJobRequest>,
) -> Result<HttpResponse, ApiError> {
    let job = NewJob::try_from(body.0)?;
    let app = state.clone();
    let actor = Actor::from(&*user);
    let view = state.db.run(move |conn| workflows::jobs::create(conn, job, &actor, app.clock.now())).await?;
    let response = JobResponse::from(view);
    Ok(HttpResponse::Created().insert_header((header::LOCATION, format!("/v1/jobs/{}", response.id))).json(response))
}

/// One job; technicians see their own only (others answer 404).
#[utoipa::path(get, path = "/v1/jobs/{job_id}", tag = "jobs", operation_id = "get_job",
    params(("job_id" = Uuid, Path, description = "The job")),
    responses(
        (status = 200, description = "The job (technicians: their own only)", body = JobResponse),
        (status = 404, response = doc::NotFound),
    ))]
pub async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    job_id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let job_id = job_id.into_inner().to_string();
    let view = state.db.query(move |conn| db::jobs::find_view(conn, &job_id)).await?;
    let view = visible_to(&user, view).ok_or_else(|| ApiError::NotFound("no such job".to_owned()))?;
    Ok(HttpResponse::Ok().json(JobResponse::from(view)))
}

/// A technician sees only the jobs assigned to them; others' jobs answer 404, as if absent.
pub fn visible_to(user: &AuthUser, view: Option<JobView>) -> Option<JobView> {
    view.filter(|v| user.role != Role::Technician || v.job.technician_id == user.id)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SyncQuery {
    /// The `next_cursor` of the previous response; absent for everything.
    since: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct JobPage {
    items: Vec<JobResponse>,
    next_cursor: String,
}

/// The technician's jobs created or changed after `since` (sync), 100 per page.
#[utoipa::path(get, path = "/v1/me/jobs", tag = "jobs", params(SyncQuery),
    responses(
        (status = 200, description = "The technician's jobs created or changed after the cursor, 100 per page",
            body = JobPage),
        (status = 403, response = doc::Forbidden),
    ))]
pub async fn mine(
    state: web::Data<AppState>,
    user: Require<Technicians>,
    query: Query<SyncQuery>,
) -> Result<HttpResponse, ApiError> {
    let since = match query.0.since.as_deref() {
        None | Some("") => 0,
        Some(cursor) => cursor
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| ApiError::field("since", "must be a `next_cursor` value from an earlier response"))?,
    };
    let technician_id = user.id.clone();
    let views = state.db.query(move |conn| db::jobs::changed_since(conn, &technician_id, since, PAGE_SIZE)).await?;
    let next_cursor = views.last().map_or(since, |v| v.job.change_seq).to_string();
    let items = views.into_iter().map(JobResponse::from).collect();
    Ok(HttpResponse::Ok().json(JobPage { items, next_cursor }))
}
