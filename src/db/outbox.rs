//! Customer messages waiting for (or past) delivery, and the worker's claims on them.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::outbox_messages as m;
use super::{DbConnection, write_transaction};
use crate::domain::states::{MessageKind, MessageStatus};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = m)]
pub struct MessageRow {
    pub id: String,
    /// Names the message for the receiver (email `Message-ID`, webhook `webhook-id`).
    pub dedup_key: String,
    pub customer_id: String,
    pub recovery_case_id: Option<String>,
    pub kind: MessageKind,
    pub subject: String,
    pub body: String,
    pub status: MessageStatus,
    /// Delivery attempts started (a claim counts as one, even if its worker died).
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub claimed_by: Option<String>,
    pub claimed_until: Option<NaiveDateTime>,
    pub channel: Option<String>,
    pub recipient: Option<String>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub delivered_at: Option<NaiveDateTime>,
}

pub fn insert(conn: &mut DbConnection, row: &MessageRow) -> QueryResult<()> {
    diesel::insert_into(m::table).values(row).execute(conn).map(drop)
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<MessageRow>> {
    super::cached::first!(m::table.find(id).select(MessageRow::as_select()), conn)
}

/// Messages in `statuses` (all when empty), newest first, after the keyset cursor `before`.
pub fn list(
    conn: &mut DbConnection,
    statuses: &[MessageStatus],
    case: Option<&str>,
    before: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<MessageRow>> {
    let mut query = m::table.select(MessageRow::as_select()).order(m::id.desc()).limit(limit).into_boxed();
    if !statuses.is_empty() {
        query = query.filter(m::status.eq_any(statuses.to_vec()));
    }
    if let Some(case) = case {
        query = query.filter(m::recovery_case_id.eq(case.to_owned()));
    }
    if let Some(before) = before {
        query = query.filter(m::id.lt(before.to_owned()));
    }
    query.load(conn)
}

/// Claims up to `limit` due messages for `worker` until `lease_until`, counting an attempt on each.
/// A claim whose lease has run out (its worker died) is claimed again.
pub fn claim(
    conn: &mut DbConnection,
    worker: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<MessageRow>> {
    write_transaction(conn, |conn| {
        let due = m::table
            .filter(m::status.eq(MessageStatus::Pending))
            .filter(m::next_attempt_at.le(now))
            .filter(m::claimed_until.is_null().or(m::claimed_until.lt(now)))
            .order((m::next_attempt_at.asc(), m::id.asc()))
            .limit(limit)
            .select(m::id);
        let ids: Vec<String> = match conn {
            // why: SKIP LOCKED lets instances sharing one PostgreSQL claim different messages at once.
            DbConnection::Postgresql(pg) => due.for_update().skip_locked().load(pg)?,
            // SQLite has one writer: BEGIN IMMEDIATE already serialises claimers.
            DbConnection::Sqlite(lite) => due.load(lite)?,
        };
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        diesel::update(m::table.filter(m::id.eq_any(&ids)))
            .set((m::claimed_by.eq(worker), m::claimed_until.eq(lease_until), m::attempts.eq(m::attempts + 1)))
            .execute(conn)?;
        m::table
            .filter(m::id.eq_any(&ids))
            .order((m::next_attempt_at.asc(), m::id.asc()))
            .select(MessageRow::as_select())
            .load(conn)
    })
}

/// Marks a message delivered (if no one has yet) and releases its claim; `false` if it was not pending.
pub fn mark_delivered(
    conn: &mut DbConnection,
    id: &str,
    channel: &str,
    recipient: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let changed = diesel::update(m::table.filter(m::id.eq(id)).filter(m::status.eq(MessageStatus::Pending)))
        .set((
            m::status.eq("delivered"),
            m::delivered_at.eq(now),
            m::channel.eq(channel),
            m::recipient.eq(recipient),
            m::claimed_by.eq(None::<String>),
            m::claimed_until.eq(None::<NaiveDateTime>),
            m::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(changed == 1)
}

/// Records a failed attempt: due again at `retry_at`, or given up (`failed`) when that is `None`.
pub fn mark_attempt_failed(
    conn: &mut DbConnection,
    id: &str,
    error: &str,
    retry_at: Option<NaiveDateTime>,
) -> QueryResult<bool> {
    let pending = m::table.filter(m::id.eq(id)).filter(m::status.eq(MessageStatus::Pending));
    let released =
        (m::last_error.eq(error), m::claimed_by.eq(None::<String>), m::claimed_until.eq(None::<NaiveDateTime>));
    let changed = match retry_at {
        Some(at) => diesel::update(pending).set((released, m::next_attempt_at.eq(at))).execute(conn)?,
        None => diesel::update(pending).set((released, m::status.eq("failed"))).execute(conn)?,
    };
    Ok(changed == 1)
}

/// Puts a given-up message back in the queue, due now, with a fresh count of attempts.
pub fn requeue(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    let changed = diesel::update(m::table.filter(m::id.eq(id)).filter(m::status.eq("failed")))
        .set((m::status.eq(MessageStatus::Pending), m::next_attempt_at.eq(now), m::attempts.eq(0)))
        .execute(conn)?;
    Ok(changed == 1)
}

/// Gives back the messages `worker` still holds (it is stopping before it could deliver them): they
/// are due again at once for any worker, instead of when the lease runs out. Returns how many.
pub fn release(conn: &mut DbConnection, worker: &str) -> QueryResult<usize> {
    diesel::update(m::table.filter(m::claimed_by.eq(worker)).filter(m::status.eq(MessageStatus::Pending)))
        .set((m::claimed_by.eq(None::<String>), m::claimed_until.eq(None::<NaiveDateTime>)))
        .execute(conn)
}
