//! Jobs: a visit to a customer's site by one technician, pinned to one checklist version.

use chrono::NaiveDateTime;
use diesel::dsl::auto_type;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::{customers, jobs, users};
use crate::domain::states::JobStatus;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = jobs)]
pub struct JobRow {
    pub id: String,
    pub customer_id: String,
    pub site_address: String,
    pub site_postcode: String,
    pub site_notes: Option<String>,
    pub technician_id: String,
    pub checklist_key: String,
    pub checklist_version: i32,
    pub scheduled_for: NaiveDateTime,
    pub status: JobStatus,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub change_seq: i64,
}

/// A job with the names a client shows beside it.
#[derive(Debug, Clone)]
pub struct JobView {
    pub job: JobRow,
    pub customer_name: String,
    pub technician_username: String,
}

impl From<(JobRow, String, String)> for JobView {
    fn from((job, customer_name, technician_username): (JobRow, String, String)) -> Self {
        Self { job, customer_name, technician_username }
    }
}

#[auto_type]
fn with_names() -> _ {
    jobs::table.inner_join(customers::table).inner_join(users::table.on(users::id.eq(jobs::technician_id)))
}

pub fn insert(conn: &mut DbConnection, row: &JobRow) -> QueryResult<()> {
    diesel::insert_into(jobs::table).values(row).execute(conn).map(drop)
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<JobRow>> {
    super::cached::first!(jobs::table.find(id).select(JobRow::as_select()), conn)
}

pub fn find_view(conn: &mut DbConnection, id: &str) -> QueryResult<Option<JobView>> {
    let found: Option<(JobRow, String, String)> = super::cached::first!(
        with_names().filter(jobs::id.eq(id)).select((JobRow::as_select(), customers::name, users::username)),
        conn,
    )?;
    Ok(found.map(JobView::from))
}

/// A technician's jobs created or changed after `since` (a change sequence number), oldest change first.
pub fn changed_since(
    conn: &mut DbConnection,
    technician_id: &str,
    since: i64,
    limit: i64,
) -> QueryResult<Vec<JobView>> {
    with_names()
        .filter(jobs::technician_id.eq(technician_id))
        .filter(jobs::change_seq.gt(since))
        .order(jobs::change_seq.asc())
        .limit(limit)
        .select((JobRow::as_select(), customers::name, users::username))
        .load::<(JobRow, String, String)>(conn)
        .map(|rows| rows.into_iter().map(JobView::from).collect())
}

/// Records a change to a job: new status, new change sequence number.
pub fn mark_changed(
    conn: &mut DbConnection,
    id: &str,
    status: JobStatus,
    seq: i64,
    at: NaiveDateTime,
) -> QueryResult<()> {
    let update = diesel::update(jobs::table.find(id))
        .set((jobs::status.eq(status), jobs::change_seq.eq(seq), jobs::updated_at.eq(at)))
        .returning(jobs::id);
    super::cached::execute!(update, conn).map(drop)
}
