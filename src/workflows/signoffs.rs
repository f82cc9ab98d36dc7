//! Signing off a job: answers judged against the job's pinned checklist version, stored once and
//! for ever with its content hash and an audit entry, in one transaction.

use chrono::{DateTime, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Actor, Context, Recorded, audit, failures, safety};
use super::{Error, FieldError, Refusal};
use crate::db::types::Json;
use crate::db::{self, DbConnection, failures::FailureRow, signoffs::SignOffRow, write_transaction};
use crate::domain::Role;
use crate::domain::severity::{FailureFacts, GradedFacts};
use crate::domain::signoff::{self, Answer, FailedItem};
use crate::domain::states::{FailureSource, JobStatus};

/// How far ahead of the server clock a device's `signed_at` may be before it is refused.
pub const MAX_CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// A sign-off as the app sent it, checked for shape at the edge.
#[derive(Debug, Clone)]
pub struct NewSignOff {
    pub id: uuid::Uuid,
    pub job_id: uuid::Uuid,
    pub answers: Vec<Answer>,
    pub signed_at: DateTime<Utc>,
    pub signer_name: String,
    pub meaning: String,
    /// The signer re-authenticated with their sign-off PIN just before (checked by the caller; the
    /// PIN itself never reaches this far). Not part of what was attested, so not in the content hash.
    pub reauthenticated: bool,
}

/// A stored sign-off and the incident its failed items opened, if any.
#[derive(Debug)]
pub struct StoredSignOff {
    pub row: SignOffRow,
    pub incident_id: Option<String>,
}

/// Records the assigned technician's sign-off. The same id and content again returns the
/// original; the same id with other content is a conflict. Failed items open a failure report
/// and its graded incident in the same transaction.
pub fn record(
    conn: &mut DbConnection,
    ctx: Context<'_>,
    new: NewSignOff,
    technician: &Actor,
    now: DateTime<Utc>,
) -> Result<Recorded<StoredSignOff>, Error> {
    technician.require(&[Role::Technician])?;
    let job_id = new.job_id.to_string();
    let job = db::jobs::find(conn, &job_id)?
        .filter(|job| technician.is(&job.technician_id))
        .ok_or_else(|| Error::NotFound(format!("no job {job_id} assigned to you")))?;
    let hash = content_hash(&new, &job.technician_id, &job.checklist_key, job.checklist_version)?;
    let id = new.id.to_string();
    let version = u32::try_from(job.checklist_version).map_err(anyhow::Error::from)?;
    let pinned = ctx
        .catalogue
        .version(conn, &job.checklist_key, version)?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("pinned checklist {}/v{version} missing", job.checklist_key)))?;
    let failed = signoff::evaluate(&pinned.checklist, &new.answers).map_err(|problems| {
        Error::Invalid(
            problems.into_iter().map(|p| FieldError::new(format!("answers[{}]", p.item_id), p.message)).collect(),
        )
    })?;
    if new.signed_at > now + MAX_CLOCK_SKEW {
        return Err(Error::field("signed_at", "is more than 24 hours in the future; check the device clock"));
    }

    let row = SignOffRow {
        id: id.clone(),
        job_id: job_id.clone(),
        technician_id: job.technician_id.clone(),
        checklist_key: job.checklist_key.clone(),
        checklist_version: job.checklist_version,
        answers: Json::new(new.answers.clone())?,
        failed_items: Json::new(failed.clone())?,
        signed_at: new.signed_at.naive_utc(),
        received_at: now.naive_utc(),
        signer_name: new.signer_name,
        meaning: new.meaning,
        content_hash: hash.clone(),
        reauthenticated: new.reauthenticated,
    };
    // Failed items raise a failure report, graded here, outside the one writer's turn.
    let notes = (!failed.is_empty()).then(|| notes_of(&new.answers, &failed));
    let failure = notes
        .as_deref()
        .map(|notes| -> Result<_, Error> {
            let facts = FailureFacts { failed_items: &failed, ..FailureFacts::text(notes) };
            Ok((failure_of(&row, notes, &failed)?, GradedFacts::new(facts, ctx.rules)))
        })
        .transpose()?;
    // why: a retry is found by the insert's unique key (then answered below as a replay), not by
    // a look-up before every sign-off; and one read of the technician's retraining serves both the
    // skill gate and the judgement of training after the sign-off. Two statements fewer per sign-off.
    let written: Result<_, Error> = write_transaction(conn, |conn| {
        // why: lock order. The technician's counter, then the job row, then the children: the
        // sign-off insert's foreign-key lock on the job comes after this transaction already holds
        // the job, so concurrent sign-offs on one job queue instead of deadlocking.
        let seq = db::next_change_seq(conn, &job.technician_id)?;
        // why: read under the counter's lock, so that two sign-offs by one technician never judge the
        // same retraining from the same stale copy (on PostgreSQL a read before it could be).
        let retraining = safety::retraining_under_way(conn, &job.technician_id, &job.checklist_key)?;
        safety::gate(&retraining)?;
        db::jobs::mark_changed(conn, &job_id, JobStatus::SignedOff, seq, now.naive_utc())?;
        db::signoffs::insert(conn, &row)?;
        let details = json!({
            "job_id": job_id,
            "checklist": format!("{}/v{}", row.checklist_key, row.checklist_version),
            "content_hash": row.content_hash,
            "reauthenticated": row.reauthenticated,
            "failed_items": failed.iter().map(|f| f.item_id.as_str()).collect::<Vec<_>>(),
        });
        audit(conn, technician, "signoff.recorded", ("signoff", &row.id), details, now)?;
        safety::on_signed_off(conn, &job, &row, &failed, retraining, technician, now)?;
        super::recovery::on_signed_off(conn, ctx, &job.id, failed.len(), technician, now)?;
        let Some((failure, graded)) = failure else {
            return Ok(None);
        };
        let incident = failures::record(conn, ctx, &failure, &job, graded, technician, now)?;
        Ok(Some(incident.id))
    });
    match written {
        Ok(incident_id) => Ok(Recorded::Created(StoredSignOff { row, incident_id })),
        // This id is stored already (a retry, or a retry that raced this request and won): answer
        // as a replay of what was stored.
        Err(err) if err.is_duplicate_in("signoffs") => match db::signoffs::find(conn, &id)? {
            Some(existing) => replay(conn, existing, &job_id, &hash),
            None => Err(Error::Conflict(format!("sign-off {id} conflicts with stored data"))),
        },
        // The gate may have closed since the original was accepted: its retry still gets the replay.
        Err(refused @ Error::Refused(Refusal::RetrainingRequired, _)) => match db::signoffs::find(conn, &id)? {
            Some(existing) => replay(conn, existing, &job_id, &hash),
            None => Err(refused),
        },
        Err(other) => Err(other),
    }
}

fn replay(
    conn: &mut DbConnection,
    existing: SignOffRow,
    job_id: &str,
    hash: &str,
) -> Result<Recorded<StoredSignOff>, Error> {
    if existing.job_id == job_id && existing.content_hash == hash {
        let incident_id =
            db::incidents::for_signoffs(conn, std::slice::from_ref(&existing.id))?.pop().map(|(_, id)| id);
        Ok(Recorded::Replayed(StoredSignOff { row: existing, incident_id }))
    } else {
        Err(Error::Conflict(format!(
            "sign-off {} was already received with different content; sign-offs never change, send a new id",
            existing.id
        )))
    }
}

/// The failure report a sign-off with failed items raises; `notes` are the technician's notes on them.
fn failure_of(row: &SignOffRow, notes: &str, failed: &[FailedItem]) -> Result<FailureRow, Error> {
    let summary: Vec<String> = failed.iter().map(|f| format!("{} ({})", f.item_id, f.reason)).collect();
    let mut description = format!("Failed at sign-off: {}.", summary.join("; "));
    if !notes.is_empty() {
        description.push_str(&format!(" Technician notes: {notes}"));
    }
    Ok(FailureRow {
        id: uuid::Uuid::now_v7().to_string(),
        source: FailureSource::Signoff,
        job_id: row.job_id.clone(),
        signoff_id: Some(row.id.clone()),
        reported_by: row.technician_id.clone(),
        reported_at: row.received_at,
        description,
        item_ids: Json::new(failed.iter().map(|f| f.item_id.clone()).collect())?,
        hazards: Json::new(Vec::new())?,
        injury: false,
        vulnerable_occupant: false,
        service_lost: None,
        content_hash: row.content_hash.clone(),
    })
}

/// The technician's notes on the failed items: the free text the classifier reads.
fn notes_of(answers: &[Answer], failed: &[FailedItem]) -> String {
    answers
        .iter()
        .filter(|a| failed.iter().any(|f| f.item_id == a.item_id))
        .filter_map(|a| a.note.as_deref())
        .filter(|n| !n.trim().is_empty())
        .collect::<Vec<_>>()
        .join(". ")
}

/// SHA-256 over the canonical JSON of everything the signer attested to.
fn content_hash(
    new: &NewSignOff,
    technician_id: &str,
    checklist_key: &str,
    checklist_version: i32,
) -> anyhow::Result<String> {
    let signed = json!({
        "job_id": new.job_id,
        "technician_id": technician_id,
        "checklist_key": checklist_key,
        "checklist_version": checklist_version,
        "answers": new.answers,
        "signed_at": new.signed_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "signer_name": new.signer_name,
        "meaning": new.meaning,
    });
    Ok(hex::encode(Sha256::digest(serde_json::to_vec(&signed)?)))
}
