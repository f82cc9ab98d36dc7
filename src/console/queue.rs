//! The dispatcher's work queue, most urgent first: reports waiting for triage, open
//! safety-critical incidents with their make-safe countdown, recovery cases by time left on the
//! 24-hour clock, then the rest. The list refreshes itself every few seconds.

use crate::domain::make_safe::VisitStatus;
use crate::domain::recovery_case::RecoveryStatus;
use crate::domain::severity::Severity;
use crate::domain::states::IncidentStatus;
use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, TimeDelta, Utc};
use maud::{Markup, html};

use super::layout::{self, countdown};
use super::{ConsoleError, Flash, Staff};
use crate::AppState;
use crate::auth::Role;
use crate::db::incidents::{IncidentRow, QueueFilter};
use crate::db::recovery::CaseView;
use crate::db::safety::MakeSafeVisitRow;
use crate::db::{self, DbConnection};

/// How many incidents and cases the queue shows at most.
const SHOWN: i64 = 200;

/// What the queue holds, already in the order the dispatcher works it.
struct Queue {
    /// Each incident's failure note, by failure id.
    notes: HashMap<String, String>,
    triage: Vec<(IncidentRow, String)>,
    safety: Vec<(IncidentRow, Option<MakeSafeVisitRow>, String)>,
    recovery: Vec<CaseView>,
    rest: Vec<(IncidentRow, String)>,
    now: DateTime<Utc>,
}

fn load(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<Queue, ConsoleError> {
    let incidents: Vec<IncidentRow> = db::incidents::queue(conn, &QueueFilter::default(), None, SHOWN)?
        .into_iter()
        .filter(|i| i.status != IncidentStatus::Resolved)
        .collect();
    let ids: Vec<&str> = incidents.iter().map(|i| i.technician_id.as_str()).collect();
    let names = db::users::usernames(conn, &ids)?;
    let named = |i: &IncidentRow| names.get(&i.technician_id).cloned().unwrap_or_default();
    let mut visits: HashMap<String, MakeSafeVisitRow> =
        db::safety::visits(conn, &[VisitStatus::Open, VisitStatus::Assigned], None, SHOWN)?
            .into_iter()
            .map(|v| (v.incident_id.clone(), v))
            .collect();
    let recovery = db::recovery::views(conn, &[RecoveryStatus::Open], None, None, SHOWN)?;
    let failures: Vec<&str> = incidents.iter().map(|i| i.failure_id.as_str()).collect();
    let notes = db::failures::descriptions(conn, &failures)?;
    let in_recovery: std::collections::HashSet<&str> =
        recovery.iter().map(|view| view.case.incident_id.as_str()).collect();
    let (mut triage, mut safety, mut rest) = (Vec::new(), Vec::new(), Vec::new());
    for incident in incidents.iter().cloned() {
        let name = named(&incident);
        if incident.in_triage() {
            triage.push((incident, name));
        } else if incident.severity == Severity::SafetyCritical {
            let visit = visits.remove(&incident.id);
            safety.push((incident, visit, name));
        } else if !in_recovery.contains(incident.id.as_str()) {
            rest.push((incident, name));
        }
    }
    triage.sort_by_key(|(i, _)| i.triage_due_at);
    safety.sort_by_key(|(i, visit, _)| (visit.as_ref().map(|v| v.due_at), i.reported_at));
    Ok(Queue { notes, triage, safety, recovery, rest, now })
}

/// `GET /console/queue`
pub async fn page(state: web::Data<AppState>, req: HttpRequest, staff: Staff) -> Result<HttpResponse, ConsoleError> {
    staff.require(&[Role::Dispatcher, Role::SafetyOfficer, Role::Admin])?;
    let now = state.clock.now();
    let queue = state.db.run(move |conn| load(conn, now)).await?;
    let body = html! {
        h1 { "Work queue" }
        p class="muted" { "Most urgent first. The list refreshes itself every 5 seconds." }
        div id="queue" hx-get="/console/queue/items" hx-trigger="every 5s" hx-swap="innerHTML" {
            (table(&queue))
        }
    };
    Ok(super::page(&req, layout::shell(&staff, "Work queue", Flash::read(&req), body)))
}

/// `GET /console/queue/items`: the list alone, for the page to refresh itself.
pub async fn items(state: web::Data<AppState>, staff: Staff) -> Result<HttpResponse, ConsoleError> {
    staff.require(&[Role::Dispatcher, Role::SafetyOfficer, Role::Admin])?;
    let now = state.clock.now();
    let queue = state.db.run(move |conn| load(conn, now)).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .body(table(&queue).into_string()))
}

/// The report as written, cut to a line.
fn summary(queue: &Queue, incident: &IncidentRow) -> String {
    let note = queue.notes.get(&incident.failure_id).map(String::as_str).unwrap_or_default().trim();
    match note.char_indices().nth(120) {
        Some((cut, _)) => format!("{}…", &note[..cut]),
        None if note.is_empty() => "(no note)".to_owned(),
        None => note.to_owned(),
    }
}

fn table(queue: &Queue) -> Markup {
    let now = queue.now;
    let empty =
        queue.triage.is_empty() && queue.safety.is_empty() && queue.recovery.is_empty() && queue.rest.is_empty();
    html! {
        @if empty {
            p { "Nothing waits. New reports appear here within seconds." }
        } @else {
            table {
                caption class="muted" { "Open work, most urgent first" }
                thead { tr {
                    th scope="col" { "Priority" }
                    th scope="col" { "What" }
                    th scope="col" class="optional" { "Technician" }
                    th scope="col" { "Due" }
                    th scope="col" { "Status" }
                } }
                tbody {
                    @for (incident, technician) in &queue.triage {
                        @let due = incident.triage_due_at.unwrap_or(incident.reported_at);
                        tr class=(layout::Clock::of(due, now, TimeDelta::minutes(5)).class()) {
                            td { span class="badge triage" { "Grade now" } }
                            td { a href={ "/console/incidents/" (incident.id) } { (summary(queue, incident)) } br; span class="muted" { (incident.checklist_key) } }
                            td class="optional" { (technician) }
                            td class="due" { (countdown(due, now, TimeDelta::minutes(5))) }
                            td { "waiting for a person to grade it" }
                        }
                    }
                    @for (incident, visit, technician) in &queue.safety {
                        tr {
                            td { span class="badge safety_critical" { "Safety-critical" } }
                            td { a href={ "/console/incidents/" (incident.id) } { (summary(queue, incident)) } br; span class="muted" { (incident.checklist_key) } }
                            td class="optional" { (technician) }
                            td class="due" {
                                @match visit {
                                    Some(visit) => { "make-safe " (countdown(visit.due_at, now, TimeDelta::hours(1))) },
                                    None => span class="muted" { "make-safe visit done" },
                                }
                            }
                            td { (incident.status) @if let Some(visit) = visit { br; span class="muted" { "visit " (visit.status) } } }
                        }
                    }
                    @for CaseView { case, severity, .. } in &queue.recovery {
                        tr {
                            td { span class={ "badge " (severity) } { "Recovery" } }
                            td { a href={ "/console/recovery/" (case.id) } { "Recover the customer: " (layout::severity_label(severity).to_lowercase()) " failure" } }
                            td class="optional" { span class="muted" { "customer " (case.customer_id.get(..8).unwrap_or_default()) } }
                            td class="due" { (countdown(case.due_at, now, TimeDelta::hours(4))) }
                            td { (case_progress(case)) }
                        }
                    }
                    @for (incident, technician) in &queue.rest {
                        tr {
                            td { span class={ "badge " (incident.severity) } { (layout::severity_label(incident.severity.as_str())) } }
                            td { a href={ "/console/incidents/" (incident.id) } { (summary(queue, incident)) } }
                            td class="optional" { (technician) }
                            td class="due" { span class="muted" { "reported " (layout::when(incident.reported_at)) } }
                            td { (incident.status) }
                        }
                    }
                }
            }
        }
    }
}

fn case_progress(case: &crate::db::recovery::RecoveryCaseRow) -> String {
    let steps = [
        ("apology", case.apologised_at.is_some()),
        ("remedy", case.remedy_settled_at.is_some()),
        ("fix", case.fixed_at.is_some()),
    ];
    let missing: Vec<&str> = steps.iter().filter(|(_, done)| !done).map(|(name, _)| *name).collect();
    if missing.is_empty() { "explanation to send".to_owned() } else { format!("to do: {}", missing.join(", ")) }
}
