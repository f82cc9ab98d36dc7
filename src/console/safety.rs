//! The safety officer's page: the audit queue, the audit file of one incident with the audit form,
//! retraining with its gate state and "training done", and the disciplinary cases.

use crate::domain::disciplinary::CaseStatus;
use crate::domain::retraining::RetrainingStatus;
use crate::domain::safety::Behaviour;
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
use crate::workflows::safety::{AuditRecord, CaseStep};
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
                h2 id="audit-file" { "Audit file: " a href={ "/console/incidents/" (file.incident.id) } { (severity_label(file.incident.severity.as_str())) " incident" } }
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
                                option value=(severity.as_str()) selected[severity == file.incident.severity] { (severity_label(severity.as_str())) }
                            }
                        }
                        label for="regrade-reason" { "Reason, if you change the grade" }
                        input id="regrade-reason" name="regrade_reason" type="text";
                        label for="root-cause" { "Root cause" }
                        select id="root-cause" name="root_cause" {
                            @for (value, label) in layout::ROOT_CAUSES { option value=(value) { (label) } }
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
                            td { (r.status) @if r.status.gates() { br; span class="muted" { "no jobs on this checklist until trained" } } }
                            td { @if r.status == RetrainingStatus::Pending { (countdown(r.due_at, now, chrono::TimeDelta::days(1))) } }
                            td {
                                @if officer && r.status.gates() {
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
            ul { @for (case, technician) in &view.cases { li { a href={ "/console/cases/" (case.id) } { (technician) } ": " (case.status) @if let Some(outcome) = &case.outcome { " · " (outcome) } } } }
        }
    };
    Ok(super::page(&req, layout::shell(&staff, "Safety", Flash::read(&req), body)))
}

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

const BEHAVIOURS: [(&str, &str, &str); 3] = [
    ("human_error", "Human error", "an honest slip, lapse or mistake: console the person, fix the system"),
    ("at_risk", "At-risk behaviour", "a shortcut taken without seeing the risk: coach"),
    ("reckless", "Reckless behaviour", "conscious disregard of a substantial risk: sanction"),
];

const SYSTEM_FACTORS: [(&str, &str); 7] = [
    ("unclear_checklist_item", "Unclear checklist item"),
    ("missing_tool", "Missing tool"),
    ("time_pressure", "Time pressure"),
    ("missing_information", "Missing information"),
    ("faulty_equipment", "Faulty equipment"),
    ("inadequate_training", "Inadequate training"),
    ("other", "Other"),
];

const OUTCOMES: [(&str, &str); 6] = [
    ("no_action", "No action"),
    ("coaching", "Coaching"),
    ("verbal_warning", "Verbal warning"),
    ("written_warning", "Written warning"),
    ("skill_suspension", "Skill suspension"),
    ("hr_referral", "HR referral"),
];

/// `GET /console/cases/{id}`: the just-culture form, in order: behaviour, then the system's part,
/// then the decision; the technician's statement; and the second approval when it is needed.
pub async fn case_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    staff: Staff,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ConsoleError> {
    staff.require(&READERS)?;
    let id = id.into_inner().to_string();
    let (case, names) = state
        .db
        .run(move |conn| -> Result<_, ConsoleError> {
            let case = db::safety::case(conn, &id)?.ok_or(ConsoleError::NotFound)?;
            let ids: Vec<&str> =
                [Some(case.technician_id.as_str()), case.proposed_by.as_deref(), case.approved_by.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect();
            let names = db::users::usernames(conn, &ids)?;
            Ok((case, names))
        })
        .await?;
    let name = |id: &Option<String>| id.as_ref().and_then(|id| names.get(id).cloned()).unwrap_or_default();
    let factors: Vec<&str> = case.system_factors.iter().map(|f| f.as_str()).collect();
    let officer = staff.is(&[Role::SafetyOfficer]);
    let action = |step: &str| format!("/console/cases/{}/{step}", case.id);
    let body = html! {
        p { a href="/console/safety" { "← Safety" } " · " a href={ "/console/incidents/" (case.incident_id) } { "the incident" } }
        h1 { "Disciplinary review" }
        dl class="facts" {
            dt { "Technician" } dd { (name(&Some(case.technician_id.clone()))) }
            dt { "Status" } dd { (case.status) }
            dt { "Behaviour" } dd { (case.behaviour.map_or("not yet reviewed", Behaviour::as_str)) }
            dt { "System factors" } dd { @if factors.is_empty() { "none recorded" } @else { (factors.join(", ")) } }
            @if let Some(outcome) = &case.outcome {
                dt { "Outcome" } dd { (outcome) ": " (case.outcome_reason.as_deref().unwrap_or_default()) }
                dt { "Proposed by" } dd { (name(&case.proposed_by)) }
            }
            @if case.approved_by.is_some() { dt { "Approved by" } dd { (name(&case.approved_by)) } }
        }
        section class="card" aria-labelledby="statement" {
            h2 id="statement" { "The technician's statement" }
            @match &case.technician_statement {
                Some(text) => blockquote { (text) },
                None => p class="muted" { "None yet: the technician adds it in the app before the decision." },
            }
        }
        @if officer && (case.status == CaseStatus::Open || case.status == CaseStatus::UnderReview) {
            section class="card" aria-labelledby="review" {
                h2 id="review" { "1. Behaviour, then 2. the system's part" }
                form method="post" action=(action("review")) {
                    (csrf(&staff))
                    fieldset {
                        legend { "What kind of behaviour was it?" }
                        @for (n, (value, label, hint)) in BEHAVIOURS.iter().enumerate() {
                            div {
                                input type="radio" name="behaviour" id={ "behaviour-" (n) } value=(value) required checked[case.behaviour.map(Behaviour::as_str) == Some(*value)];
                                label class="inline" for={ "behaviour-" (n) } { strong { (label) } ": " (hint) }
                            }
                        }
                    }
                    fieldset {
                        legend { "How did the system contribute?" }
                        @for (n, (value, label)) in SYSTEM_FACTORS.iter().enumerate() {
                            div {
                                input type="checkbox" name="system_factors" id={ "factor-" (n) } value=(value) checked[factors.iter().any(|f| f == value)];
                                label class="inline" for={ "factor-" (n) } { (label) }
                            }
                        }
                    }
                    button type="submit" { "Record the review" }
                }
            }
        }
        @if officer && case.status == CaseStatus::UnderReview {
            section class="card" aria-labelledby="decide" {
                h2 id="decide" { "3. The decision" }
                form method="post" action=(action("decide")) {
                    (csrf(&staff))
                    label for="outcome" { "Outcome" }
                    select id="outcome" name="outcome" { @for (value, label) in OUTCOMES { option value=(value) { (label) } } }
                    label for="outcome-reason" { "Reason" }
                    textarea id="outcome-reason" name="reason" required {}
                    button type="submit" { "Decide" }
                }
            }
        }
        @if officer && case.status == CaseStatus::AwaitingApproval {
            section class="card" aria-labelledby="approve" {
                h2 id="approve" { "Second approval" }
                p { "This outcome is out of line with the behaviour recorded; a second safety officer must approve it." }
                form method="post" action=(action("approve")) { (csrf(&staff)) button type="submit" { "Approve the outcome" } }
            }
        }
    };
    Ok(super::page(&req, layout::shell(&staff, "Disciplinary review", Flash::read(&req), body)))
}

/// One of a form's options, as its snake_case name.
fn parse<T: serde::de::DeserializeOwned>(name: &str, value: Option<String>) -> Result<T, workflows::Error> {
    serde_json::from_value(serde_json::Value::String(value.unwrap_or_default()))
        .map_err(|_| workflows::Error::field(name, "choose one of the options"))
}

/// `POST /console/cases/{id}/{review|decide|approve}`. The form is read as pairs because the
/// system factors are a repeated field.
pub async fn case_step(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(uuid::Uuid, String)>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, ConsoleError> {
    let fields = form.into_inner();
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    staff.check(&field("csrf").unwrap_or_default())?;
    staff.require(&[Role::SafetyOfficer])?;
    let (id, step) = path.into_inner();
    let step = match step.as_str() {
        "review" => parse("behaviour", field("behaviour")).and_then(|behaviour| {
            let factors: Result<Vec<_>, _> = fields
                .iter()
                .filter(|(k, _)| k == "system_factors")
                .map(|(_, v)| parse("system_factors", Some(v.clone())))
                .collect();
            Ok(CaseStep::Review { behaviour, system_factors: factors? })
        }),
        "decide" => parse("outcome", field("outcome")).and_then(|outcome| {
            let reason = field("reason").unwrap_or_default().trim().to_owned();
            if reason.chars().count() < 10 {
                return Err(workflows::Error::field("reason", "give the reason in at least 10 characters"));
            }
            Ok(CaseStep::Decide { outcome, reason })
        }),
        "approve" => Ok(CaseStep::Approve),
        _ => return Err(ConsoleError::NotFound),
    };
    let (case_id, app, actor) = (id.to_string(), state.clone(), staff.actor());
    let location = format!("/console/cases/{id}");
    let result = match step {
        Ok(step) => {
            state.db.run(move |conn| workflows::safety::case_step(conn, &case_id, step, &actor, app.clock.now())).await
        }
        Err(err) => Err(err),
    };
    after_action(&state, &location, "Recorded.", result)
}
