//! Sign-offs: the assigned technician's attested answers, accepted once, never changed.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use validator::Validate;

use super::auth;
use super::extract::ValidJson;
use super::jobs::visible_to;
use super::openapi as doc;
use crate::AppState;
use crate::auth::{AuthUser, Require, Technicians};
use crate::config::SignoffPin;
use crate::db;
use crate::domain::signoff::{Answer, FailedItem};
use crate::error::ApiError;
use crate::workflows::Recorded;
use crate::workflows::signoffs::{NewSignOff, StoredSignOff};

#[derive(Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignOffRequest {
    id: uuid::Uuid,
    #[validate(length(max = 500))]
    #[schema(max_items = 500)]
    answers: Vec<Answer>,
    signed_at: DateTime<Utc>,
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    signer_name: String,
    /// What the signature attests, e.g. "I carried out this work and the readings are true".
    #[validate(length(min = 1, max = 500))]
    #[schema(min_length = 1, max_length = 500)]
    meaning: String,
    /// The technician's sign-off PIN (4 to 8 digits): required when the service runs with
    /// `FIELDPROOF_SIGNOFF_PIN=required`, else optional. Checked, never stored; a sign-off that
    /// carries the right one is recorded as `reauthenticated`.
    #[validate(custom(function = "super::auth::well_formed_pin"))]
    #[schema(pattern = "^[0-9]{4,8}$", example = "482913")]
    #[serde(default)]
    pin: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SignOffResponse {
    id: String,
    job_id: String,
    technician_id: String,
    checklist_key: String,
    checklist_version: i32,
    signed_at: DateTime<Utc>,
    received_at: DateTime<Utc>,
    signer_name: String,
    meaning: String,
    content_hash: String,
    /// The signer re-authenticated with their sign-off PIN (21 CFR 11.200).
    reauthenticated: bool,
    answers: Vec<Answer>,
    failed_items: Vec<FailedItem>,
    /// The incident opened by the failed items.
    #[serde(skip_serializing_if = "Option::is_none")]
    incident_id: Option<String>,
}

impl TryFrom<StoredSignOff> for SignOffResponse {
    type Error = ApiError;

    fn try_from(StoredSignOff { row, incident_id }: StoredSignOff) -> Result<Self, ApiError> {
        Ok(Self {
            incident_id,
            answers: row.answers.to_vec(),
            failed_items: row.failed_items.to_vec(),
            id: row.id,
            job_id: row.job_id,
            technician_id: row.technician_id,
            checklist_key: row.checklist_key,
            checklist_version: row.checklist_version,
            signed_at: row.signed_at.and_utc(),
            received_at: row.received_at.and_utc(),
            signer_name: row.signer_name,
            meaning: row.meaning,
            content_hash: row.content_hash,
            reauthenticated: row.reauthenticated,
        })
    }
}

/// Signs off a job (the assigned technician); a retry with the same id and body returns the original.
/// With a PIN (required under `FIELDPROOF_SIGNOFF_PIN=required`), the PIN is checked first, throttled
/// like sign-ins, and the sign-off is recorded as re-authenticated.
#[utoipa::path(post, path = "/v1/jobs/{job_id}/signoffs", tag = "sign-offs", operation_id = "sign_off",
    request_body = SignOffRequest, params(("job_id" = Uuid, Path, description = "The job")),
    responses(
        (status = 201, description = "Accepted", body = SignOffResponse),
        (status = 200, description = "A retry with the same id and body: the original", body = SignOffResponse),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
        (status = 429, response = doc::TooManyRequests),
    ))]
pub async fn create(
    state: web::Data<AppState>,
    http: HttpRequest,
    user: Require<Technicians>,
    job_id: web::Path<uuid::Uuid>,
    body: ValidJson<SignOffRequest>,
) -> Result<HttpResponse, ApiError> {
    let user = user.0;
    let ValidJson(req) = body;
    let reauthenticated = match (req.pin, state.settings.signoff_pin) {
        (Some(pin), _) => match auth::reauthenticate(&state, &user, pin, http.peer_addr().map(|a| a.ip())).await? {
            Ok(()) => true,
            Err(locked) => return Ok(auth::too_many(locked, "sign-off PINs")),
        },
        (None, SignoffPin::Required) => {
            return Err(ApiError::field("pin", "required: this service re-authenticates every sign-off with your PIN"));
        }
        (None, SignoffPin::Optional) => false,
    };
    let new = NewSignOff {
        id: req.id,
        job_id: job_id.into_inner(),
        answers: req.answers,
        // why: PostgreSQL keeps microseconds; trimming here makes a replay answer byte-identical.
        signed_at: req.signed_at.trunc_subsecs(6),
        signer_name: req.signer_name.trim().to_owned(),
        meaning: req.meaning.trim().to_owned(),
        reauthenticated,
    };
    let (user, app) = (crate::workflows::Actor::from(&user), state.clone());
    let recorded = state
        .db
        .run(move |conn| crate::workflows::signoffs::record(conn, app.context(), new, &user, app.clock.now()))
        .await?;
    let (mut response, stored) = match recorded {
        Recorded::Created(stored) => (HttpResponse::Created(), stored),
        Recorded::Replayed(stored) => (HttpResponse::Ok(), stored),
    };
    Ok(response.json(SignOffResponse::try_from(stored)?))
}

#[derive(Serialize, utoipa::ToSchema)]
struct SignOffList {
    items: Vec<SignOffResponse>,
}

/// The job's sign-offs, in the order received.
#[utoipa::path(get, path = "/v1/jobs/{job_id}/signoffs", tag = "sign-offs", operation_id = "list_signoffs",
    params(("job_id" = Uuid, Path, description = "The job")),
    responses(
        (status = 200, description = "The job's sign-offs in the order received", body = SignOffList),
        (status = 404, response = doc::NotFound),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    job_id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let job_id = job_id.into_inner().to_string();
    let (view, rows) = state
        .db
        .run(move |conn| -> Result<_, ApiError> {
            let view = db::jobs::find_view(conn, &job_id)?;
            let rows = if view.is_some() { db::signoffs::for_job(conn, &job_id)? } else { Vec::new() };
            let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
            let incidents = db::incidents::for_signoffs(conn, &ids)?;
            let stored = rows
                .into_iter()
                .map(|row| {
                    let incident_id = incidents.iter().find(|(s, _)| *s == row.id).map(|(_, i)| i.clone());
                    StoredSignOff { row, incident_id }
                })
                .collect::<Vec<_>>();
            Ok((view, stored))
        })
        .await?;
    visible_to(&user, view).ok_or_else(|| ApiError::NotFound("no such job".to_owned()))?;
    let items = rows.into_iter().map(SignOffResponse::try_from).collect::<Result<_, _>>()?;
    Ok(HttpResponse::Ok().json(SignOffList { items }))
}
