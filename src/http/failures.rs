//! `POST /v1/failures`: technicians and dispatchers report a failure after the fact.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use validator::Validate;

use super::extract::ValidJson;
use super::openapi as doc;
use crate::AppState;
use crate::auth::{FailureReporters, Require};
use crate::domain::severity::{Hazard, Reason, ServiceLoss};
use crate::error::ApiError;
use crate::workflows::Recorded;
use crate::workflows::failures::{FailureOutcome, NewFailure};

#[derive(Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FailureRequest {
    id: uuid::Uuid,
    job_id: uuid::Uuid,
    /// What happened, in the reporter's or the customer's words.
    #[validate(length(min = 1, max = 5000))]
    #[schema(min_length = 1, max_length = 5000)]
    description: String,
    #[serde(default)]
    #[validate(length(max = 200))]
    #[schema(max_items = 200)]
    item_ids: Vec<String>,
    #[serde(default)]
    #[validate(length(max = 10))]
    #[schema(max_items = 10)]
    hazards: Vec<Hazard>,
    #[serde(default)]
    injury: bool,
    #[serde(default)]
    vulnerable_occupant: bool,
    #[validate(nested)]
    service_lost: Option<ServiceLostInput>,
}

#[derive(Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceLostInput {
    /// E.g. `heating`, `hot_water`, `power`, `water`, `gas`, `internet`, `phone`.
    #[validate(length(min = 1, max = 40))]
    #[schema(min_length = 1, max_length = 40)]
    service: String,
    #[validate(range(min = 0.0, max = 8760.0))]
    #[schema(minimum = 0.0, maximum = 8760.0)]
    hours: f64,
}

impl From<FailureRequest> for NewFailure {
    fn from(req: FailureRequest) -> Self {
        Self {
            id: req.id,
            job_id: req.job_id,
            description: req.description.trim().to_owned(),
            item_ids: req.item_ids,
            hazards: req.hazards,
            injury: req.injury,
            vulnerable_occupant: req.vulnerable_occupant,
            service_lost: req
                .service_lost
                .map(|s| ServiceLoss { service: s.service.trim().to_lowercase(), hours: s.hours }),
        }
    }
}

/// The classification as made when the failure was reported (a later re-grade shows on the incident).
#[derive(Serialize, utoipa::ToSchema)]
struct FailureResponse {
    id: String,
    severity: String,
    reasons: Vec<Reason>,
    rules_version: String,
    repeat: bool,
    incident_id: String,
}

impl TryFrom<FailureOutcome> for FailureResponse {
    type Error = ApiError;

    fn try_from(outcome: FailureOutcome) -> Result<Self, ApiError> {
        let incident = outcome.incident;
        Ok(Self {
            id: outcome.failure.id,
            severity: incident.original_severity.to_string(),
            reasons: incident.reasons.to_vec(),
            rules_version: incident.rules_version,
            repeat: incident.is_repeat,
            incident_id: incident.id,
        })
    }
}

/// Reports a failure: graded, with its incident; idempotent on `id`.
#[utoipa::path(post, path = "/v1/failures", tag = "incidents", operation_id = "report_failure",
    request_body = FailureRequest,
    responses(
        (status = 201, description = "Graded, with its incident", body = FailureResponse),
        (status = 200, description = "A retry with the same id and body: the original", body = FailureResponse),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
    ))]
pub async fn create(
    state: web::Data<AppState>,
    user: Require<FailureReporters>,
    body: ValidJson<FailureRequest>,
) -> Result<HttpResponse, ApiError> {
    let new = NewFailure::from(body.0);
    let user = crate::workflows::Actor::from(&*user);
    let app = state.clone();
    let recorded = state
        .db
        .run(move |conn| crate::workflows::failures::report(conn, app.context(), new, &user, app.clock.now()))
        .await?;
    Ok(match recorded {
        Recorded::Created(outcome) => HttpResponse::Created().json(FailureResponse::try_from(outcome)?),
        Recorded::Replayed(outcome) => HttpResponse::Ok().json(FailureResponse::try_from(outcome)?),
    })
}
