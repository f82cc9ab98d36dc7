//! `GET /v1/metrics/recovery`: how well failures are recovered, and which checklist items fail most.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::extract::Query;
use super::openapi as doc;
use crate::AppState;
use crate::auth::{IncidentHandlers, Require};
use crate::db;
use crate::domain::metrics::{RecoverySummary, summarise};
use crate::error::ApiError;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MetricsQuery {
    /// 7, 30 or 90 (default 30).
    days: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct FailingItem {
    checklist_key: String,
    item_id: String,
    failures: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
struct RecoveryMetrics {
    window_days: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    /// Ordinary failures' recovery within 24 hours (overall and by grade, technician, checklist).
    recovery: RecoverySummary,
    incidents: i64,
    repeats: i64,
    repeat_rate: Option<f64>,
    /// The checklist items named in most failures: where the checklists need work.
    failing_items: Vec<FailingItem>,
}

#[utoipa::path(get, path = "/v1/metrics/recovery", tag = "recovery", params(MetricsQuery),
    responses(
        (status = 200, description = "How well ordinary failures are recovered", body = RecoveryMetrics),
        (status = 403, response = doc::Forbidden),
    ))]
pub async fn recovery(
    state: web::Data<AppState>,
    _user: Require<IncidentHandlers>,
    query: Query<MetricsQuery>,
) -> Result<HttpResponse, ApiError> {
    let days = query.0.days.unwrap_or(30);
    if ![7, 30, 90].contains(&days) {
        return Err(ApiError::field("days", "one of 7, 30, 90"));
    }
    let app = state.clone();
    let metrics = state
        .db
        .run(move |conn| -> Result<_, ApiError> {
            let to = app.clock.now();
            let from = to - TimeDelta::days(days);
            let records = db::metrics::recovery_records(conn, from.naive_utc())?;
            let (incidents, repeats) = db::metrics::repeat_counts(conn, from.naive_utc())?;
            let failing_items = db::metrics::failing_items(conn, from.naive_utc(), 10)?
                .into_iter()
                .map(|(checklist_key, item_id, failures)| FailingItem { checklist_key, item_id, failures })
                .collect();
            Ok(RecoveryMetrics {
                window_days: days,
                from,
                to,
                recovery: summarise(&records, to.naive_utc()),
                incidents,
                repeats,
                repeat_rate: (incidents > 0).then(|| repeats as f64 / incidents as f64),
                failing_items,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(metrics))
}
