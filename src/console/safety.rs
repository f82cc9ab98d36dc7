//! The safety officer's page: the audit queue, the audit file of one incident with the audit form,
//! retraining with its gate state and "training done", and the disciplinary cases.

use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;
use serde::Deserialize;

use super::layout::{self, countdown, csrf, severity_label, when};
use super::{ConsoleError, Flash, Staff, after_action};
use crate::AppState;
use crate::auth::Role;
use crate::db::incidents::IncidentRow;
use crate::db::safety::{DisciplinaryRow, RetrainingRow};
use crate::db::{self, DbConnection};
use crate::domain::safety::RootCause;
use crate::domain::severity::Severity;
use crate::workflows::incidents::Expected;
use crate::workflows::safety::{AuditRecord, GATING};
use crate::workflows::{self, Context};

const READERS: [Role; 2] = [Role::SafetyOfficer, Role::Admin];

struct SafetyView {
    queue: Vec<IncidentRow>,
    retraining: Vec<(RetrainingRow, String)>,
    cases: Vec<(DisciplinaryRow, String)>,
    audit: Option<super::incidents::IncidentFile>,
}

fn load(conn: &mut DbConnection, ctx: Context<'_>, audit: Option<&str>) -> Result<SafetyView, ConsoleError> {
    let queue = db::safety::unaudited_safety_critical(conn)?;
    let users = db::users::list(conn)?;
    let name = |id: &str| users.iter().find(|u| u.id == id).map(|u| u.username.clone()).unwrap_or_default();
    let retraining = db::safety::retraining_list(conn, None)?
        .into_iter()
        .map(|r| {
            let n = name(&r.technician_id);
            (r, n)
        })
        .collect();
    let cases = db::safety::cases(conn, None)?
        .into_iter()
        .map(|c| {
            let n = name(&c.technician_id);
            (c, n)
        })
        .collect();
    let audit = audit.map(|id| super::incidents::load(conn, ctx, id)).transpose()?;
    Ok(SafetyView { queue, retraining, cases, audit })
}

#[derive(Deserialize)]
pub struct SafetyQuery {
    audit: Option<uuid::Uuid>,
}

/// `GET /console/safety[?audit={incident}]`
pub async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    staff: Staff,
    query: web::Query<SafetyQuery>,
) -> Result<HttpResponse, ConsoleError> {
    staff.require(&READERS)?;
    let (audit, app) = (query.into_inner().audit.map(|a| a.to_string()), state.clone());
    let view = state.db.run(move |conn| load(conn, app.context(), audit.as_deref())).await?;
    let now = state.clock.now();
    let officer = staff.is(&[Role::SafetyOfficer]);
    let body = html! {
        h1 { "Safety" }
        @if let Some(file) = &view.audit {
            section class="card" aria-labelledby="audit-file" {
                h2 id="audit-file" { "Audit file: " a href={ "/console/incidents/" (file.incident.id) } { (severity_label(&file.incident.severity)) " incident" } }
                blockquote { (file.note) }
                dl class="facts" {
                    dt { "Technician" } dd { (file.technician) }
                    dt { "Checklist" } dd { (file.incident.checklist_key) }
                    dt { "Reported" } dd { (when(file.incident.reported_at)) }
                    @if let Some(visit) = &file.visit { dt { "Make-safe visit" } dd { (visit.status) } }
                    @if let Some(r) = &file.retraining { dt { "Retraining" } dd { (r.status) } }
                }
                @if officer {
                    form method="post" action={ "/console/incidents/" (file.incident.id) "/audit" } {
                        (csrf(&staff))
                        input type="hidden" name="revision" value=(file.incident.revision);
                        label for="confirmed" { "Confirmed grade" }
                        select id="confirmed" name="confirmed_severity" {
                            @for severity in [Severity::SafetyCritical, Severity::ServiceImpacting, Severity::Nuisance] {
                                option value=(severity.as_str()) selected[severity.as_str() == file.incident.severity] { (severity_label(severity.as_str())) }
                            }
                        }
                        label for="regrade-reason" { "Reason, if you change the grade" }
                        input id="regrade-reason" name="regrade_reason" type="text";
                        label for="root-cause" { "Root cause" }
                        select id="root-cause" name="root_cause" {
                            @for (value, label) in ROOT_CAUSES { option value=(value) { (label) } }
                        }
                        label for="root-cause-detail" { "What happened, and why" }
                        textarea id="root-cause-detail" name="root_cause_detail" required {}
                        label for="corrective" { "Corrective actions, one per line" }
                        textarea id="corrective" name="corrective_actions" required {}
                        button type="submit" { "Record the audit" }
                    }
                }
            }
        }
        section class="card" aria-labelledby="audit-queue" {
            h2 id="audit-queue" { "Audit queue" }
            @if view.queue.is_empty() {
                p class="muted" { "No safety-critical incident waits for an audit." }
            } @else {
                table {
                    thead { tr { th scope="col" { "Incident" } th scope="col" { "Checklist" } th scope="col" { "Reported" } th scope="col" { "" } } }
                    tbody {
                        @for incident in &view.queue {
                            tr {
                                td { a href={ "/console/incidents/" (incident.id) } { (incident.id.get(..8).unwrap_or_default()) } }
                                td { (incident.checklist_key) }
                                td { (when(incident.reported_at)) }
                                td { a href={ "/console/safety?audit=" (incident.id) } { "Audit" } }
                            }
                        }
                    }
                }
            }
        }
        section class="card" aria-labelledby="retraining" {
            h2 id="retraining" { "Retraining" }
            table {
                thead { tr { th scope="col" { "Technician" } th scope="col" { "Checklist" } th scope="col" { "Gate" } th scope="col" { "Due" } th scope="col" { "" } } }
                tbody {
                    @for (r, technician) in &view.retraining {
                        tr {
                            td { (technician) }
                            td { (r.checklist_key) }
                            td { (r.status) @if GATING.contains(&r.status.as_str()) { br; span class="muted" { "no jobs on this checklist until trained" } } }
                            td { @if r.status == "pending" { (countdown(r.due_at, now, chrono::TimeDelta::days(1))) } }
                            td {
                                @if officer && GATING.contains(&r.status.as_str()) {
                                    form method="post" action={ "/console/retraining/" (r.id) "/done" } {
                                        (csrf(&staff))
                                        label for={ "note-" (r.id) } { "How the training was done" }
                                        input id={ "note-" (r.id) } name="note" type="text" required;
                                        button type="submit" class="secondary" { "Training done" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section class="card" aria-labelledby="cases" {
            h2 id="cases" { "Disciplinary cases" }
            @if view.cases.is_empty() { p class="muted" { "None." } }
            ul { @for (case, technician) in &view.cases { li { (technician) ": " (case.status) @if let Some(outcome) = &case.outcome { " · " (outcome) } } } }
        }
    };
    Ok(super::page(&req, layout::shell(&staff, "Safety", Flash::read(&req), body)))
}

const ROOT_CAUSES: [(&str, &str); 9] = [
    ("procedure_not_followed", "Procedure not followed"),
    ("checklist_unclear", "Checklist unclear"),
    ("checklist_missing_item", "Checklist missing an item"),
    ("training_gap", "Training gap"),
    ("equipment_fault", "Equipment fault"),
    ("time_pressure", "Time pressure"),
    ("parts_or_materials", "Parts or materials"),
    ("communication", "Communication"),
    ("other", "Other"),
];

#[derive(Deserialize)]
pub struct AuditForm {
    csrf: String,
    revision: i64,
    confirmed_severity: Severity,
    regrade_reason: Option<String>,
    root_cause: RootCause,
    root_cause_detail: String,
    corrective_actions: String,
}

/// `POST /console/incidents/{id}/audit`
pub async fn record_audit(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<uuid::Uuid>,
    form: web::Form<AuditForm>,
) -> Result<HttpResponse, ConsoleError> {
    staff.check(&form.csrf)?;
    staff.require(&[Role::SafetyOfficer])?;
    let form = form.into_inner();
    let record = AuditRecord {
        confirmed_severity: form.confirmed_severity,
        regrade_reason: form.regrade_reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty()),
        root_cause: form.root_cause,
        root_cause_detail: form.root_cause_detail.trim().to_owned(),
        corrective_actions: form
            .corrective_actions
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    let (id, app, actor) = (id.into_inner().to_string(), state.clone(), staff.actor());
    let location = format!("/console/safety?audit={id}");
    let expected = Expected::Revisions(vec![form.revision]);
    let result = state
        .db
        .run(move |conn| {
            workflows::safety::record_audit(conn, app.context(), &id, record, &expected, &actor, app.clock.now())
        })
        .await;
    after_action(&state, &location, "Audit recorded.", result)
}

#[derive(Deserialize)]
pub struct TrainingForm {
    csrf: String,
    note: String,
}

/// `POST /console/retraining/{id}/done`
pub async fn training_done(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<uuid::Uuid>,
    form: web::Form<TrainingForm>,
) -> Result<HttpResponse, ConsoleError> {
    staff.check(&form.csrf)?;
    staff.require(&[Role::SafetyOfficer])?;
    let (id, app, actor, note) = (id.into_inner().to_string(), state.clone(), staff.actor(), form.into_inner().note);
    let result = state
        .db
        .run(move |conn| workflows::safety::record_training(conn, &id, note.trim(), &actor, app.clock.now()))
        .await;
    after_action(&state, "/console/safety", "Training recorded.", result)
}
