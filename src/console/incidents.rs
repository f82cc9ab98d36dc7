//! One incident on one page: the report with the words that fired each rule, the sign-off as
//! answered, the pinned checklist, the timeline, and links to what the grade opened. Actions:
//! acknowledge, assign, grade or re-grade, and assign the make-safe visit.

use crate::domain::make_safe::VisitStatus;
use crate::domain::states::IncidentStatus;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{self, countdown, csrf, severity_label, when};
use super::{ConsoleError, Flash, Staff, after_action};
use crate::AppState;
use crate::auth::Role;
use crate::db::audit::AuditEntryRow;
use crate::db::incidents::IncidentRow;
use crate::db::recovery::RecoveryCaseRow;
use crate::db::safety::{DisciplinaryRow, MakeSafeVisitRow, RetrainingRow};
use crate::db::{self, DbConnection};
use crate::domain::checklist::ChecklistVersion;
use crate::domain::severity::{Reason, Severity};
use crate::domain::signoff::{Answer, FailedItem};
use crate::workflows::incidents::{Change, Expected};
use crate::workflows::{self, Context};

const STAFF: [Role; 3] = [Role::Dispatcher, Role::SafetyOfficer, Role::Admin];

/// Everything the incident page shows.
pub(super) struct IncidentFile {
    pub incident: IncidentRow,
    pub note: String,
    pub technician: String,
    pub assignee: Option<String>,
    pub signoff: Option<(Vec<Answer>, Vec<FailedItem>)>,
    pub checklist: Option<std::sync::Arc<crate::catalogue::PublishedVersion>>,
    pub visit: Option<MakeSafeVisitRow>,
    pub recovery: Option<RecoveryCaseRow>,
    pub retraining: Option<RetrainingRow>,
    pub case: Option<DisciplinaryRow>,
    pub timeline: Vec<AuditEntryRow>,
    pub technicians: Vec<String>,
    pub staff: Vec<String>,
}

pub(super) fn load(conn: &mut DbConnection, ctx: Context<'_>, id: &str) -> Result<IncidentFile, ConsoleError> {
    let incident = db::incidents::find(conn, id)?.ok_or(ConsoleError::NotFound)?;
    let failure = db::failures::find(conn, &incident.failure_id)?.ok_or(ConsoleError::NotFound)?;
    let signoff = match &failure.signoff_id {
        Some(signoff_id) => db::signoffs::find(conn, signoff_id)?
            .map(|s| -> anyhow::Result<_> { Ok((s.answers.to_vec(), s.failed_items.to_vec())) })
            .transpose()?,
        None => None,
    };
    let checklist = match db::jobs::find(conn, &incident.job_id)? {
        Some(job) => {
            let version = u32::try_from(job.checklist_version).map_err(anyhow::Error::from)?;
            ctx.catalogue.version(conn, &job.checklist_key, version)?
        }
        None => None,
    };
    let db::incidents::FollowUp { visit, recovery, retraining, case } = db::incidents::follow_up(conn, id)?;
    let mut timeline = db::audit::for_entity(conn, "incident", id)?;
    let related = [
        ("make_safe_visit", visit.as_ref().map(|v| v.id.as_str())),
        ("recovery_case", recovery.as_ref().map(|r| r.id.as_str())),
        ("retraining", retraining.as_ref().map(|r| r.id.as_str())),
        ("disciplinary_case", case.as_ref().map(|c| c.id.as_str())),
    ];
    for (kind, entity) in related {
        if let Some(entity) = entity {
            timeline.extend(db::audit::for_entity(conn, kind, entity)?);
        }
    }
    timeline.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
    let users = db::users::list(conn)?;
    let name_of = |id: &str| users.iter().find(|u| u.id == id).map(|u| u.username.clone());
    let technician = name_of(&incident.technician_id).unwrap_or_default();
    let assignee = incident.assignee_id.as_deref().and_then(name_of);
    let active = |role: Role| users.iter().filter(move |u| u.active && u.role == role).map(|u| u.username.clone());
    let technicians = active(Role::Technician).collect();
    let staff = active(Role::Dispatcher).chain(active(Role::SafetyOfficer)).chain(active(Role::Admin)).collect();
    Ok(IncidentFile {
        note: failure.description,
        incident,
        technician,
        assignee,
        signoff,
        checklist,
        visit,
        recovery,
        retraining,
        case,
        timeline,
        technicians,
        staff,
    })
}

/// `GET /console/incidents/{id}`
pub async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    staff: Staff,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ConsoleError> {
    staff.require(&STAFF)?;
    let (id, app) = (id.into_inner().to_string(), state.clone());
    let file = state.db.run(move |conn| load(conn, app.context(), &id)).await?;
    let now = state.clock.now();
    let title = format!("{} incident", severity_label(file.incident.severity.as_str()));
    let body = html! {
        p { a href="/console/queue" { "← Work queue" } }
        h1 { (title) }
        (summary(&file, now))
        div class="grid" {
            section class="card" aria-labelledby="report" {
                h2 id="report" { "The report" }
                blockquote { (highlighted(&file.note, &reasons(&file.incident))) }
                (reason_list(&file.incident))
            }
            section class="card" aria-labelledby="actions" {
                h2 id="actions" { "Actions" }
                (actions(&staff, &file))
            }
        }
        @if let Some((answers, failed)) = &file.signoff {
            section class="card" aria-labelledby="signoff" {
                h2 id="signoff" { "The sign-off as answered" }
                (signoff_table(answers, failed, file.checklist.as_ref().map(|c| &c.checklist)))
            }
        }
        @if let Some(published) = &file.checklist {
            section class="card" aria-labelledby="checklist" {
                h2 id="checklist" { "Pinned checklist" }
                p { (published.checklist.title) " — " code { (published.checklist.key) " v" (published.checklist.version) } }
            }
        }
        section class="card" aria-labelledby="opened" {
            h2 id="opened" { "What the grade opened" }
            (opened(&staff, &file, now))
        }
        section class="card" aria-labelledby="timeline" {
            h2 id="timeline" { "Timeline" }
            ol class="timeline" {
                @for entry in &file.timeline {
                    li { (when(entry.at)) " — " strong { (entry.action) } " by " (entry.actor) (detail_note(&entry.details)) }
                }
            }
        }
    };
    Ok(super::page(&req, layout::shell(&staff, &title, Flash::read(&req), body)))
}

fn reasons(incident: &IncidentRow) -> Vec<Reason> {
    incident.reasons.to_vec()
}

fn summary(file: &IncidentFile, now: DateTime<Utc>) -> Markup {
    let incident = &file.incident;
    html! {
        dl class="facts" {
            dt { "Grade" }
            dd {
                @if incident.in_triage() {
                    span class="badge triage" { "Waiting for a person to grade it" } " "
                    @if let Some(due) = incident.triage_due_at { (countdown(due, now, chrono::TimeDelta::minutes(5))) }
                } @else {
                    span class={ "badge " (incident.severity) } { (severity_label(incident.severity.as_str())) }
                    @if incident.original_severity != incident.severity {
                        " " span class="muted" { "(the rules said " (severity_label(incident.original_severity.as_str()).to_lowercase()) ")" }
                    }
                }
            }
            dt { "Status" } dd { (incident.status) }
            dt { "Technician" } dd { (file.technician) }
            dt { "Assigned to" } dd { (file.assignee.as_deref().unwrap_or("nobody yet")) }
            dt { "Checklist" } dd { (incident.checklist_key) }
            dt { "Reported" } dd { (when(incident.reported_at)) }
            dt { "Rules" } dd { (incident.rules_version) @if incident.is_repeat { " · repeat" } }
        }
    }
}

/// The note with each rule's evidence marked and the rule named in its title.
fn highlighted(note: &str, reasons: &[Reason]) -> Markup {
    let lower = note.to_lowercase();
    let mut spans: Vec<(usize, usize, &str)> = Vec::new();
    if lower.len() == note.len() {
        for reason in reasons {
            let evidence = quoted(&reason.evidence).trim().to_lowercase();
            if evidence.is_empty() {
                continue;
            }
            if let Some(start) = lower.find(&evidence) {
                spans.push((start, start + evidence.len(), reason.rule.as_str()));
            }
        }
    }
    spans.sort();
    let mut pieces: Vec<(&str, Option<&str>)> = Vec::new();
    let mut at = 0;
    for (start, end, rule) in spans {
        if start < at || !note.is_char_boundary(start) || !note.is_char_boundary(end) {
            continue;
        }
        pieces.push((&note[at..start], None));
        pieces.push((&note[start..end], Some(rule)));
        at = end;
    }
    pieces.push((&note[at..], None));
    html! {
        @for (text, rule) in pieces {
            @match rule {
                Some(rule) => mark title={ "rule " (rule) } { (text) },
                None => (text),
            }
        }
    }
}

/// The words of the report a rule quotes in its evidence (`pattern` in "words"), or the evidence.
fn quoted(evidence: &str) -> &str {
    match (evidence.find(" in \""), evidence.rfind('"')) {
        (Some(start), Some(end)) if end > start + 5 => &evidence[start + 5..end],
        _ => evidence,
    }
}

fn reason_list(incident: &IncidentRow) -> Markup {
    let reasons = reasons(incident);
    html! {
        @if reasons.is_empty() {
            p class="muted" { "No rule recognised anything in this report." }
        } @else {
            table {
                caption class="muted" { "Rules that fired" }
                thead { tr { th scope="col" { "Rule" } th scope="col" { "Points to" } th scope="col" { "Words" } } }
                tbody {
                    @for reason in &reasons {
                        tr { td { code { (reason.rule) } } td { (severity_label(reason.points_to.as_str())) } td { (reason.evidence) } }
                    }
                }
            }
        }
    }
}

fn signoff_table(answers: &[Answer], failed: &[FailedItem], checklist: Option<&ChecklistVersion>) -> Markup {
    let prompt = |item_id: &str| {
        checklist.and_then(|c| c.items.iter().find(|i| i.id == item_id)).map(|i| i.prompt.clone()).unwrap_or_default()
    };
    html! {
        table {
            thead { tr { th scope="col" { "Item" } th scope="col" { "Answer" } th scope="col" { "Result" } } }
            tbody {
                @for answer in answers {
                    @let failure = failed.iter().find(|f| f.item_id == answer.item_id);
                    tr {
                        td { (prompt(&answer.item_id)) br; code class="muted" { (answer.item_id) } }
                        td { (answer.value.to_string()) @if let Some(note) = &answer.note { br; span class="muted" { (note) } } }
                        td {
                            @match failure {
                                Some(f) => span class="failed-item" { "Failed: " (f.reason) },
                                None => "Passed",
                            }
                        }
                    }
                }
            }
        }
    }
}

fn opened(staff: &Staff, file: &IncidentFile, now: DateTime<Utc>) -> Markup {
    html! {
        ul {
            @if let Some(visit) = &file.visit {
                li { "Make-safe visit: " (visit.status) " · " (countdown(visit.due_at, now, chrono::TimeDelta::hours(1))) }
            }
            @if let Some(case) = &file.recovery {
                li { a href={ "/console/recovery/" (case.id) } { "Customer recovery case" } " (" (case.status) ")" }
            }
            @if let Some(retraining) = &file.retraining {
                li { "Retraining on " (retraining.checklist_key) ": " (retraining.status)
                    @if staff.is(&[Role::SafetyOfficer, Role::Admin]) { " · " a href="/console/safety" { "safety page" } } }
            }
            @if let Some(case) = &file.case {
                li { "Disciplinary review: " (case.status) }
            }
            @if file.visit.is_none() && file.recovery.is_none() && file.retraining.is_none() && file.case.is_none() {
                li class="muted" { "Nothing yet." }
            }
        }
    }
}

fn actions(staff: &Staff, file: &IncidentFile) -> Markup {
    let incident = &file.incident;
    let id = &incident.id;
    let can_grade = if incident.in_triage() {
        staff.is(&[Role::Dispatcher, Role::SafetyOfficer])
    } else {
        staff.is(&[Role::SafetyOfficer])
    };
    html! {
        @if !incident.in_triage() && incident.status == IncidentStatus::Open {
            form method="post" action={ "/console/incidents/" (id) "/acknowledge" } {
                (csrf(staff))
                input type="hidden" name="revision" value=(incident.revision);
                button type="submit" { "Acknowledge" }
            }
        }
        @if !incident.in_triage() && incident.status != IncidentStatus::Resolved {
            form method="post" action={ "/console/incidents/" (id) "/assign" } {
                (csrf(staff))
                input type="hidden" name="revision" value=(incident.revision);
                label for="assignee" { "Assign to" }
                select id="assignee" name="assignee" {
                    @for name in &file.staff { option value=(name) selected[Some(name) == file.assignee.as_ref()] { (name) } }
                }
                button type="submit" class="secondary" { "Assign" }
            }
        }
        @if let Some(visit) = file.visit.as_ref().filter(|v| v.status == VisitStatus::Open) {
            @if staff.is(&[Role::Dispatcher, Role::Admin]) {
                form method="post" action={ "/console/make-safe/" (visit.id) "/assign" } {
                    (csrf(staff))
                    input type="hidden" name="incident" value=(id);
                    label for="visit-technician" { "Send a technician on the make-safe visit" }
                    select id="visit-technician" name="technician" {
                        @for name in &file.technicians { @if *name != file.technician { option value=(name) { (name) } } }
                    }
                    label for="override" { "Reason, only if you send the technician who did the job" }
                    input id="override" name="override_reason" type="text";
                    button type="submit" { "Assign make-safe visit" }
                }
            }
        }
        @if can_grade {
            form method="post" action={ "/console/incidents/" (id) "/regrade" } {
                (csrf(staff))
                input type="hidden" name="revision" value=(incident.revision);
                label for="severity" { @if incident.in_triage() { "Grade this report" } @else { "Re-grade" } }
                select id="severity" name="severity" {
                    @for severity in [Severity::SafetyCritical, Severity::ServiceImpacting, Severity::Nuisance] {
                        option value=(severity.as_str()) { (severity_label(severity.as_str())) }
                    }
                }
                label for="reason" { "Reason (kept in the audit log)" }
                textarea id="reason" name="reason" required minlength="10" {}
                button type="submit" { @if incident.in_triage() { "Grade" } @else { "Re-grade" } }
            }
        }
        @if incident.severity == Severity::SafetyCritical && staff.is(&[Role::SafetyOfficer]) && !incident.in_triage() {
            p { a href={ "/console/safety?audit=" (id) } { "Audit this incident" } }
        }
    }
}

fn detail_note(details: &str) -> Markup {
    let value: serde_json::Value = serde_json::from_str(details).unwrap_or_default();
    let reason = value["reason"].as_str().or(value["note"].as_str());
    html! { @if let Some(reason) = reason { ": " span class="muted" { (reason) } } }
}

#[derive(Deserialize)]
pub struct RevisionForm {
    csrf: String,
    revision: i64,
}

/// `POST /console/incidents/{id}/acknowledge`
pub async fn acknowledge(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<uuid::Uuid>,
    form: web::Form<RevisionForm>,
) -> Result<HttpResponse, ConsoleError> {
    staff.check(&form.csrf)?;
    change(state, staff, id.into_inner(), form.revision, Change::Acknowledge, "Acknowledged.").await
}

#[derive(Deserialize)]
pub struct AssignForm {
    csrf: String,
    revision: i64,
    assignee: String,
}

/// `POST /console/incidents/{id}/assign`
pub async fn assign(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<uuid::Uuid>,
    form: web::Form<AssignForm>,
) -> Result<HttpResponse, ConsoleError> {
    staff.check(&form.csrf)?;
    let AssignForm { revision, assignee, .. } = form.into_inner();
    let done = format!("Assigned to {assignee}.");
    change(state, staff, id.into_inner(), revision, Change::Assign { assignee }, &done).await
}

#[derive(Deserialize)]
pub struct RegradeForm {
    csrf: String,
    revision: i64,
    severity: Severity,
    reason: String,
}

/// `POST /console/incidents/{id}/regrade`: a grade from triage, or a safety officer's re-grade.
pub async fn regrade(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<uuid::Uuid>,
    form: web::Form<RegradeForm>,
) -> Result<HttpResponse, ConsoleError> {
    staff.check(&form.csrf)?;
    let RegradeForm { revision, severity, reason, .. } = form.into_inner();
    if reason.trim().chars().count() < 10 {
        let location = format!("/console/incidents/{}", id.into_inner());
        let refused = Err::<(), _>(workflows::Error::field("reason", "give the reason in at least 10 characters"));
        return after_action(&state, &location, "", refused);
    }
    let change_to = Change::Regrade { severity, reason: reason.trim().to_owned(), by: staff.user.role };
    let done = format!("Graded {}.", severity_label(severity.as_str()).to_lowercase());
    change(state, staff, id.into_inner(), revision, change_to, &done).await
}

async fn change(
    state: web::Data<AppState>,
    staff: Staff,
    id: uuid::Uuid,
    revision: i64,
    change: Change,
    done: &str,
) -> Result<HttpResponse, ConsoleError> {
    let (id, app, actor) = (id.to_string(), state.clone(), staff.actor());
    let location = format!("/console/incidents/{id}");
    let result = state
        .db
        .run(move |conn| {
            let expected = Expected::Revisions(vec![revision]);
            workflows::incidents::change(conn, app.context(), &id, &expected, change, &actor, app.clock.now())
        })
        .await;
    after_action(&state, &location, done, result)
}

#[derive(Deserialize)]
pub struct VisitForm {
    csrf: String,
    incident: uuid::Uuid,
    technician: String,
    override_reason: Option<String>,
}

/// `POST /console/make-safe/{id}/assign`
pub async fn assign_visit(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<uuid::Uuid>,
    form: web::Form<VisitForm>,
) -> Result<HttpResponse, ConsoleError> {
    staff.check(&form.csrf)?;
    staff.require(&[Role::Dispatcher, Role::Admin])?;
    let VisitForm { incident, technician, override_reason, .. } = form.into_inner();
    let (id, app, actor) = (id.into_inner().to_string(), state.clone(), staff.actor());
    let done = format!("Make-safe visit assigned to {technician}.");
    let reason = override_reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    let result = state
        .db
        .run(move |conn| {
            workflows::safety::assign_make_safe(conn, &id, &technician, reason.as_deref(), &actor, app.clock.now())
        })
        .await;
    after_action(&state, &format!("/console/incidents/{incident}"), &done, result)
}
