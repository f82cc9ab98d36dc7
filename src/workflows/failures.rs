//! Failure reports: filed after the fact by technicians and dispatchers (typically what a customer
//! said on the phone), or raised by a sign-off with failed items. Each opens a graded incident in
//! the same transaction.

use chrono::{DateTime, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Actor, Context, Recorded, audit, incidents};
use super::{Error, FieldError, Refusal};
use crate::db::failures::{FailureItemRow, FailureRow};
use crate::db::incidents::IncidentRow;
use crate::db::jobs::JobRow;
use crate::db::types::Json;
use crate::db::{self, DbConnection, write_transaction};
use crate::domain::Role;
use crate::domain::evaluation::Graded;
use crate::domain::rules::RuleSet;
use crate::domain::severity::{self, FailureFacts, GradedFacts, Hazard, ServiceLoss};
use crate::domain::signoff::FailedItem;
use crate::domain::states::FailureSource;

/// A failure report as filed, checked for shape at the edge.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NewFailure {
    pub id: uuid::Uuid,
    pub job_id: uuid::Uuid,
    pub description: String,
    pub item_ids: Vec<String>,
    pub hazards: Vec<Hazard>,
    pub injury: bool,
    pub vulnerable_occupant: bool,
    pub service_lost: Option<ServiceLoss>,
}

/// A stored failure and the incident it opened.
#[derive(Debug)]
pub struct FailureOutcome {
    pub failure: FailureRow,
    pub incident: IncidentRow,
}

/// Files a report. The same id and content again returns the original; other content is a conflict.
pub fn report(
    conn: &mut DbConnection,
    ctx: Context<'_>,
    new: NewFailure,
    reporter: &Actor,
    now: DateTime<Utc>,
) -> Result<Recorded<FailureOutcome>, Error> {
    let reporter_id = reporter.id.clone().ok_or_else(|| {
        Error::Refused(Refusal::SignedInUserRequired, "a failure is reported by a signed-in user".to_owned())
    })?;
    let job_id = new.job_id.to_string();
    let job = db::jobs::find(conn, &job_id)?
        .filter(|job| reporter.role != Some(Role::Technician) || reporter.is(&job.technician_id))
        .ok_or_else(|| Error::field("job_id", format!("no job {job_id} you can report on")))?;
    let hash = hex::encode(Sha256::digest(
        serde_json::to_vec(&json!({ "report": new, "by": reporter_id })).map_err(anyhow::Error::from)?,
    ));
    let id = new.id.to_string();
    if let Some(existing) = db::failures::find(conn, &id)? {
        return replay(conn, existing, &hash);
    }

    let failed_items = named_items(conn, ctx, &job, &new.item_ids)?;
    let failure = FailureRow {
        id: id.clone(),
        source: FailureSource::Report,
        job_id: job_id.clone(),
        signoff_id: None,
        reported_by: reporter_id,
        reported_at: now.naive_utc(),
        description: new.description.clone(),
        item_ids: Json::new(new.item_ids.clone())?,
        hazards: Json::new(new.hazards.clone())?,
        injury: new.injury,
        vulnerable_occupant: new.vulnerable_occupant,
        service_lost: new.service_lost.clone().map(Json::new).transpose()?,
        content_hash: hash.clone(),
    };
    let facts = FailureFacts {
        description: &new.description,
        failed_items: &failed_items,
        hazards: &new.hazards,
        injury: new.injury,
        vulnerable_occupant: new.vulnerable_occupant,
        service_lost: new.service_lost.as_ref(),
        repeats: &[],
    };
    // why: grading reads the text, outside the one writer's turn; the repeats are added in it.
    let graded = GradedFacts::new(facts, ctx.rules);
    let written = write_transaction(conn, |conn| record(conn, ctx, &failure, &job, graded, reporter, now));
    match written {
        Ok(incident) => Ok(Recorded::Created(FailureOutcome { failure, incident })),
        // A retry raced this request and won: answer as a replay of what it stored.
        Err(err) if err.is_duplicate_in("failure_reports") => match db::failures::find(conn, &id)? {
            Some(existing) => replay(conn, existing, &hash),
            None => Err(Error::Conflict(format!("failure report {id} conflicts with stored data"))),
        },
        Err(other) => Err(other),
    }
}

/// Stores a failure (and its items) and opens its incident, in the caller's transaction; `graded`
/// holds its facts and their grading, done before the transaction (see [`incidents::open`]).
pub(crate) fn record(
    conn: &mut DbConnection,
    ctx: Context<'_>,
    failure: &FailureRow,
    job: &JobRow,
    graded: GradedFacts<'_>,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<IncidentRow, Error> {
    let failed_items = graded.facts().failed_items;
    let items: Vec<FailureItemRow> = failed_items
        .iter()
        .map(|item| FailureItemRow {
            failure_id: failure.id.clone(),
            item_id: item.item_id.clone(),
            checklist_key: job.checklist_key.clone(),
            checklist_version: job.checklist_version,
            technician_id: job.technician_id.clone(),
            reported_at: failure.reported_at,
        })
        .collect();
    db::failures::insert(conn, failure, &items)?;
    let details = json!({ "job_id": failure.job_id, "source": failure.source, "items": failed_items.iter().map(|f| &f.item_id).collect::<Vec<_>>() });
    audit(conn, actor, "failure.reported", ("failure", &failure.id), details, now)?;
    incidents::open(conn, ctx, failure, job, graded, actor, now)
}

fn replay(conn: &mut DbConnection, existing: FailureRow, hash: &str) -> Result<Recorded<FailureOutcome>, Error> {
    if existing.source != FailureSource::Report || existing.content_hash != hash {
        return Err(Error::Conflict(format!(
            "failure report {} was already received with different content; send a new id",
            existing.id
        )));
    }
    let incident = db::incidents::for_failure(conn, &existing.id)?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("failure {} has no incident", existing.id)))?;
    Ok(Recorded::Replayed(FailureOutcome { failure: existing, incident }))
}

/// The named checklist items of the job's pinned version, as failed items; unknown ids are a 422.
fn named_items(
    conn: &mut DbConnection,
    ctx: Context<'_>,
    job: &JobRow,
    item_ids: &[String],
) -> Result<Vec<FailedItem>, Error> {
    if item_ids.is_empty() {
        return Ok(Vec::new());
    }
    let version = u32::try_from(job.checklist_version).map_err(anyhow::Error::from)?;
    let pinned = ctx
        .catalogue
        .version(conn, &job.checklist_key, version)?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("pinned checklist {}/v{version} missing", job.checklist_key)))?;
    let mut errors = Vec::new();
    let mut failed = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for item_id in item_ids.iter().filter(|id| seen.insert(id.as_str())) {
        match pinned.checklist.item(item_id) {
            Some(item) => failed.push(FailedItem {
                item_id: item.id.clone(),
                reason: "named in a failure report".to_owned(),
                severity_hint: item.severity_hint,
                hazards: item.hazards.clone(),
            }),
            None => errors.push(FieldError::new(
                format!("item_ids[{item_id}]"),
                format!("no such item in checklist {} v{version}", job.checklist_key),
            )),
        }
    }
    if errors.is_empty() { Ok(failed) } else { Err(Error::Invalid(errors)) }
}

/// A stored report graded again with another rule set (`fieldproof rules diff`).
#[derive(Debug)]
pub struct Regraded {
    pub incident_id: String,
    pub reported_at: DateTime<Utc>,
    pub description: String,
    /// The machine's grade then (`triage` when it could not grade the report).
    pub before: String,
    pub after: String,
    /// `rule: evidence` under the other rule set.
    pub reasons: Vec<String>,
}

impl Regraded {
    pub fn changed(&self) -> bool {
        self.before != self.after
    }
}

/// Re-grades every report `from_version` graded since `since` with `rules`. Reads only.
pub fn regrade_stored(
    conn: &mut DbConnection,
    from_version: &str,
    rules: &RuleSet,
    since: DateTime<Utc>,
) -> Result<Vec<Regraded>, Error> {
    let stored = db::incidents::graded_by(conn, from_version, since.naive_utc())?;
    stored
        .into_iter()
        .map(|(incident, failure)| {
            let hazards = &failure.hazards;
            let service_lost = failure.service_lost.as_deref().cloned();
            let kept = &incident.reasons;
            let facts = FailureFacts {
                description: &failure.description,
                failed_items: &[],
                hazards,
                injury: failure.injury,
                vulnerable_occupant: failure.vulnerable_occupant,
                service_lost: service_lost.as_ref(),
                repeats: &[],
            };
            let verdict = severity::reclassify(&facts, kept, rules);
            Ok(Regraded {
                before: incident.machine_grade().to_owned(),
                after: Graded::of(&verdict).as_str().to_owned(),
                reasons: verdict.reasons.iter().map(|r| format!("{}: {}", r.rule, r.evidence)).collect(),
                incident_id: incident.id,
                reported_at: incident.reported_at.and_utc(),
                description: failure.description,
            })
        })
        .collect()
}
