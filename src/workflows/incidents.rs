//! Incidents: opened with the classifier's grade when a failure is reported, then worked from
//! the queue (acknowledge, assign, re-grade) under optimistic concurrency, every step audited.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::routing::{self, Grading};
use super::{Actor, Context, audit};
use super::{Error, Refusal};
use crate::db::types::Json;
use crate::db::{
    self, DbConnection, failures::FailureRow, incidents::IncidentChange, incidents::IncidentRow, jobs::JobRow,
};
use crate::domain::Role;
use crate::domain::severity::{GradedFacts, Repeat, Severity};
use crate::domain::states::IncidentStatus;

/// Not stored: an open incident whose report waits for a person to grade it (`triage_due_at` set,
/// `triaged_at` not yet).
pub const TRIAGE: &str = "triage";
pub const STATUSES: [&str; 5] = [TRIAGE, "open", "acknowledged", "assigned", "resolved"];

/// Opens the incident of a stored failure report, in the caller's transaction. `graded` is the
/// report's facts and their grading, done before the transaction; the repeats are looked up here and
/// added: the same customer within the rule set's window, and the same technician failing the same
/// checklist item before.
pub fn open(
    conn: &mut DbConnection,
    ctx: Context<'_>,
    failure: &FailureRow,
    job: &JobRow,
    graded: GradedFacts<'_>,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<IncidentRow, Error> {
    let mut repeats = Vec::new();
    let rules = ctx.rules;
    let window_start = now - chrono::Duration::days(i64::from(rules.repeat_window_days));
    if let Some(prior) =
        db::incidents::latest_for_customer(conn, &job.customer_id, window_start.naive_utc(), now.naive_utc())?
    {
        repeats.push(Repeat::SameCustomer {
            days_ago: (now.naive_utc() - prior.reported_at).num_days(),
            incident_id: prior.id,
        });
    }
    let item_ids: Vec<String> = graded.facts().failed_items.iter().map(|f| f.item_id.clone()).collect();
    let earlier =
        db::failures::earlier_item_failures(conn, &job.technician_id, &job.checklist_key, &item_ids, &failure.id)?;
    for item_id in &item_ids {
        if let Some((_, incident_id)) = earlier.iter().find(|(id, _)| id == item_id) {
            repeats.push(Repeat::SameTechnicianItem { item_id: item_id.clone(), incident_id: incident_id.clone() });
        }
    }
    let verdict = graded.with_repeats(&repeats);
    let triage_due_at = verdict.triage.map(|_| (now + ctx.safety.triage_within).naive_utc());
    let row = IncidentRow {
        id: uuid::Uuid::now_v7().to_string(),
        failure_id: failure.id.clone(),
        job_id: job.id.clone(),
        customer_id: job.customer_id.clone(),
        technician_id: job.technician_id.clone(),
        checklist_key: job.checklist_key.clone(),
        severity: verdict.severity,
        severity_rank: verdict.severity.rank(),
        original_severity: verdict.severity,
        reasons: Json::new(verdict.reasons.clone())?,
        rules_version: verdict.rules_version.clone(),
        is_repeat: verdict.repeat,
        status: IncidentStatus::Open,
        assignee_id: None,
        reported_at: now.naive_utc(),
        updated_at: now.naive_utc(),
        revision: 1,
        queue_rank: if triage_due_at.is_some() { db::incidents::TRIAGE_RANK } else { verdict.severity.rank() },
        triage_due_at,
        triaged_at: None,
    };
    db::incidents::insert(conn, &row)?;
    let details = json!({
        "failure_id": failure.id,
        "severity": row.severity,
        "triage": verdict.triage,
        "rules_version": row.rules_version,
        "repeat": row.is_repeat,
        "rules": verdict.reasons.iter().map(|r| r.rule.as_str()).collect::<Vec<_>>(),
    });
    audit(conn, actor, "incident.classified", ("incident", &row.id), details, now)?;
    let repeated: Vec<String> = repeats
        .iter()
        .filter_map(|r| match r {
            Repeat::SameTechnicianItem { item_id, .. } => Some(item_id.clone()),
            Repeat::SameCustomer { .. } => None,
        })
        .collect();
    routing::route(conn, ctx, &row, &item_ids, Grading::First { repeated_items: &repeated }, actor, now)?;
    Ok(row)
}

/// A change a handler makes to an incident.
#[derive(Debug, Clone)]
pub enum Change {
    Acknowledge,
    Assign {
        assignee: String,
    },
    /// A safety officer re-grades any incident; a dispatcher or safety officer grades one waiting
    /// in triage (the first person's grade, from which the follow-up starts).
    Regrade {
        severity: Severity,
        reason: String,
        by: Role,
    },
}

/// The `If-Match` precondition of a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// `If-Match: *`
    Any,
    /// The revisions named by the client's ETags.
    Revisions(Vec<i64>),
}

/// Applies `change` if the incident is still at a revision the client has seen (412 otherwise).
pub fn change(
    conn: &mut DbConnection,
    ctx: Context<'_>,
    id: &str,
    expected: &Expected,
    change: Change,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<IncidentRow, Error> {
    db::write_transaction(conn, |conn| change_in(conn, ctx, id, expected, change, actor, now))
}

/// 412 unless the client's `If-Match` names the incident's current revision.
pub fn check_expected(current: &IncidentRow, expected: &Expected) -> Result<(), Error> {
    match expected {
        Expected::Revisions(revisions) if !revisions.contains(&current.revision) => {
            Err(Error::Stale("the incident changed since you read it; fetch it again and retry".to_owned()))
        }
        _ => Ok(()),
    }
}

/// [`change`] inside the caller's transaction. A re-grade into or out of safety-critical opens
/// or closes the safety follow-up in the same transaction.
pub fn change_in(
    conn: &mut DbConnection,
    ctx: Context<'_>,
    id: &str,
    expected: &Expected,
    change: Change,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<IncidentRow, Error> {
    // The role first: a role that never grades learns nothing about which incidents exist.
    if let Change::Regrade { by, .. } = &change
        && ![Role::Dispatcher, Role::SafetyOfficer].contains(by)
    {
        return Err(Error::Refused(
            Refusal::WrongRole,
            "a safety officer re-grades an incident; a dispatcher grades a report in triage".to_owned(),
        ));
    }
    let current = db::incidents::find(conn, id)?.ok_or_else(|| Error::NotFound(format!("no incident {id}")))?;
    check_expected(&current, expected)?;
    let regrade_reason = match &change {
        Change::Regrade { reason, .. } => Some(reason.clone()),
        _ => None,
    };
    let (update, action, details) = plan(conn, &current, change, now)?;
    let update = IncidentChange { updated_at: Some(now.naive_utc()), ..update };
    if !db::incidents::update_at_revision(conn, id, current.revision, &update)? {
        return Err(Error::Stale("the incident changed while you changed it; retry".to_owned()));
    }
    audit(conn, actor, action, ("incident", id), details, now)?;
    let updated = db::incidents::find(conn, id)?.ok_or_else(|| Error::NotFound(format!("no incident {id}")))?;
    if let Some(reason) = regrade_reason {
        let failure = db::failures::find(conn, &updated.failure_id)?
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("incident without failure")))?;
        let items = &failure.item_ids;
        let grading = if current.in_triage() {
            Grading::First { repeated_items: &[] }
        } else {
            Grading::Regrade { before: &current, reason: &reason }
        };
        routing::route(conn, ctx, &updated, items, grading, actor, now)?;
    }
    Ok(updated)
}

fn plan(
    conn: &mut DbConnection,
    current: &IncidentRow,
    change: Change,
    now: DateTime<Utc>,
) -> Result<(IncidentChange, &'static str, serde_json::Value), Error> {
    Ok(match change {
        Change::Acknowledge => {
            if current.in_triage() {
                return Err(Error::Conflict("the report waits in triage: grade it first".to_owned()));
            }
            if current.status != IncidentStatus::Open {
                return Err(Error::Conflict(format!("the incident is already {}", current.status)));
            }
            let update = IncidentChange { status: Some(IncidentStatus::Acknowledged), ..Default::default() };
            (update, "incident.acknowledged", json!({ "from_status": current.status }))
        }
        Change::Assign { assignee } => {
            let user = db::users::by_username(conn, &assignee)?
                .filter(|u| u.active && u.role != Role::Technician)
                .ok_or_else(|| {
                    Error::field(
                        "assignee",
                        format!("`{assignee}` is not an active dispatcher, safety officer or admin"),
                    )
                })?;
            let update = IncidentChange {
                status: Some(IncidentStatus::Assigned),
                assignee_id: Some(user.id.clone()),
                ..Default::default()
            };
            (update, "incident.assigned", json!({ "assignee": user.username, "from_status": current.status }))
        }
        Change::Regrade { severity, reason, by } if current.in_triage() => {
            if ![Role::Dispatcher, Role::SafetyOfficer].contains(&by) {
                return Err(Error::Refused(
                    Refusal::WrongRole,
                    "a dispatcher or safety officer grades a report in triage".to_owned(),
                ));
            }
            let update = IncidentChange {
                severity: Some(severity),
                severity_rank: Some(severity.rank()),
                queue_rank: Some(severity.rank()),
                triaged_at: Some(now.naive_utc()),
                ..Default::default()
            };
            let details = json!({ "from": TRIAGE, "to": severity.as_str(), "reason": reason });
            (update, "incident.triaged", details)
        }
        Change::Regrade { severity, reason, by } => {
            if by != Role::SafetyOfficer {
                return Err(Error::Refused(
                    Refusal::WrongRole,
                    "only a safety officer re-grades an incident".to_owned(),
                ));
            }
            if current.severity == severity {
                return Err(Error::field("severity", format!("the incident is already {}", current.severity)));
            }
            let update = IncidentChange {
                severity: Some(severity),
                severity_rank: Some(severity.rank()),
                queue_rank: Some(severity.rank()),
                ..Default::default()
            };
            let details = json!({ "from": current.severity, "to": severity.as_str(), "original": current.original_severity, "reason": reason });
            (update, "incident.regraded", details)
        }
    })
}
