//! The safety audit: the queue of safety-critical incidents not yet audited, the audit file a
//! safety officer judges an incident from, and recording the audit.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use validator::Validate;

use super::make_safe::{VisitResponse, visit_responses};
use super::only;
use super::retraining::{RetrainingResponse, retraining_responses};
use crate::AppState;
use crate::auth::{Require, SafetyOfficers, SafetyReaders};
use crate::db;
use crate::db::safety::AuditFileRows;
use crate::domain::safety::RootCause;
use crate::domain::severity::Severity;
use crate::error::ApiError;
use crate::http::extract::ValidJson;
use crate::http::incidents::{
    IncidentResponse, expected, response as incident_response, responses as incident_responses,
};
use crate::http::openapi as doc;
use crate::http::page::Items;
use crate::workflows::safety::AuditRecord;
use crate::workflows::{self, Actor};

/// Safety-critical incidents not yet audited, oldest first.
#[utoipa::path(get, path = "/v1/safety/audit-queue", tag = "safety",
    responses(
        (status = 200, description = "Safety-critical incidents not yet audited, oldest first",
            body = Items<IncidentResponse>),
        (status = 403, response = doc::Forbidden),
    ))]
pub async fn audit_queue(state: web::Data<AppState>, _user: Require<SafetyReaders>) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let items = state
        .db
        .run(move |conn| {
            let rows = db::safety::unaudited_safety_critical(conn)?;
            incident_responses(conn, rows, now)
        })
        .await?;
    Ok(HttpResponse::Ok().json(Items { items }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct AuditFile {
    incident: IncidentResponse,
    failure: serde_json::Value,
    /// The sign-off as answered (the one that failed, or the job's latest).
    signoff: Option<serde_json::Value>,
    /// The checklist version the job was pinned to, as served to the app.
    checklist: serde_json::Value,
    make_safe: Option<VisitResponse>,
    technician_history: TechnicianHistory,
    audit: Option<serde_json::Value>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct TechnicianHistory {
    earlier_incidents: Vec<serde_json::Value>,
    retraining: Vec<RetrainingResponse>,
    disciplinary_outcomes: Vec<serde_json::Value>,
}

/// Everything a safety officer needs to judge an incident, in one response.
#[utoipa::path(get, path = "/v1/incidents/{id}/audit-file", tag = "safety",
    params(("id" = Uuid, Path, description = "The incident")),
    responses(
        (status = 200, description = "Everything needed to judge the incident", body = AuditFile),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
    ))]
pub async fn audit_file(
    state: web::Data<AppState>,
    _user: Require<SafetyReaders>,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (id, app) = (id.into_inner().to_string(), state.clone());
    let file = state
        .db
        .run(move |conn| -> Result<_, ApiError> {
            let now = app.clock.now();
            let AuditFileRows {
                incident,
                failure,
                job,
                signoff,
                make_safe,
                earlier_incidents,
                retraining,
                decided_cases,
                audit,
                auditor,
            } = db::safety::audit_file(conn, &id)?.ok_or_else(|| ApiError::NotFound(format!("no incident {id}")))?;
            let signoff = signoff
                .map(|row| -> Result<serde_json::Value, ApiError> {
                    Ok(serde_json::json!({
                        "id": row.id, "signed_at": row.signed_at.and_utc(), "received_at": row.received_at.and_utc(),
                        "signer_name": row.signer_name, "meaning": row.meaning, "content_hash": row.content_hash,
                        "answers": *row.answers,
                        "failed_items": *row.failed_items,
                    }))
                })
                .transpose()?;
            let version = u32::try_from(job.checklist_version).map_err(anyhow::Error::from)?;
            let pinned = app
                .catalogue
                .version(conn, &job.checklist_key, version)?
                .ok_or_else(|| ApiError::NotFound("no checklist".to_owned()))?;
            let checklist: serde_json::Value = serde_json::from_slice(&pinned.body).map_err(anyhow::Error::from)?;
            let make_safe = make_safe.map(|v| visit_responses(conn, vec![v], now).and_then(only)).transpose()?;
            let earlier_incidents = earlier_incidents
                .into_iter()
                .map(|i| serde_json::json!({ "id": i.id, "severity": i.severity, "checklist_key": i.checklist_key, "reported_at": i.reported_at.and_utc(), "repeat": i.is_repeat }))
                .collect();
            let retraining = retraining_responses(conn, retraining)?;
            let disciplinary_outcomes = decided_cases
                .into_iter()
                .map(|c| serde_json::json!({ "case_id": c.id, "incident_id": c.incident_id, "outcome": c.outcome, "behaviour": c.behaviour }))
                .collect();
            let audit = audit
                .map(|a| -> Result<serde_json::Value, ApiError> {
                    Ok(serde_json::json!({
                        "auditor": auditor, "confirmed_severity": a.confirmed_severity,
                        "root_cause": a.root_cause, "root_cause_detail": a.root_cause_detail,
                        "corrective_actions": *a.corrective_actions, "recorded_at": a.recorded_at.and_utc(),
                    }))
                })
                .transpose()?;
            let failure = serde_json::json!({
                "id": failure.id, "source": failure.source, "description": failure.description,
                "item_ids": *failure.item_ids, "hazards": *failure.hazards,
                "injury": failure.injury, "vulnerable_occupant": failure.vulnerable_occupant,
                "service_lost": failure.service_lost.as_deref(),
                "reported_at": failure.reported_at.and_utc(),
            });
            Ok(AuditFile {
                incident: incident_response(conn, incident, now)?,
                failure,
                signoff,
                checklist,
                make_safe,
                technician_history: TechnicianHistory { earlier_incidents, retraining, disciplinary_outcomes },
                audit,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(file))
}

/// A recorded safety audit (fields in the order they have always been sent).
#[derive(Serialize, utoipa::ToSchema)]
struct AuditRecorded {
    confirmed_severity: String,
    id: String,
    incident_id: String,
    recorded_at: DateTime<Utc>,
    root_cause: String,
}

#[derive(Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditRequest {
    confirmed_severity: Severity,
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    regrade_reason: Option<String>,
    root_cause: RootCause,
    #[validate(length(min = 1, max = 5000))]
    #[schema(min_length = 1, max_length = 5000)]
    root_cause_detail: String,
    #[serde(default)]
    #[validate(length(max = 20))]
    #[schema(max_items = 20)]
    corrective_actions: Vec<String>,
}

/// Records the safety audit of an incident, once (`If-Match`).
#[utoipa::path(post, path = "/v1/incidents/{id}/audit", tag = "safety", request_body = AuditRequest,
    params(("id" = Uuid, Path, description = "The incident"), doc::IfMatch),
    responses(
        (status = 201, description = "The audit, recorded once per incident", body = AuditRecorded),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
        (status = 412, response = doc::PreconditionFailed),
        (status = 428, response = doc::PreconditionRequired),
    ))]
pub async fn record_audit(
    state: web::Data<AppState>,
    user: Require<SafetyOfficers>,
    req: HttpRequest,
    id: web::Path<uuid::Uuid>,
    body: ValidJson<AuditRequest>,
) -> Result<HttpResponse, ApiError> {
    let expected = expected(&req)?;
    let b = body.0;
    if b.corrective_actions.iter().any(|a| a.trim().is_empty() || a.len() > 1000) {
        return Err(ApiError::field("corrective_actions", "each action is 1 to 1000 characters"));
    }
    let record = AuditRecord {
        confirmed_severity: b.confirmed_severity,
        regrade_reason: b.regrade_reason,
        root_cause: b.root_cause,
        root_cause_detail: b.root_cause_detail,
        corrective_actions: b.corrective_actions,
    };
    let (id, actor, app) = (id.into_inner().to_string(), Actor::from(&*user), state.clone());
    let row = state
        .db
        .run(move |conn| {
            workflows::safety::record_audit(conn, app.context(), &id, record, &expected, &actor, app.clock.now())
        })
        .await?;
    Ok(HttpResponse::Created().json(AuditRecorded {
        confirmed_severity: row.confirmed_severity.to_string(),
        id: row.id,
        incident_id: row.incident_id,
        recorded_at: row.recorded_at.and_utc(),
        root_cause: row.root_cause.to_string(),
    }))
}
