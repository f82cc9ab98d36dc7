//! Retraining assignments: who must be retrained on what, and recording that it was given.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use validator::Validate;

use super::{Names, only};
use crate::AppState;
use crate::auth::{AuthUser, Require, Role, SafetyOfficers};
use crate::db::safety::RetrainingRow;
use crate::db::{self, DbConnection};
use crate::error::ApiError;
use crate::http::extract::ValidJson;
use crate::http::openapi as doc;
use crate::http::page::Items;
use crate::workflows::{self, Actor};

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

pub(super) fn retraining_responses(
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
