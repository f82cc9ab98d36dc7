//! A customer recovery case on one page: the apology (with the company-voice check inline), the
//! remedy menu, surprise suggestions, the fix and the explanation, and the messages sent.

use crate::domain::recovery_case::RecoveryStatus;
use crate::domain::recovery_case::RemedyStatus;
use crate::domain::states::MessageStatus;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{self, countdown, csrf, when};
use super::{ConsoleError, Flash, Staff, after_action};
use crate::AppState;
use crate::auth::Role;
use crate::db::outbox::MessageRow;
use crate::db::recovery::RecoveryCaseRow;
use crate::db::{self, DbConnection};
use crate::domain::recovery::{Offer, SurpriseSuggestion};
use crate::domain::safety::RootCause;
use crate::workflows::recovery::{ApologyDraft, Explanation};
use crate::workflows::{self, Context};

const STAFF: [Role; 3] = [Role::Dispatcher, Role::SafetyOfficer, Role::Admin];

struct CaseFile {
    case: RecoveryCaseRow,
    draft: Option<ApologyDraft>,
    offer: Option<Offer>,
    surprises: Vec<SurpriseSuggestion>,
    messages: Vec<MessageRow>,
    technicians: Vec<String>,
    needs_approval: Vec<String>,
}

fn load(conn: &mut DbConnection, ctx: Context<'_>, id: &str) -> Result<CaseFile, ConsoleError> {
    let case = db::recovery::find(conn, id)?.ok_or(ConsoleError::NotFound)?;
    let open = case.status == RecoveryStatus::Open;
    let draft = if open && case.apologised_at.is_none() {
        Some(workflows::recovery::apology_draft(conn, ctx, id)?)
    } else {
        None
    };
    let offer = if open && case.remedy_id.is_none() { Some(workflows::recovery::offer(conn, ctx, id)?) } else { None };
    let needs_approval =
        offer.iter().flat_map(|o| &o.options).filter(|r| ctx.policy.needs_approval(r)).map(|r| r.id.clone()).collect();
    let surprises = if open { workflows::recovery::surprise_suggestions(conn, ctx, id)? } else { Vec::new() };
    let messages = db::outbox::list(conn, &[], Some(id), None, 50)?;
    let technicians = db::users::list(conn)?
        .into_iter()
        .filter(|u| u.active && u.role == Role::Technician)
        .map(|u| u.username)
        .collect();
    Ok(CaseFile { case, draft, offer, surprises, messages, technicians, needs_approval })
}

/// `GET /console/recovery/{id}`
pub async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    staff: Staff,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ConsoleError> {
    render(state, req, staff, id.into_inner(), None).await
}

/// The page, with an apology the company-voice check refused kept in the editor beside the reason.
async fn render(
    state: web::Data<AppState>,
    req: HttpRequest,
    staff: Staff,
    id: uuid::Uuid,
    refused_apology: Option<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    staff.require(&STAFF)?;
    let (id, app) = (id.to_string(), state.clone());
    let file = state.db.run(move |conn| load(conn, app.context(), &id)).await?;
    let now = state.clock.now();
    let case = &file.case;
    let action = |step: &str| format!("/console/recovery/{}/{step}", case.id);
    let body = html! {
        p { a href="/console/queue" { "← Work queue" } " · " a href={ "/console/incidents/" (case.incident_id) } { "the incident" } }
        h1 { "Customer recovery" }
        dl class="facts" {
            dt { "Status" } dd { (case.status) }
            dt { "24-hour clock" } dd { @if case.status == RecoveryStatus::Open { (countdown(case.due_at, now, chrono::TimeDelta::hours(4))) } @else { "stopped" } }
            @if let Some(at) = case.recovered_at { dt { "Recovered" } dd { (when(at)) } }
        }
        div class="grid" {
            section class="card" aria-labelledby="apology" {
                h2 id="apology" { "1. Apology" }
                @if let Some(text) = &case.apology_text {
                    p { "Sent " (case.apologised_at.map(when).unwrap_or_default()) ":" }
                    blockquote { (text) }
                } @else if let Some(draft) = &file.draft {
                    form method="post" action=(action("apology")) {
                        (csrf(&staff))
                        @if let Some((_, why)) = &refused_apology { p class="flash failed" role="alert" id="apology-error" { (why) } }
                        label for="apology-text" { "The apology, in the company's voice" }
                        textarea id="apology-text" name="text" aria-describedby=[refused_apology.as_ref().map(|_| "apology-error")] {
                            (refused_apology.as_ref().map_or(draft.text.as_str(), |(text, _)| text.as_str()))
                        }
                        button type="submit" { "Send apology" }
                    }
                }
            }
            section class="card" aria-labelledby="remedy" {
                h2 id="remedy" { "2. Remedy" }
                @if let Some(remedy) = &case.remedy_id {
                    p { "Chosen: " strong { (remedy) } " (" (case.remedy_status.map_or("", RemedyStatus::as_str)) ")" }
                    @if case.remedy_status == Some(RemedyStatus::PendingApproval) {
                        form method="post" action=(action("approve")) { (csrf(&staff)) button type="submit" { "Approve remedy" } }
                    }
                } @else if let Some(offer) = &file.offer {
                    form method="post" action=(action("remedy")) {
                        (csrf(&staff))
                        fieldset {
                            legend { "The customer's choice" }
                            @for (n, remedy) in offer.options.iter().enumerate() {
                                div {
                                    input type="radio" name="remedy" id={ "remedy-" (n) } value=(remedy.id) required;
                                    label class="inline" for={ "remedy-" (n) } {
                                        (remedy.label) " (£" (format!("{:.2}", remedy.value_gbp)) ")"
                                        @if file.needs_approval.contains(&remedy.id) { " — needs approval" }
                                    }
                                }
                            }
                        }
                        @for line in &offer.explanation { p class="muted" { (line) } }
                        button type="submit" { "Record the choice" }
                    }
                }
            }
            section class="card" aria-labelledby="fix" {
                h2 id="fix" { "3. Fix" }
                @if let Some(at) = case.fixed_at {
                    p { "Fixed " (when(at)) }
                } @else {
                    @if case.fix_job_id.is_none() {
                        form method="post" action=(action("fix-visit")) {
                            (csrf(&staff))
                            label for="fix-technician" { "Send a technician to fix it" }
                            select id="fix-technician" name="technician" { @for name in &file.technicians { option value=(name) { (name) } } }
                            button type="submit" class="secondary" { "Book the fix visit" }
                        }
                    } @else {
                        p { "A fix visit is booked." }
                    }
                    form method="post" action=(action("fixed")) { (csrf(&staff)) button type="submit" { "Mark fixed" } }
                }
            }
            section class="card" aria-labelledby="surprise" {
                h2 id="surprise" { "4. A personal touch" }
                @match case.surprise_given {
                    Some(given) => p { @if given { "Given" } @else { "Not given" } @if let Some(note) = &case.surprise_note { ": " (note) } },
                    None => {
                        ul { @for s in &file.surprises { li { (s.suggest) " " span class="muted" { "(because " (s.because) ")" } } } }
                        form method="post" action=(action("surprise")) {
                            (csrf(&staff))
                            label for="surprise-note" { "What you did" }
                            input id="surprise-note" name="note" type="text";
                            input type="hidden" name="given" value="true";
                            button type="submit" class="secondary" { "Record the surprise" }
                        }
                    }
                }
            }
            section class="card" aria-labelledby="explanation" {
                h2 id="explanation" { "5. Explanation" }
                @if let Some(text) = &case.explanation_text {
                    p { "Sent " (case.explained_at.map(when).unwrap_or_default()) } blockquote { (text) }
                } @else {
                    form method="post" action=(action("explanation")) {
                        (csrf(&staff))
                        label for="root-cause" { "Root cause" }
                        select id="root-cause" name="root_cause" {
                            @for (value, label) in layout::ROOT_CAUSES { option value=(value) { (label) } }
                        }
                        label for="what-went-wrong" { "What went wrong" }
                        textarea id="what-went-wrong" name="what_went_wrong" required {}
                        label for="what-changed" { "What we changed so it does not happen again" }
                        textarea id="what-changed" name="what_changed" required {}
                        button type="submit" { "Send the explanation" }
                    }
                }
            }
        }
        section class="card" aria-labelledby="messages" {
            h2 id="messages" { "Messages to the customer" }
            (messages(&staff, &file.messages))
        }
    };
    let mut response = super::page(&req, layout::shell(&staff, "Customer recovery", Flash::read(&req), body));
    if refused_apology.is_some() {
        *response.status_mut() = actix_web::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

fn messages(staff: &Staff, messages: &[MessageRow]) -> Markup {
    html! {
        @if messages.is_empty() {
            p class="muted" { "None yet." }
        } @else {
            table {
                thead { tr { th scope="col" { "Message" } th scope="col" { "Status" } th scope="col" { "" } } }
                tbody {
                    @for m in messages {
                        tr {
                            td { (m.kind) ": " (m.subject) }
                            td { (m.status) @if let Some(error) = &m.last_error { br; span class="muted" { (error) } } }
                            td {
                                @if m.status == MessageStatus::Failed {
                                    form method="post" action={ "/console/messages/" (m.id) "/retry" } {
                                        (csrf(staff))
                                        @if let Some(case) = &m.recovery_case_id { input type="hidden" name="case" value=(case); }
                                        button type="submit" class="secondary" { "Retry" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct StepForm {
    csrf: String,
    text: Option<String>,
    remedy: Option<String>,
    given: Option<bool>,
    note: Option<String>,
    technician: Option<String>,
    root_cause: Option<RootCause>,
    what_went_wrong: Option<String>,
    what_changed: Option<String>,
}

/// `POST /console/recovery/{id}/{step}`: one step of the case, through its workflow.
pub async fn act(
    state: web::Data<AppState>,
    req: HttpRequest,
    staff: Staff,
    path: web::Path<(uuid::Uuid, String)>,
    form: web::Form<StepForm>,
) -> Result<HttpResponse, ConsoleError> {
    staff.check(&form.csrf)?;
    staff.require(&STAFF)?;
    let (id, step) = path.into_inner();
    let form = form.into_inner();
    let (case_id, app, actor, role) = (id.to_string(), state.clone(), staff.actor(), staff.user.role);
    let location = format!("/console/recovery/{id}");
    let missing = |field: &str| workflows::Error::field(field, "fill this in");
    let text = form.text.clone();
    let (done, result) = match step.as_str() {
        "apology" => {
            let text = text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
            let result = state
                .db
                .run(move |conn| {
                    workflows::recovery::apologise(conn, app.context(), &case_id, text, &actor, app.clock.now())
                })
                .await;
            if let Err(workflows::Error::Invalid(errors)) = &result {
                let why = errors.iter().map(|e| e.message.clone()).collect::<Vec<_>>().join("; ");
                return render(state, req, staff, id, Some((form.text.unwrap_or_default(), why))).await;
            }
            ("Apology sent.", result.map(drop))
        }
        "remedy" => {
            let remedy = form.remedy.unwrap_or_default();
            let result = state
                .db
                .run(move |conn| {
                    workflows::recovery::choose_remedy(
                        conn,
                        app.context(),
                        &case_id,
                        &remedy,
                        &actor,
                        role,
                        app.clock.now(),
                    )
                })
                .await;
            ("Remedy recorded.", result.map(drop))
        }
        "approve" => {
            let result = state
                .db
                .run(move |conn| {
                    workflows::recovery::approve_remedy(conn, app.context(), &case_id, &actor, role, app.clock.now())
                })
                .await;
            ("Remedy approved.", result.map(drop))
        }
        "fixed" => {
            let result = state
                .db
                .run(move |conn| {
                    workflows::recovery::record_fixed(conn, app.context(), &case_id, &actor, app.clock.now())
                })
                .await;
            ("Marked fixed.", result.map(drop))
        }
        "fix-visit" => {
            let technician = form.technician.unwrap_or_default();
            let result = state
                .db
                .run(move |conn| {
                    workflows::recovery::send_fix_visit(conn, &case_id, &technician, &actor, app.clock.now())
                })
                .await;
            ("Fix visit booked.", result.map(drop))
        }
        "surprise" => {
            let (given, note) =
                (form.given.unwrap_or(true), form.note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()));
            let result = state
                .db
                .run(move |conn| {
                    workflows::recovery::record_surprise(conn, &case_id, given, note, &actor, app.clock.now())
                })
                .await;
            ("Surprise recorded.", result.map(drop))
        }
        "explanation" => {
            let explanation = match (form.root_cause, form.what_went_wrong, form.what_changed) {
                (Some(root_cause), Some(what_went_wrong), Some(what_changed)) => {
                    Ok(Explanation { root_cause, what_went_wrong, what_changed })
                }
                (None, ..) => Err(missing("root_cause")),
                (_, None, _) => Err(missing("what_went_wrong")),
                (.., None) => Err(missing("what_changed")),
            };
            let result = match explanation {
                Ok(explanation) => {
                    state
                        .db
                        .run(move |conn| {
                            workflows::recovery::explain(
                                conn,
                                app.context(),
                                &case_id,
                                explanation,
                                &actor,
                                app.clock.now(),
                            )
                        })
                        .await
                }
                Err(err) => Err(err),
            };
            ("Explanation sent.", result.map(drop))
        }
        _ => return Err(ConsoleError::NotFound),
    };
    after_action(&state, &location, done, result)
}

#[derive(Deserialize)]
pub struct RetryForm {
    csrf: String,
    case: Option<String>,
}

/// `POST /console/messages/{id}/retry`
pub async fn retry_message(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<uuid::Uuid>,
    form: web::Form<RetryForm>,
) -> Result<HttpResponse, ConsoleError> {
    staff.check(&form.csrf)?;
    staff.require(&[Role::Dispatcher, Role::Admin])?;
    let (id, app, actor) = (id.into_inner().to_string(), state.clone(), staff.actor());
    let location = match form.into_inner().case.and_then(|c| uuid::Uuid::parse_str(&c).ok()) {
        Some(case) => format!("/console/recovery/{case}"),
        None => "/console/queue".to_owned(),
    };
    let result = state.db.run(move |conn| workflows::messages::retry_message(conn, &id, &actor, app.clock.now())).await;
    after_action(&state, &location, "The message will be sent again.", result)
}
