//! Safety-critical follow-up. When an incident is graded safety-critical (when reported or by a
//! re-grade), in the same transaction: an urgent make-safe visit, a retraining assignment that
//! gates the technician's skill, and a disciplinary review case; the safety audit queue picks the
//! incident up. Nothing here decides anyone's fate: people record the decisions, audited.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::incidents::{Change, Expected};
use super::jobs::{CustomerRef, NewJob, Site};
use super::{Actor, Context, audit};
use super::{Error, Refusal};
use crate::db::incidents::IncidentRow;
use crate::db::jobs::JobRow;
use crate::db::safety::{DisciplinaryRow, MakeSafeVisitRow, RetrainingRow, SafetyAuditRow};
use crate::db::signoffs::SignOffRow;
use crate::db::{self, DbConnection, write_transaction};
use crate::domain::Role;
use crate::domain::checklist::Trade;
use crate::domain::safety::{self, Behaviour, Outcome, RetrainingVerdict, RootCause, SystemFactor};
use crate::domain::severity::Severity;
use crate::domain::signoff::FailedItem;

/// Retraining statuses that keep the technician off the template.
pub const GATING: [&str; 2] = ["pending", "ineffective"];
const SAFETY_CRITICAL: &str = "safety_critical";

/// Refuses (`retraining-required`) naming the pending retraining if `technician_id` may not work `checklist_key`.
pub fn check_gate(conn: &mut DbConnection, technician_id: &str, checklist_key: &str) -> Result<(), Error> {
    match db::safety::retraining_on(conn, technician_id, checklist_key, &GATING)?.first() {
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
        &["pending", "trained", "ineffective"],
    )?;
    if under_way.is_empty() {
        open_retraining(conn, ctx, incident, repeated_items, "repeat", actor, now)?;
    }
    Ok(())
}

/// Opens the safety follow-up of a safety-critical incident: the make-safe visit (or reopens a
/// cancelled one) and retraining that gates the checklist. The audit and the disciplinary review
/// follow from the safety officer's audit.
pub(super) fn open_safety_follow_up(
    conn: &mut DbConnection,
    ctx: Context<'_>,
    incident: &IncidentRow,
    failed_items: &[String],
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let ts = now.naive_utc();
    match db::safety::visit_for_incident(conn, &incident.id)? {
        Some(mut visit) if visit.status == "cancelled" => {
            visit.status = "open".to_owned();
            visit.due_at = (now + ctx.safety.make_safe_within).naive_utc();
            visit.updated_at = ts;
            db::safety::save_visit(conn, &visit)?;
            audit(
                conn,
                actor,
                "make_safe.reopened",
                ("make_safe_visit", &visit.id),
                json!({ "incident_id": incident.id }),
                now,
            )?;
        }
        Some(_) => {}
        None => {
            let visit = MakeSafeVisitRow {
                id: uuid::Uuid::now_v7().to_string(),
                incident_id: incident.id.clone(),
                checklist_key: make_safe_checklist(conn, ctx, incident)?,
                due_at: (now + ctx.safety.make_safe_within).naive_utc(),
                status: "open".to_owned(),
                job_id: None,
                outcome: None,
                signoff_id: None,
                note: None,
                created_at: ts,
                updated_at: ts,
            };
            db::safety::insert_visit(conn, &visit)?;
            let details = json!({ "incident_id": incident.id, "due_at": visit.due_at.and_utc(), "checklist": visit.checklist_key });
            audit(conn, actor, "make_safe.opened", ("make_safe_visit", &visit.id), details, now)?;
        }
    }
    match db::safety::retraining_for_incident(conn, &incident.id)? {
        Some(mut retraining) if retraining.status == "cancelled" => {
            retraining.status = "pending".to_owned();
            retraining.cause = SAFETY_CRITICAL.to_owned();
            retraining.due_at = (now + ctx.safety.retraining_within).naive_utc();
            retraining.updated_at = ts;
            db::safety::save_retraining(conn, &retraining)?;
            audit(
                conn,
                actor,
                "retraining.reopened",
                ("retraining", &retraining.id),
                json!({ "incident_id": incident.id }),
                now,
            )?;
        }
        Some(_) => {}
        None => open_retraining(conn, ctx, incident, failed_items, SAFETY_CRITICAL, actor, now)?,
    }
    match db::safety::case_for_incident(conn, &incident.id)? {
        Some(mut case) if case.status == "closed" => {
            case.status = "open".to_owned();
            case.updated_at = ts;
            db::safety::save_case(conn, &case)?;
            audit(
                conn,
                actor,
                "disciplinary.reopened",
                ("disciplinary_case", &case.id),
                json!({ "incident_id": incident.id }),
                now,
            )?;
        }
        Some(_) => {}
        None => {
            let case = DisciplinaryRow {
                id: uuid::Uuid::now_v7().to_string(),
                incident_id: incident.id.clone(),
                technician_id: incident.technician_id.clone(),
                status: "open".to_owned(),
                behaviour: None,
                system_factors: "[]".to_owned(),
                technician_statement: None,
                outcome: None,
                outcome_reason: None,
                proposed_by: None,
                approved_by: None,
                note: None,
                created_at: ts,
                updated_at: ts,
            };
            db::safety::insert_case(conn, &case)?;
            audit(
                conn,
                actor,
                "disciplinary.opened",
                ("disciplinary_case", &case.id),
                json!({ "incident_id": incident.id }),
                now,
            )?;
        }
    }
    audit(conn, actor, "safety.follow_up_opened", ("incident", &incident.id), json!({}), now)
}

fn open_retraining(
    conn: &mut DbConnection,
    ctx: Context<'_>,
    incident: &IncidentRow,
    items: &[String],
    cause: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let row = RetrainingRow {
        id: uuid::Uuid::now_v7().to_string(),
        incident_id: incident.id.clone(),
        technician_id: incident.technician_id.clone(),
        checklist_key: incident.checklist_key.clone(),
        item_ids: serde_json::to_string(items).map_err(anyhow::Error::from)?,
        cause: cause.to_owned(),
        due_at: (now + ctx.safety.retraining_within).naive_utc(),
        status: "pending".to_owned(),
        trained_at: None,
        trained_by: None,
        note: None,
        created_at: now.naive_utc(),
        updated_at: now.naive_utc(),
    };
    db::safety::insert_retraining(conn, &row)?;
    let details = json!({ "incident_id": incident.id, "checklist": row.checklist_key, "items": items, "cause": cause });
    audit(conn, actor, "retraining.opened", ("retraining", &row.id), details, now)
}

/// Closes the safety follow-up of an incident re-graded below safety-critical: nothing is deleted.
pub(super) fn close_safety_follow_up(
    conn: &mut DbConnection,
    incident: &IncidentRow,
    reason: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let note = Some(format!("closed: re-graded {}: {reason}", incident.severity));
    if let Some(mut visit) = db::safety::visit_for_incident(conn, &incident.id)?
        && (visit.status == "open" || visit.status == "assigned")
    {
        (visit.status, visit.note, visit.updated_at) = ("cancelled".to_owned(), note.clone(), now.naive_utc());
        db::safety::save_visit(conn, &visit)?;
        audit(conn, actor, "make_safe.cancelled", ("make_safe_visit", &visit.id), json!({ "reason": reason }), now)?;
    }
    if let Some(mut retraining) = db::safety::retraining_for_incident(conn, &incident.id)?
        && retraining.cause == SAFETY_CRITICAL
        && ["pending", "trained", "ineffective"].contains(&retraining.status.as_str())
    {
        (retraining.status, retraining.note, retraining.updated_at) =
            ("cancelled".to_owned(), note.clone(), now.naive_utc());
        db::safety::save_retraining(conn, &retraining)?;
        audit(conn, actor, "retraining.cancelled", ("retraining", &retraining.id), json!({ "reason": reason }), now)?;
    }
    if let Some(mut case) = db::safety::case_for_incident(conn, &incident.id)?
        && case.status != "decided"
        && case.status != "closed"
    {
        (case.status, case.note, case.updated_at) = ("closed".to_owned(), note, now.naive_utc());
        db::safety::save_case(conn, &case)?;
        audit(conn, actor, "disciplinary.closed", ("disciplinary_case", &case.id), json!({ "reason": reason }), now)?;
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
/// retraining on this template by whether the trained items passed.
pub(crate) fn on_signed_off(
    conn: &mut DbConnection,
    job: &JobRow,
    signoff: &SignOffRow,
    failed: &[FailedItem],
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    if let Some(mut visit) = db::safety::visit_for_job(conn, &job.id)?
        && visit.status == "assigned"
    {
        let outcome = if failed.is_empty() { "made_safe" } else { "not_made_safe" };
        visit.status = "done".to_owned();
        visit.outcome = Some(outcome.to_owned());
        visit.signoff_id = Some(signoff.id.clone());
        visit.updated_at = now.naive_utc();
        db::safety::save_visit(conn, &visit)?;
        let details = json!({ "outcome": outcome, "signoff_id": signoff.id });
        audit(conn, actor, "make_safe.completed", ("make_safe_visit", &visit.id), details, now)?;
    }
    for mut retraining in db::safety::retraining_on(conn, &job.technician_id, &job.checklist_key, &["trained"])? {
        let items: Vec<String> = serde_json::from_str(&retraining.item_ids).map_err(anyhow::Error::from)?;
        let (status, action) = match safety::retraining_verdict(&items, failed) {
            RetrainingVerdict::Effective => ("effective", "retraining.effective"),
            RetrainingVerdict::Ineffective => ("ineffective", "retraining.ineffective"),
        };
        retraining.status = status.to_owned();
        retraining.updated_at = now.naive_utc();
        if status == "ineffective" {
            retraining.note = Some(format!(
                "failed again in sign-off {}: the gate is closed again; safety officer flagged",
                signoff.id
            ));
        }
        db::safety::save_retraining(conn, &retraining)?;
        audit(conn, actor, action, ("retraining", &retraining.id), json!({ "signoff_id": signoff.id }), now)?;
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
        if visit.status != "open" {
            return Err(Error::Conflict(format!("the make-safe visit is {}", visit.status)));
        }
        let incident = db::incidents::find(conn, &visit.incident_id)?
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("visit without incident")))?;
        let user = db::users::by_username(conn, technician)?
            .filter(|u| u.active && u.role == Role::Technician.as_str())
            .ok_or_else(|| Error::field("technician", format!("`{technician}` is not an active technician")))?;
        if user.id == incident.technician_id && override_reason.is_none_or(|r| r.trim().len() < 10) {
            return Err(Error::field(
                "technician",
                "was involved in the incident; send override_reason (at least 10 characters) to assign them anyway",
            ));
        }
        let original = db::jobs::find(conn, &incident.job_id)?
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("incident without job")))?;
        let job = NewJob {
            id: uuid::Uuid::now_v7(),
            customer: CustomerRef::Existing(original.customer_id.parse().map_err(anyhow::Error::from)?),
            site: Site {
                address: original.site_address,
                postcode: original.site_postcode,
                notes: Some(format!("URGENT make-safe visit for incident {}", incident.id)),
            },
            technician: user.username.clone(),
            checklist_key: visit.checklist_key.clone(),
            scheduled_for: now,
        };
        let created = super::jobs::create_in(conn, job, actor, now)?;
        visit.status = "assigned".to_owned();
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
        if !GATING.contains(&row.status.as_str()) {
            return Err(Error::Conflict(format!("the retraining is {}", row.status)));
        }
        row.status = "trained".to_owned();
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
        if incident.severity != record.confirmed_severity.as_str() {
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
            confirmed_severity: record.confirmed_severity.as_str().to_owned(),
            root_cause: enum_str(&record.root_cause)?,
            root_cause_detail: record.root_cause_detail.clone(),
            corrective_actions: serde_json::to_string(&record.corrective_actions).map_err(anyhow::Error::from)?,
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

/// The snake_case name serde gives an enum value.
pub fn enum_str<T: serde::Serialize>(value: &T) -> Result<String, Error> {
    match serde_json::to_value(value).map_err(anyhow::Error::from)? {
        serde_json::Value::String(s) => Ok(s),
        other => Err(Error::Internal(anyhow::anyhow!("not a unit enum: {other}"))),
    }
}

/// A step in a disciplinary case.
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

/// Moves a disciplinary case one step, checking who may take it.
pub fn case_step(
    conn: &mut DbConnection,
    id: &str,
    step: CaseStep,
    actor: &Actor,
    role: Role,
    now: DateTime<Utc>,
) -> Result<DisciplinaryRow, Error> {
    // The role first: a wrong role learns nothing about which cases exist or what state they are in.
    let needed = match step {
        CaseStep::Statement { .. } => Role::Technician,
        _ => Role::SafetyOfficer,
    };
    if role != needed {
        return Err(Error::Refused(
            Refusal::WrongRole,
            format!("this step of a disciplinary case needs the role {}", needed.as_str()),
        ));
    }
    write_transaction(conn, |conn| {
        let mut case =
            db::safety::case(conn, id)?.ok_or_else(|| Error::NotFound(format!("no disciplinary case {id}")))?;
        let is_own = actor.id.as_deref() == Some(case.technician_id.as_str());
        if role == Role::Technician && !is_own {
            return Err(Error::NotFound(format!("no disciplinary case {id}")));
        }
        let finished = case.status == "decided" || case.status == "closed";
        let (action, details) = match step {
            CaseStep::Statement { text } => {
                if !is_own {
                    return Err(Error::Refused(
                        Refusal::TechnicianOnly,
                        "only the technician concerned adds a statement".to_owned(),
                    ));
                }
                if finished || case.status == "awaiting_approval" {
                    return Err(Error::Conflict(format!(
                        "the case is {}; statements are taken before the decision",
                        case.status
                    )));
                }
                case.technician_statement = Some(text);
                ("disciplinary.statement", json!({}))
            }
            _ if role != Role::SafetyOfficer || is_own => {
                return Err(Error::Refused(
                    Refusal::WrongRole,
                    "only a safety officer, not the technician concerned, reviews and decides".to_owned(),
                ));
            }
            CaseStep::Review { behaviour, system_factors } => {
                if case.status != "open" && case.status != "under_review" {
                    return Err(Error::Conflict(format!("the case is {}", case.status)));
                }
                case.status = "under_review".to_owned();
                case.behaviour = Some(enum_str(&behaviour)?);
                case.system_factors = serde_json::to_string(&system_factors).map_err(anyhow::Error::from)?;
                ("disciplinary.reviewed", json!({ "behaviour": case.behaviour, "system_factors": system_factors }))
            }
            CaseStep::Decide { outcome, reason } => {
                if case.status != "under_review" {
                    return Err(Error::Conflict(format!(
                        "the case is {}; record the behaviour (review) first",
                        case.status
                    )));
                }
                let behaviour: Behaviour =
                    serde_json::from_value(json!(case.behaviour)).map_err(anyhow::Error::from)?;
                let factors: Vec<SystemFactor> =
                    serde_json::from_str(&case.system_factors).map_err(anyhow::Error::from)?;
                let fits = safety::in_line(behaviour, !factors.is_empty(), outcome);
                case.status = if fits { "decided" } else { "awaiting_approval" }.to_owned();
                case.outcome = Some(enum_str(&outcome)?);
                case.outcome_reason = Some(reason.clone());
                case.proposed_by = actor.id.clone();
                let action = if fits { "disciplinary.decided" } else { "disciplinary.proposed" };
                (action, json!({ "outcome": case.outcome, "reason": reason, "in_line": fits }))
            }
            CaseStep::Approve => {
                if case.status != "awaiting_approval" {
                    return Err(Error::Conflict(format!("the case is {}; nothing awaits approval", case.status)));
                }
                if case.proposed_by == actor.id {
                    return Err(Error::Refused(
                        Refusal::SecondApproverRequired,
                        "a second safety officer must approve an outcome out of line".to_owned(),
                    ));
                }
                case.status = "decided".to_owned();
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
