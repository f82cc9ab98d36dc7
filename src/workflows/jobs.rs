//! Issuing jobs: a technician, a customer's site and the checklist version the job is pinned to.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{Actor, audit};
use super::{Error, FieldError};
use crate::db::types::Json;
use crate::db::{self, DbConnection, customers::CustomerRow, jobs::JobRow, jobs::JobView, write_transaction};
use crate::domain::Role;
use crate::domain::states::JobStatus;

/// A customer given inline when issuing a job for someone new.
#[derive(Debug, Clone)]
pub struct NewCustomer {
    pub id: uuid::Uuid,
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub preferences: Vec<String>,
    pub notes: Option<String>,
}

#[derive(Debug, Clone)]
pub enum CustomerRef {
    Existing(uuid::Uuid),
    New(NewCustomer),
}

#[derive(Debug, Clone)]
pub struct Site {
    pub address: String,
    pub postcode: String,
    pub notes: Option<String>,
}

/// A job as a dispatcher issues it, already checked for shape at the edge.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: uuid::Uuid,
    pub customer: CustomerRef,
    pub site: Site,
    pub technician: String,
    pub checklist_key: String,
    pub scheduled_for: DateTime<Utc>,
}

/// Issues a job pinned to the latest version of its checklist at this moment.
pub fn create(conn: &mut DbConnection, job: NewJob, actor: &Actor, now: DateTime<Utc>) -> Result<JobView, Error> {
    write_transaction(conn, |conn| create_in(conn, job, actor, now))
}

/// A follow-up visit (make-safe, expedited fix) in the caller's transaction: a job now, for the
/// same customer at the same site as `original_job_id`, on `checklist_key`, with `notes` for the
/// technician.
pub(crate) fn follow_up_job(
    conn: &mut DbConnection,
    original_job_id: &str,
    technician: &str,
    checklist_key: &str,
    notes: String,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<JobView, Error> {
    let original = db::jobs::find(conn, original_job_id)?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("no job {original_job_id}")))?;
    let job = NewJob {
        id: uuid::Uuid::now_v7(),
        customer: CustomerRef::Existing(original.customer_id.parse().map_err(anyhow::Error::from)?),
        site: Site { address: original.site_address, postcode: original.site_postcode, notes: Some(notes) },
        technician: technician.to_owned(),
        checklist_key: checklist_key.to_owned(),
        scheduled_for: now,
    };
    create_in(conn, job, actor, now)
}

/// [`create`] inside the caller's transaction. A technician with pending retraining on the
/// checklist cannot be given the job (403 naming the retraining).
pub fn create_in(conn: &mut DbConnection, job: NewJob, actor: &Actor, now: DateTime<Utc>) -> Result<JobView, Error> {
    let job_id = job.id.to_string();
    {
        let mut errors = Vec::new();
        let technician = db::users::by_username(conn, &job.technician)?;
        let technician = match technician {
            Some(user) if user.active && user.role == Role::Technician => Some(user),
            Some(_) => {
                errors.push(FieldError::new("technician", format!("`{}` is not an active technician", job.technician)));
                None
            }
            None => {
                errors.push(FieldError::new("technician", format!("no user `{}`", job.technician)));
                None
            }
        };
        let version = db::checklists::latest_version(conn, &job.checklist_key)?;
        if version.is_none() {
            errors.push(FieldError::new("checklist_key", format!("no published checklist `{}`", job.checklist_key)));
        }
        if let CustomerRef::Existing(id) = &job.customer
            && db::customers::by_id(conn, &id.to_string())?.is_none()
        {
            errors.push(FieldError::new("customer_id", format!("no customer {id}")));
        }
        let (Some(technician), Some(version)) = (technician, version) else {
            return Err(Error::Invalid(errors));
        };
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        super::safety::check_gate(conn, &technician.id, &job.checklist_key)?;
        if db::jobs::find(conn, &job_id)?.is_some() {
            return Err(Error::Conflict(format!("job {job_id} already exists")));
        }
        // Lock order, as in every job-changing transaction: the technician's counter first.
        let change_seq = db::next_change_seq(conn, &technician.id)?;
        let customer_id = match job.customer {
            CustomerRef::Existing(id) => id.to_string(),
            CustomerRef::New(customer) => add_customer(conn, customer, actor, now)?,
        };
        let row = JobRow {
            id: job_id.clone(),
            customer_id,
            site_address: job.site.address,
            site_postcode: job.site.postcode,
            site_notes: job.site.notes,
            technician_id: technician.id,
            checklist_key: job.checklist_key,
            checklist_version: version,
            scheduled_for: job.scheduled_for.naive_utc(),
            status: JobStatus::Scheduled,
            created_by: actor.id.clone().unwrap_or_default(),
            created_at: now.naive_utc(),
            updated_at: now.naive_utc(),
            change_seq,
        };
        db::jobs::insert(conn, &row)?;
        audit(
            conn,
            actor,
            "job.created",
            ("job", &row.id),
            json!({ "technician": technician.username, "checklist_key": row.checklist_key, "checklist_version": row.checklist_version }),
            now,
        )?;
        db::jobs::find_view(conn, &job_id)?.ok_or_else(|| Error::Internal(anyhow::anyhow!("job vanished after insert")))
    }
}

fn add_customer(
    conn: &mut DbConnection,
    customer: NewCustomer,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<String, Error> {
    let id = customer.id.to_string();
    if db::customers::by_id(conn, &id)?.is_some() {
        return Err(Error::field("customer.id", format!("customer {id} already exists; send it as customer_id")));
    }
    db::customers::insert(
        conn,
        &CustomerRow {
            id: id.clone(),
            name: customer.name,
            phone: customer.phone,
            email: customer.email,
            preferences: Json::new(customer.preferences)?,
            notes: customer.notes,
            created_at: now.naive_utc(),
        },
    )?;
    audit(conn, actor, "customer.created", ("customer", &id), json!({}), now)?;
    Ok(id)
}
