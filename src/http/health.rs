//! Liveness and readiness probes for load balancers and orchestrators (no auth).

use actix_web::{HttpResponse, web};
use diesel::connection::SimpleConnection;
use serde::Serialize;

use super::openapi as doc;
use crate::AppState;
use crate::error::ApiError;

#[derive(Serialize, utoipa::ToSchema)]
struct Status {
    status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", security(()),
    responses(
        (status = 200, description = "The process is up", body = inline(Status), example = json!({"status": "ok"})),
    ))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Status { status: "ok" })
}

/// The database answers.
#[utoipa::path(get, path = "/readyz", tag = "health", security(()),
    responses(
        (status = 200, description = "The database answers", body = inline(Status),
            example = json!({"status": "ready"})),
        (status = 503, response = doc::Unavailable),
    ))]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.db.run(|conn| conn.batch_execute("SELECT 1").map_err(|e| ApiError::Unavailable(e.to_string()))).await?;
    Ok(HttpResponse::Ok().json(Status { status: "ready" }))
}
