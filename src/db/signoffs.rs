//! Sign-offs: immutable once written (the database refuses updates and deletes).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::signoffs::dsl as s;
use super::types::Json;
use crate::domain::signoff::{Answer, FailedItem};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = super::schema::signoffs)]
pub struct SignOffRow {
    pub id: String,
    pub job_id: String,
    pub technician_id: String,
    pub checklist_key: String,
    pub checklist_version: i32,
    /// The answers as sent.
    pub answers: Json<Vec<Answer>>,
    pub failed_items: Json<Vec<FailedItem>>,
    pub signed_at: NaiveDateTime,
    pub received_at: NaiveDateTime,
    pub signer_name: String,
    pub meaning: String,
    pub content_hash: String,
    /// The signer re-authenticated with their sign-off PIN (21 CFR 11.200); the PIN is never stored.
    pub reauthenticated: bool,
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<SignOffRow>> {
    super::cached::first!(s::signoffs.find(id).select(SignOffRow::as_select()), conn)
}

/// Stores a sign-off; it joins the sign-off chain when its transaction commits.
pub fn insert(conn: &mut DbConnection, row: &SignOffRow) -> QueryResult<()> {
    super::appending(conn, |conn| {
        super::cached::execute!(diesel::insert_into(s::signoffs).values(row).returning(s::id), conn).map(drop)
    })
}

pub fn for_job(conn: &mut DbConnection, job_id: &str) -> QueryResult<Vec<SignOffRow>> {
    s::signoffs
        .filter(s::job_id.eq(job_id))
        .order((s::received_at.asc(), s::id.asc()))
        .select(SignOffRow::as_select())
        .load(conn)
}
