//! Customer recovery for ordinary failures: a case per incident with a 24-hour clock from the
//! report; recovered once it is fixed, apologised for and the remedy settled.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::follow_up::Opening;
use super::messages::{self, MessageKind};
use super::{Actor, Context, Error, audit, follow_up};
use crate::db::incidents::IncidentRow;
use crate::db::recovery::RecoveryCaseRow;
use crate::db::{self, DbConnection, write_transaction};
use crate::domain::Role;
use crate::domain::recovery::{self, FailureKind, Offer, SurpriseSuggestion};
use crate::domain::recovery_case::{self, RecoveryState, RecoveryStatus, RecoveryStep, RemedyStatus};
use crate::domain::severity::Reason;

/// Opens the recovery case of an ordinary incident (or reopens it after a re-grade back down),
/// in the caller's transaction. Its deadline runs from when the failure was reported.
pub(crate) fn open(
    conn: &mut DbConnection,
    ctx: Context<'_>,
    incident: &IncidentRow,
    opening: Opening,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let existing = opening.existing(|| db::recovery::for_incident(conn, &incident.id))?;
    follow_up::reopen_or_open(
        conn,
        ctx,
        existing,
        &incident.id,
        |_| {
            let case = RecoveryCaseRow {
                id: uuid::Uuid::now_v7().to_string(),
                incident_id: incident.id.clone(),
                customer_id: incident.customer_id.clone(),
                due_at: incident.reported_at + recovery::RECOVERY_DEADLINE,
                status: RecoveryStatus::Open,
                fixed_at: None,
                apologised_at: None,
                remedy_settled_at: None,
                recovered_at: None,
                apology_text: None,
                remedy_id: None,
                remedy_value_gbp: None,
                remedy_status: None,
                remedy_proposed_by: None,
                remedy_approved_by: None,
                policy_version: None,
                fix_job_id: None,
                explanation_due_at: None,
                explanation_text: None,
                root_cause: None,
                explained_at: None,
                surprise_given: None,
                surprise_note: None,
                note: None,
                created_at: now.naive_utc(),
                updated_at: now.naive_utc(),
            };
            let details = json!({ "incident_id": incident.id, "due_at": case.due_at.and_utc() });
            Ok((case, details))
        },
        actor,
        now,
    )
}

/// Cancels an open recovery case when its incident is re-graded safety-critical.
pub(crate) fn cancel(
    conn: &mut DbConnection,
    incident: &IncidentRow,
    reason: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    if let Some(mut case) = db::recovery::for_incident(conn, &incident.id)?
        && let Ok(next) = recovery_case::step(case.state(), RecoveryStep::Cancel, actor.role)
    {
        case.status = next.status;
        case.note = Some(format!("cancelled: re-graded safety_critical: {reason}"));
        case.updated_at = now.naive_utc();
        db::recovery::save(conn, &case)?;
        audit(conn, actor, "recovery.cancelled", ("recovery_case", &case.id), json!({ "reason": reason }), now)?;
    }
    Ok(())
}

/// Records that the failure is fixed.
pub fn record_fixed(
    conn: &mut DbConnection,
    ctx: Context<'_>,
    id: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<RecoveryCaseRow, Error> {
    write_transaction(conn, |conn| {
        let mut case = find_case(conn, id)?;
        take(conn, ctx, &mut case, RecoveryStep::Fix, actor, now)?;
        Ok(case)
    })
}

fn find_case(conn: &mut DbConnection, id: &str) -> Result<RecoveryCaseRow, Error> {
    db::recovery::find(conn, id)?.ok_or_else(|| Error::NotFound(format!("no recovery case {id}")))
}

/// Takes one step of the case: asks its state machine, then [`apply`]s the answer.
fn take(
    conn: &mut DbConnection,
    ctx: Context<'_>,
    case: &mut RecoveryCaseRow,
    step: RecoveryStep,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let next = recovery_case::step(case.state(), step, actor.role)?;
    apply(conn, ctx, case, next, actor, now)
}

/// Moves the case to the state its machine gave for a step: stamps what the step recorded, audits
/// the step (and the recovery, when it completes the case) and saves. The caller has set the
/// step's own fields.
fn apply(
    conn: &mut DbConnection,
    ctx: Context<'_>,
    case: &mut RecoveryCaseRow,
    next: RecoveryState,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let (before, ts) = (case.state(), now.naive_utc());
    let recorded = |done: bool, was: bool| done && !was;
    if recorded(next.fixed, before.fixed) {
        case.fixed_at = Some(ts);
        case.explanation_due_at = Some((now + recovery::EXPLANATION_WITHIN).naive_utc());
        audit(conn, actor, "recovery.step", ("recovery_case", &case.id), json!({ "step": "fixed" }), now)?;
    }
    if recorded(next.apologised, before.apologised) {
        case.apologised_at = Some(ts);
        audit(conn, actor, "recovery.step", ("recovery_case", &case.id), json!({ "step": "apologised" }), now)?;
    }
    case.remedy_status = next.remedy;
    if next.remedy == Some(RemedyStatus::Settled) && before.remedy != next.remedy {
        case.remedy_settled_at = Some(ts);
        audit(conn, actor, "recovery.step", ("recovery_case", &case.id), json!({ "step": "remedy_settled" }), now)?;
    }
    if next.status == RecoveryStatus::Recovered && before.status != next.status {
        case.recovered_at = Some(ts);
        let incident = db::incidents::find(conn, &case.incident_id)?
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("recovery case without incident")))?;
        let details = json!({ "within_target": recovery::within_target(incident.reported_at, ts) });
        audit(conn, actor, "recovery.recovered", ("recovery_case", &case.id), details, now)?;
    }
    case.status = next.status;
    case.updated_at = ts;
    db::recovery::save(conn, case)?;
    ask_for_feedback_when_done(conn, ctx, case, now)
}

/// What the case is about: its incident, failure report and customer.
struct Subject {
    incident: IncidentRow,
    failure: crate::db::failures::FailureRow,
    customer_name: String,
    reasons: Vec<Reason>,
}

fn subject(conn: &mut DbConnection, case: &RecoveryCaseRow) -> Result<Subject, Error> {
    let missing = |what: &str| Error::Internal(anyhow::anyhow!("recovery case {} without {what}", case.id));
    let incident = db::incidents::find(conn, &case.incident_id)?.ok_or_else(|| missing("incident"))?;
    let failure = db::failures::find(conn, &incident.failure_id)?.ok_or_else(|| missing("failure"))?;
    let customer_name = db::customers::by_id(conn, &case.customer_id)?.ok_or_else(|| missing("customer"))?.name;
    let reasons = incident.reasons.to_vec();
    Ok(Subject { incident, failure, customer_name, reasons })
}

/// An apology draft for a case.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ApologyDraft {
    pub kind: FailureKind,
    pub text: String,
    pub policy_version: String,
}

/// Drafts the apology from the policy's template for this kind of failure: names the failure,
/// speaks for the company, says what will be done and by when.
pub fn apology_draft(conn: &mut DbConnection, ctx: Context<'_>, id: &str) -> Result<ApologyDraft, Error> {
    let case = find_case(conn, id)?;
    let s = subject(conn, &case)?;
    let kind = recovery::failure_kind(&s.reasons);
    let failure = match kind {
        FailureKind::Outage => lost_service(&s),
        FailureKind::Damage if s.reasons.iter().any(|r| r.rule == "text.water-damage") => "water damage".to_owned(),
        FailureKind::Damage => "damage to your property".to_owned(),
        FailureKind::Workmanship => failed_prompts(conn, ctx, &s)?,
        FailureKind::Visit => "it did not go as it should have".to_owned(),
    };
    let fix = match kind {
        FailureKind::Outage | FailureKind::Workmanship => "an engineer will come back to put it right",
        FailureKind::Damage => "we will repair the damage at our cost",
        FailureKind::Visit => "We will make sure it does not happen again",
    };
    let deadline = case.due_at.and_utc().format("%H:%M on %-d %B %Y (UTC)").to_string();
    let text = ctx.policy.apology(kind, &s.customer_name, &failure, fix, &deadline);
    Ok(ApologyDraft { kind, text, policy_version: ctx.policy.version.clone() })
}

fn lost_service(s: &Subject) -> String {
    if let Some(loss) = s.failure.service_lost.as_deref() {
        return format!("your {}", loss.service.replace('_', " "));
    }
    let fired = |rule: &str| s.reasons.iter().any(|r| r.rule == rule);
    if fired("text.no-heat-or-hot-water") {
        "heating or hot water".to_owned()
    } else if fired("text.no-power") {
        "power".to_owned()
    } else if fired("text.no-line") {
        "your broadband or phone line".to_owned()
    } else {
        "a working service".to_owned()
    }
}

fn failed_prompts(conn: &mut DbConnection, ctx: Context<'_>, s: &Subject) -> Result<String, Error> {
    let items = &s.failure.item_ids;
    let job = db::jobs::find(conn, &s.incident.job_id)?.ok_or_else(|| Error::Internal(anyhow::anyhow!("no job")))?;
    let version = u32::try_from(job.checklist_version).map_err(anyhow::Error::from)?;
    let pinned = ctx.catalogue.version(conn, &job.checklist_key, version)?;
    let prompts: Vec<String> = items
        .iter()
        .filter_map(|id| pinned.as_ref().and_then(|p| p.checklist.item(id)).map(|item| item.prompt.to_lowercase()))
        .collect();
    Ok(if prompts.is_empty() { "our work was not finished properly".to_owned() } else { prompts.join("; ") })
}

/// Records the apology as sent: the draft, or the dispatcher's edit, which must not name staff.
pub fn apologise(
    conn: &mut DbConnection,
    ctx: Context<'_>,
    id: &str,
    edited: Option<String>,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<RecoveryCaseRow, Error> {
    write_transaction(conn, |conn| {
        let mut case = find_case(conn, id)?;
        let next = recovery_case::step(case.state(), RecoveryStep::Apologise, actor.role)?;
        let text = match edited {
            Some(text) => {
                let staff = db::users::all_names(conn)?;
                if let Some(name) = recovery::names_anyone(&text, &staff) {
                    return Err(Error::field(
                        "text",
                        format!("apologise as the company: do not name or blame a colleague (`{name}`)"),
                    ));
                }
                text
            }
            None => apology_draft(conn, ctx, id)?.text,
        };
        // Queued before the step, so the apology goes out before a feedback request that
        // completing the case may queue.
        messages::enqueue(conn, &case, MessageKind::Apology, text.clone(), now)?;
        case.apology_text = Some(text);
        apply(conn, ctx, &mut case, next, actor, now)?;
        Ok(case)
    })
}

/// The remedies offered for a case, under the policy in force.
pub fn offer(conn: &mut DbConnection, ctx: Context<'_>, id: &str) -> Result<Offer, Error> {
    let case = find_case(conn, id)?;
    let s = subject(conn, &case)?;
    let hours = s.failure.service_lost.as_deref().map_or(0.0, |l| l.hours);
    Ok(ctx.policy.offer(s.incident.severity, hours, s.incident.is_repeat))
}

/// Records the customer's choice among the offered remedies. Within the frontline limit (or by
/// the approver) it is settled at once; above it, it waits for the approver named by the policy.
pub fn choose_remedy(
    conn: &mut DbConnection,
    ctx: Context<'_>,
    id: &str,
    remedy_id: &str,
    actor: &Actor,
    role: Role,
    now: DateTime<Utc>,
) -> Result<RecoveryCaseRow, Error> {
    write_transaction(conn, |conn| {
        let mut case = find_case(conn, id)?;
        let approver = Role::parse(&ctx.policy.file.approver_role);
        // Refused before the offer is worked out when the case takes no remedy now.
        recovery_case::step(case.state(), RecoveryStep::ChooseRemedy { needs_approval: false, approver }, Some(role))?;
        let offer = offer(conn, ctx, id)?;
        let remedy = offer.options.iter().find(|r| r.id == remedy_id).ok_or_else(|| {
            let ids: Vec<&str> = offer.options.iter().map(|r| r.id.as_str()).collect();
            Error::field("remedy_id", format!("choose one of the offered remedies: {}", ids.join(", ")))
        })?;
        let by_approver = approver.is_some() && approver == Some(role);
        case.remedy_id = Some(remedy.id.clone());
        case.remedy_value_gbp = Some(remedy.value_gbp);
        case.remedy_proposed_by = actor.id.clone();
        case.policy_version = Some(ctx.policy.version.clone());
        case.remedy_approved_by = by_approver.then(|| actor.id.clone()).flatten();
        let details = json!({ "remedy": remedy.id, "value_gbp": remedy.value_gbp, "policy": ctx.policy.version });
        let step = RecoveryStep::ChooseRemedy { needs_approval: ctx.policy.needs_approval(remedy), approver };
        let next = recovery_case::step(case.state(), step, Some(role))?;
        let settles = next.remedy == Some(RemedyStatus::Settled);
        let action = if settles { "recovery.remedy_granted" } else { "recovery.remedy_proposed" };
        audit(conn, actor, action, ("recovery_case", id), details, now)?;
        apply(conn, ctx, &mut case, next, actor, now)?;
        Ok(case)
    })
}

/// The approver named by the policy approves a remedy above the frontline limit.
pub fn approve_remedy(
    conn: &mut DbConnection,
    ctx: Context<'_>,
    id: &str,
    actor: &Actor,
    role: Role,
    now: DateTime<Utc>,
) -> Result<RecoveryCaseRow, Error> {
    let approver = Role::parse(&ctx.policy.file.approver_role);
    let step = RecoveryStep::ApproveRemedy { approver };
    // The role first: a wrong role learns nothing about which cases exist.
    recovery_case::may_approve(Some(role), approver)?;
    write_transaction(conn, |conn| {
        let mut case = find_case(conn, id)?;
        let next = recovery_case::step(case.state(), step, Some(role))?;
        case.remedy_approved_by = actor.id.clone();
        let details = json!({ "remedy": case.remedy_id });
        audit(conn, actor, "recovery.remedy_approved", ("recovery_case", id), details, now)?;
        apply(conn, ctx, &mut case, next, actor, now)?;
        Ok(case)
    })
}

/// Personal touches that fit the customer's known preferences, each saying which preference led to it.
pub fn surprise_suggestions(
    conn: &mut DbConnection,
    ctx: Context<'_>,
    id: &str,
) -> Result<Vec<SurpriseSuggestion>, Error> {
    let case = find_case(conn, id)?;
    let customer = db::customers::by_id(conn, &case.customer_id)?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("recovery case without customer")))?;
    Ok(ctx.policy.surprises(&customer.preferences))
}

/// Records whether a surprise was given (once), and what.
pub fn record_surprise(
    conn: &mut DbConnection,
    id: &str,
    given: bool,
    note: Option<String>,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<RecoveryCaseRow, Error> {
    write_transaction(conn, |conn| {
        let mut case = find_case(conn, id)?;
        recovery_case::step(case.state(), RecoveryStep::DecideSurprise, actor.role)?;
        case.surprise_given = Some(given);
        case.surprise_note = note.clone();
        case.updated_at = now.naive_utc();
        db::recovery::save(conn, &case)?;
        audit(conn, actor, "recovery.surprise", ("recovery_case", id), json!({ "given": given, "note": note }), now)?;
        Ok(case)
    })
}

/// Sends an expedited fix visit for a service-impacting failure: a job on the same checklist at
/// the same site, now. Its clean sign-off records the failure as fixed.
pub fn send_fix_visit(
    conn: &mut DbConnection,
    id: &str,
    technician: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<RecoveryCaseRow, Error> {
    write_transaction(conn, |conn| {
        let mut case = find_case(conn, id)?;
        let incident = db::incidents::find(conn, &case.incident_id)?
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("no incident")))?;
        recovery_case::step(case.state(), RecoveryStep::SendFixVisit { grade: incident.severity }, actor.role)?;
        let original =
            db::jobs::find(conn, &incident.job_id)?.ok_or_else(|| Error::Internal(anyhow::anyhow!("no job")))?;
        let note = format!("EXPEDITED fix visit for incident {}", incident.id);
        let created =
            super::jobs::follow_up_job(conn, &incident.job_id, technician, &original.checklist_key, note, actor, now)?;
        case.fix_job_id = Some(created.job.id.clone());
        case.updated_at = now.naive_utc();
        db::recovery::save(conn, &case)?;
        audit(
            conn,
            actor,
            "recovery.fix_visit",
            ("recovery_case", id),
            json!({ "job_id": created.job.id, "technician": technician }),
            now,
        )?;
        Ok(case)
    })
}

/// After a sign-off (in its transaction): a clean sign-off of a fix visit records the fix.
pub(crate) fn on_signed_off(
    conn: &mut DbConnection,
    ctx: Context<'_>,
    job_id: &str,
    failed_items: usize,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    if let Some(mut case) = db::recovery::for_fix_job(conn, job_id)?
        && failed_items == 0
        && recovery_case::step(case.state(), RecoveryStep::Fix, actor.role).is_ok()
    {
        take(conn, ctx, &mut case, RecoveryStep::Fix, actor, now)?;
    }
    Ok(())
}

/// Once the case is recovered and the customer has had the explanation (in either order), the
/// customer is asked how we did: the last message of a recovery.
fn ask_for_feedback_when_done(
    conn: &mut DbConnection,
    ctx: Context<'_>,
    case: &RecoveryCaseRow,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    if case.status == RecoveryStatus::Recovered
        && case.explained_at.is_some()
        && db::feedback::for_case(conn, &case.id)?.is_none()
    {
        messages::request_feedback(conn, ctx, case, now)?;
    }
    Ok(())
}

/// What the customer is told afterwards: what went wrong and what changed.
#[derive(Debug, Clone)]
pub struct Explanation {
    pub root_cause: crate::domain::safety::RootCause,
    pub what_went_wrong: String,
    pub what_changed: String,
}

/// Records the explanation sent to the customer (after the fix; due within a day of it).
pub fn explain(
    conn: &mut DbConnection,
    ctx: Context<'_>,
    id: &str,
    explanation: Explanation,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<RecoveryCaseRow, Error> {
    write_transaction(conn, |conn| {
        let mut case = find_case(conn, id)?;
        recovery_case::step(case.state(), RecoveryStep::Explain, actor.role)?;
        let staff = db::users::all_names(conn)?;
        let text = format!(
            "What went wrong: {} What we have changed: {}",
            explanation.what_went_wrong, explanation.what_changed
        );
        if let Some(name) = recovery::names_anyone(&text, &staff) {
            return Err(Error::field(
                "what_went_wrong",
                format!("explain as the company: do not name or blame a colleague (`{name}`)"),
            ));
        }
        let root_cause = explanation.root_cause;
        case.explanation_text = Some(text.clone());
        case.root_cause = Some(root_cause);
        case.explained_at = Some(now.naive_utc());
        case.updated_at = now.naive_utc();
        db::recovery::save(conn, &case)?;
        let on_time = case.explanation_due_at.is_none_or(|due| now.naive_utc() <= due);
        let details = json!({ "root_cause": root_cause, "on_time": on_time });
        audit(conn, actor, "recovery.explained", ("recovery_case", id), details.clone(), now)?;
        audit(conn, actor, "incident.root_cause", ("incident", &case.incident_id), details, now)?;
        let customer = db::customers::by_id(conn, &case.customer_id)?
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("recovery case {id} without customer")))?;
        let letter = format!("Dear {},\n\nAs promised, here is what happened. {text}", customer.name);
        messages::enqueue(conn, &case, MessageKind::Explanation, letter, now)?;
        ask_for_feedback_when_done(conn, ctx, &case, now)?;
        Ok(case)
    })
}
