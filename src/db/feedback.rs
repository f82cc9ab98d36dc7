//! Customer feedback after a recovery: one request per case, answered once.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::feedback_requests as f;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = f)]
pub struct FeedbackRow {
    pub id: String,
    pub recovery_case_id: String,
    pub customer_id: String,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub answered_at: Option<NaiveDateTime>,
    /// 1 (very unhappy) to 5 (delighted).
    pub satisfaction: Option<i32>,
    /// The answer to "did anything we did surprise you?".
    pub surprised: Option<bool>,
    pub surprise_note: Option<String>,
    pub comment: Option<String>,
}

/// A customer's answer.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = f)]
pub struct Answer {
    pub answered_at: NaiveDateTime,
    pub satisfaction: i32,
    pub surprised: bool,
    pub surprise_note: Option<String>,
    pub comment: Option<String>,
}

pub fn insert(conn: &mut DbConnection, row: &FeedbackRow) -> QueryResult<()> {
    diesel::insert_into(f::table).values(row).execute(conn).map(drop)
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<FeedbackRow>> {
    super::cached::first!(f::table.find(id).select(FeedbackRow::as_select()), conn)
}

pub fn for_case(conn: &mut DbConnection, case_id: &str) -> QueryResult<Option<FeedbackRow>> {
    super::cached::first!(f::table.filter(f::recovery_case_id.eq(case_id)).select(FeedbackRow::as_select()), conn)
}

/// Stores the answer unless one is stored already (`false` then): the link works once.
pub fn answer(conn: &mut DbConnection, id: &str, answer: &Answer) -> QueryResult<bool> {
    let changed =
        diesel::update(f::table.filter(f::id.eq(id)).filter(f::answered_at.is_null())).set(answer).execute(conn)?;
    Ok(changed == 1)
}
