//! Safety-critical follow-up. When an incident is graded safety-critical (when reported or by a
//! re-grade), in the same transaction: an urgent make-safe visit, a retraining assignment that
//! gates the technician's skill, and a disciplinary review case; the safety audit queue picks the
//! incident up. Nothing here decides anyone's fate: people record the decisions, audited.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::follow_up::Opening;
use super::incidents::{Change, Expected};
use super::{Actor, Context, audit, follow_up};
use super::{Error, Refusal};
use crate::db::incidents::IncidentRow;
use crate::db::jobs::JobRow;
use crate::db::safety::{DisciplinaryRow, MakeSafeVisitRow, RetrainingRow, SafetyAuditRow};
use crate::db::signoffs::SignOffRow;
use crate::db::types::Json;
use crate::db::{self, DbConnection, write_transaction};
use crate::domain::Role;
use crate::domain::checklist::Trade;
use crate::domain::disciplinary::{self, CaseStatus};
use crate::domain::make_safe::{self, VisitOutcome, VisitStatus, VisitStep};
use crate::domain::retraining::{self, RetrainingCause, RetrainingStatus, RetrainingStep};
use crate::domain::safety::{self, Behaviour, Outcome, RetrainingVerdict, RootCause, SystemFactor};
use crate::domain::severity::Severity;
use crate::domain::signoff::FailedItem;

/// Refuses (`retraining-required`) naming the pending retraining if `technician_id` may not work `checklist_key`.
pub fn check_gate(conn: &mut DbConnection, technician_id: &str, checklist_key: &str) -> Result<(), Error> {
    gate(&db::safety::retraining_on(conn, technician_id, checklist_key, &RetrainingStatus::GATING)?)
}

/// A technician's retraining still under way on one checklist, oldest first: what a sign-off reads
/// once for its gate ([`gate`]) and for judging the training afterwards ([`on_signed_off`]).
pub(crate) fn retraining_under_way(
    conn: &mut DbConnection,
    technician_id: &str,
    checklist_key: &str,
) -> Result<Vec<RetrainingRow>, Error> {
    Ok(db::safety::retraining_on(conn, technician_id, checklist_key, &RetrainingStatus::UNDER_WAY)?)
}

/// [`check_gate`] on a technician's retraining already read for that checklist.
pub(crate) fn gate(retraining: &[RetrainingRow]) -> Result<(), Error> {
    match retraining.iter().find(|r| r.status.gates()) {
        None => Ok(()),
        Some(pending) => Err(Error::Refused(
            Refusal::RetrainingRequired,
            format!(
                "retraining {} on {} is {} (due {}); a safety officer must record the training before this technician works that checklist",
                pending.id,
                pending.checklist_key,
                pending.status,
                pending.due_at.and_utc().to_rfc3339()
            ),
        )),
    }
}

/// Opens retraining for a technician who failed the same checklist item again, unless retraining
/// on that checklist is already under way.
pub(super) fn retrain_on_repeat(
    conn: &mut DbConnection,
    ctx: Context<'_>,
    incident: &IncidentRow,
    repeated_items: &[String],
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    if repeated_items.is_empty() {
        return Ok(());
    }
    let under_way = db::safety::retraining_on(
        conn,
        &incident.technician_id,
        &incident.checklist_key,
        &RetrainingStatus::UNDER_WAY,
    )?;
    if under_way.is_empty() {
        let (row, details) = new_retraining(ctx, incident, repeated_items, RetrainingCause::Repeat, now)?;
        follow_up::open(conn, &row, details, actor, now)?;
    }
    Ok(())
}

/// Opens the safety follow-up of a safety-critical incident: the make-safe visit, retraining that
/// gates the checklist and the disciplinary review, each reopened if a re-grade had closed it.
pub(super) fn open_safety_follow_up(
    conn: &mut DbConnection,
    ctx: Context<'_>,
    incident: &IncidentRow,
    failed_items: &[String],
    opening: Opening,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let (ts, id) = (now.naive_utc(), incident.id.as_str());
    let visit = opening.existing(|| db::safety::visit_for_incident(conn, id))?;
    follow_up::reopen_or_open(
        conn,
        ctx,
        visit,
        id,
        |conn| {
            let visit = MakeSafeVisitRow {
                id: uuid::Uuid::now_v7().to_string(),
                incident_id: incident.id.clone(),
                checklist_key: make_safe_checklist(conn, ctx, incident)?,
                due_at: (now + ctx.safety.make_safe_within).naive_utc(),
                status: VisitStatus::Open,
                job_id: None,
                outcome: None,
                signoff_id: None,
                note: None,
                created_at: ts,
                updated_at: ts,
            };
            let details = json!({ "incident_id": incident.id, "due_at": visit.due_at.and_utc(), "checklist": visit.checklist_key });
            Ok((visit, details))
        },
        actor,
        now,
    )?;
    let retraining = opening.existing(|| db::safety::retraining_for_incident(conn, id))?;
    follow_up::reopen_or_open(
        conn,
        ctx,
        retraining,
        id,
        |_| new_retraining(ctx, incident, failed_items, RetrainingCause::SafetyCritical, now),
        actor,
        now,
    )?;
    let case = opening.existing(|| db::safety::case_for_incident(conn, id))?;
    follow_up::reopen_or_open(
        conn,
        ctx,
        case,
        id,
        |_| {
            let case = DisciplinaryRow {
                id: uuid::Uuid::now_v7().to_string(),
                incident_id: incident.id.clone(),
                technician_id: incident.technician_id.clone(),
                status: CaseStatus::Open,
                behaviour: None,
                system_factors: Json::new(Vec::new())?,
                technician_statement: None,
                outcome: None,
                outcome_reason: None,
                proposed_by: None,
                approved_by: None,
                note: None,
                created_at: ts,
                updated_at: ts,
            };
            Ok((case, json!({ "incident_id": incident.id })))
        },
        actor,
        now,
    )?;
    audit(conn, actor, "safety.follow_up_opened", ("incident", id), json!({}), now)
}

fn new_retraining(
    ctx: Context<'_>,
    incident: &IncidentRow,
    items: &[String],
    cause: RetrainingCause,
    now: DateTime<Utc>,
) -> Result<(RetrainingRow, serde_json::Value), Error> {
    let row = RetrainingRow {
        id: uuid::Uuid::now_v7().to_string(),
        incident_id: incident.id.clone(),
        technician_id: incident.technician_id.clone(),
        checklist_key: incident.checklist_key.clone(),
        item_ids: Json::new(items.to_vec())?,
        cause,
        due_at: (now + ctx.safety.retraining_within).naive_utc(),
        status: RetrainingStatus::Pending,
        trained_at: None,
        trained_by: None,
        note: None,
        created_at: now.naive_utc(),
        updated_at: now.naive_utc(),
    };
    let details = json!({ "incident_id": incident.id, "checklist": row.checklist_key, "items": items, "cause": cause });
    Ok((row, details))
}

/// Closes the safety follow-up of an incident re-graded below safety-critical: nothing is deleted.
/// Each record closes only where its state machine allows it (a decided case stays decided).
pub(super) fn close_safety_follow_up(
    conn: &mut DbConnection,
    incident: &IncidentRow,
    reason: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let note = Some(format!("closed: re-graded {}: {reason}", incident.severity));
    let details = json!({ "reason": reason });
    if let Some(mut visit) = db::safety::visit_for_incident(conn, &incident.id)?
        && let Ok(next) = make_safe::step(visit.status, VisitStep::Cancel, actor.role)
    {
        (visit.status, visit.note, visit.updated_at) = (next, note.clone(), now.naive_utc());
        db::safety::save_visit(conn, &visit)?;
        audit(conn, actor, "make_safe.cancelled", ("make_safe_visit", &visit.id), details.clone(), now)?;
    }
    if let Some(mut retraining) = db::safety::retraining_for_incident(conn, &incident.id)?
        && retraining.cause == RetrainingCause::SafetyCritical
        && let Ok(next) = retraining::step(retraining.status, RetrainingStep::Cancel, actor.role)
    {
        (retraining.status, retraining.note, retraining.updated_at) = (next, note.clone(), now.naive_utc());
        db::safety::save_retraining(conn, &retraining)?;
        audit(conn, actor, "retraining.cancelled", ("retraining", &retraining.id), details.clone(), now)?;
    }
    if let Some(mut case) = db::safety::case_for_incident(conn, &incident.id)?
        && let Ok(next) = disciplinary::step(case.status, disciplinary::CaseStep::Close, actor.role, false)
    {
        (case.status, case.note, case.updated_at) = (next, note, now.naive_utc());
        db::safety::save_case(conn, &case)?;
        audit(conn, actor, "disciplinary.closed", ("disciplinary_case", &case.id), details, now)?;
    }
    Ok(())
}

/// The make-safe checklist of the incident's trade (`make-safe-<trade>`).
fn make_safe_checklist(conn: &mut DbConnection, ctx: Context<'_>, incident: &IncidentRow) -> Result<String, Error> {
    let job = db::jobs::find(conn, &incident.job_id)?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("incident without job")))?;
    let version = u32::try_from(job.checklist_version).map_err(anyhow::Error::from)?;
    let pinned = ctx
        .catalogue
        .version(conn, &job.checklist_key, version)?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("pinned checklist missing")))?;
    let trade = match pinned.checklist.trade {
        Trade::Gas => "gas",
        Trade::Electrical => "electrical",
        Trade::Telecom => "telecom",
        Trade::Plumbing => "plumbing",
    };
    Ok(format!("make-safe-{trade}"))
}

/// After a sign-off (in its transaction): close a make-safe visit it completes, and judge
/// retraining on this template by whether the trained items passed. `retraining` is the
/// technician's retraining under way on the job's checklist ([`retraining_under_way`]), read in the
/// same transaction.
pub(crate) fn on_signed_off(
    conn: &mut DbConnection,
    job: &JobRow,
    signoff: &SignOffRow,
    failed: &[FailedItem],
    retraining: Vec<RetrainingRow>,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    if let Some(mut visit) = db::safety::visit_for_job(conn, &job.id)?
        && let Ok(next) = make_safe::step(visit.status, VisitStep::Complete, actor.role)
    {
        let outcome = if failed.is_empty() { VisitOutcome::MadeSafe } else { VisitOutcome::NotMadeSafe };
        visit.status = next;
        visit.outcome = Some(outcome);
        visit.signoff_id = Some(signoff.id.clone());
        visit.updated_at = now.naive_utc();
        db::safety::save_visit(conn, &visit)?;
        let details = json!({ "outcome": outcome, "signoff_id": signoff.id });
        audit(conn, actor, "make_safe.completed", ("make_safe_visit", &visit.id), details, now)?;
    }
    for mut retraining in retraining.into_iter().filter(|r| r.status == RetrainingStatus::Trained) {
        let verdict = safety::retraining_verdict(&retraining.item_ids, failed);
        retraining.status = retraining::step(retraining.status, RetrainingStep::Judge(verdict), actor.role)?;
        retraining.updated_at = now.naive_utc();
        if verdict == RetrainingVerdict::Ineffective {
            retraining.note = Some(format!(
                "failed again in sign-off {}: the gate is closed again; safety officer flagged",
                signoff.id
            ));
        }
        db::safety::save_retraining(conn, &retraining)?;
        let action = format!("retraining.{}", retraining.status);
        audit(conn, actor, &action, ("retraining", &retraining.id), json!({ "signoff_id": signoff.id }), now)?;
    }
    Ok(())
}

/// A dispatcher sends a technician to make the site safe: a job on the make-safe checklist at
/// the same customer and site. Not the technician involved, unless a reason is given.
pub fn assign_make_safe(
    conn: &mut DbConnection,
    visit_id: &str,
    technician: &str,
    override_reason: Option<&str>,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<MakeSafeVisitRow, Error> {
    write_transaction(conn, |conn| {
        let mut visit = db::safety::visit(conn, visit_id)?
            .ok_or_else(|| Error::NotFound(format!("no make-safe visit {visit_id}")))?;
        let next = make_safe::step(visit.status, VisitStep::Assign, actor.role)?;
        let incident = db::incidents::find(conn, &visit.incident_id)?
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("visit without incident")))?;
        let user = db::users::by_username(conn, technician)?
            .filter(|u| u.active && u.role == Role::Technician)
            .ok_or_else(|| Error::field("technician", format!("`{technician}` is not an active technician")))?;
        if user.id == incident.technician_id && override_reason.is_none_or(|r| r.trim().len() < 10) {
            return Err(Error::field(
                "technician",
                "was involved in the incident; send override_reason (at least 10 characters) to assign them anyway",
            ));
        }
        let note = format!("URGENT make-safe visit for incident {}", incident.id);
        let created =
            super::jobs::follow_up_job(conn, &incident.job_id, &user.username, &visit.checklist_key, note, actor, now)?;
        visit.status = next;
        visit.job_id = Some(created.job.id.clone());
        visit.note = override_reason.map(|r| format!("involved technician assigned: {}", r.trim()));
        visit.updated_at = now.naive_utc();
        db::safety::save_visit(conn, &visit)?;
        let details =
            json!({ "technician": user.username, "job_id": created.job.id, "override_reason": override_reason });
        audit(conn, actor, "make_safe.assigned", ("make_safe_visit", &visit.id), details, now)?;
        Ok(visit)
    })
}

/// A safety officer records that the technician completed the retraining; the gate opens.
pub fn record_training(
    conn: &mut DbConnection,
    id: &str,
    note: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<RetrainingRow, Error> {
    write_transaction(conn, |conn| {
        let mut row =
            db::safety::retraining(conn, id)?.ok_or_else(|| Error::NotFound(format!("no retraining {id}")))?;
        row.status = retraining::step(row.status, RetrainingStep::RecordTraining, actor.role)?;
        row.trained_at = Some(now.naive_utc());
        row.trained_by = actor.id.clone();
        row.note = Some(note.to_owned());
        row.updated_at = now.naive_utc();
        db::safety::save_retraining(conn, &row)?;
        audit(conn, actor, "retraining.trained", ("retraining", id), json!({ "note": note }), now)?;
        Ok(row)
    })
}

/// What a safety officer records when auditing an incident.
#[derive(Debug, Clone)]
pub struct AuditRecord {
    pub confirmed_severity: Severity,
    /// Required when `confirmed_severity` differs from the current grade.
    pub regrade_reason: Option<String>,
    pub root_cause: RootCause,
    pub root_cause_detail: String,
    pub corrective_actions: Vec<String>,
}

/// Records the safety audit of an incident (once); re-grades it in the same transaction when
/// the auditor does not confirm the grade.
pub fn record_audit(
    conn: &mut DbConnection,
    ctx: Context<'_>,
    incident_id: &str,
    record: AuditRecord,
    expected: &Expected,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<SafetyAuditRow, Error> {
    write_transaction(conn, |conn| {
        let incident = db::incidents::find(conn, incident_id)?
            .ok_or_else(|| Error::NotFound(format!("no incident {incident_id}")))?;
        super::incidents::check_expected(&incident, expected)?;
        if incident.in_triage() {
            return Err(Error::Conflict("the report waits in triage: grade it before auditing it".to_owned()));
        }
        if db::safety::audit_for_incident(conn, incident_id)?.is_some() {
            return Err(Error::Conflict("this incident has already been audited".to_owned()));
        }
        if incident.severity != record.confirmed_severity {
            let reason = record.regrade_reason.clone().filter(|r| r.trim().chars().count() >= 10).ok_or_else(|| {
                Error::field("regrade_reason", "the audit changes the grade: give the reason in at least 10 characters")
            })?;
            let change = Change::Regrade { severity: record.confirmed_severity, reason, by: Role::SafetyOfficer };
            super::incidents::change_in(conn, ctx, incident_id, &Expected::Any, change, actor, now)?;
        }
        let row = SafetyAuditRow {
            id: uuid::Uuid::now_v7().to_string(),
            incident_id: incident_id.to_owned(),
            auditor_id: actor.id.clone().unwrap_or_default(),
            confirmed_severity: record.confirmed_severity,
            root_cause: record.root_cause,
            root_cause_detail: record.root_cause_detail.clone(),
            corrective_actions: Json::new(record.corrective_actions.clone())?,
            recorded_at: now.naive_utc(),
        };
        db::safety::insert_audit(conn, &row)?;
        let details = json!({
            "confirmed_severity": row.confirmed_severity, "root_cause": row.root_cause,
            "root_cause_detail": row.root_cause_detail, "corrective_actions": record.corrective_actions,
        });
        audit(conn, actor, "incident.audited", ("incident", incident_id), details, now)?;
        Ok(row)
    })
}

/// A step in a disciplinary case, with what the person records.
#[derive(Debug, Clone)]
pub enum CaseStep {
    /// The reviewer records the kind of behaviour and the system's part (open → under review).
    Review { behaviour: Behaviour, system_factors: Vec<SystemFactor> },
    /// The technician adds a statement (before the decision).
    Statement { text: String },
    /// The reviewer decides; an outcome out of line with the behaviour awaits a second approval.
    Decide { outcome: Outcome, reason: String },
    /// A second safety officer approves an out-of-line outcome.
    Approve,
}

/// Moves a disciplinary case one step: load, ask the case's state machine, save and audit.
pub fn case_step(
    conn: &mut DbConnection,
    id: &str,
    step: CaseStep,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<DisciplinaryRow, Error> {
    // The role first: a wrong role learns nothing about which cases exist or what state they are in.
    let needed = match step {
        CaseStep::Statement { .. } => Role::Technician,
        _ => Role::SafetyOfficer,
    };
    if actor.role != Some(needed) {
        return Err(Error::Refused(
            Refusal::WrongRole,
            format!("this step of a disciplinary case needs the role {needed}"),
        ));
    }
    write_transaction(conn, |conn| {
        let mut case =
            db::safety::case(conn, id)?.ok_or_else(|| Error::NotFound(format!("no disciplinary case {id}")))?;
        let concerned = actor.is(&case.technician_id);
        if needed == Role::Technician && !concerned {
            return Err(Error::NotFound(format!("no disciplinary case {id}")));
        }
        let machine_step = match &step {
            CaseStep::Review { .. } => disciplinary::CaseStep::Review,
            CaseStep::Statement { .. } => disciplinary::CaseStep::Statement,
            CaseStep::Decide { outcome, .. } => {
                let behaviour = case.behaviour.ok_or_else(|| {
                    Error::Conflict(format!("the case is {}; record the behaviour (review) first", case.status))
                })?;
                let in_line = safety::in_line(behaviour, !case.system_factors.is_empty(), *outcome);
                disciplinary::CaseStep::Decide { in_line }
            }
            CaseStep::Approve => disciplinary::CaseStep::Approve { same_officer: case.proposed_by == actor.id },
        };
        case.status = disciplinary::step(case.status, machine_step, actor.role, concerned)?;
        let (action, details) = match step {
            CaseStep::Statement { text } => {
                case.technician_statement = Some(text);
                ("disciplinary.statement", json!({}))
            }
            CaseStep::Review { behaviour, system_factors } => {
                case.behaviour = Some(behaviour);
                case.system_factors = Json::new(system_factors)?;
                ("disciplinary.reviewed", json!({ "behaviour": behaviour, "system_factors": *case.system_factors }))
            }
            CaseStep::Decide { outcome, reason } => {
                let fits = case.status == CaseStatus::Decided;
                case.outcome = Some(outcome);
                case.outcome_reason = Some(reason.clone());
                case.proposed_by = actor.id.clone();
                let action = if fits { "disciplinary.decided" } else { "disciplinary.proposed" };
                (action, json!({ "outcome": outcome, "reason": reason, "in_line": fits }))
            }
            CaseStep::Approve => {
                case.approved_by = actor.id.clone();
                ("disciplinary.approved", json!({ "outcome": case.outcome }))
            }
        };
        case.updated_at = now.naive_utc();
        db::safety::save_case(conn, &case)?;
        audit(conn, actor, action, ("disciplinary_case", id), details, now)?;
        Ok(case)
    })
}
