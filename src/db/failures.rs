//! Failure reports and the checklist items they name (immutable once written).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::{failure_items, failure_reports, incidents};
use super::types::Json;
use crate::domain::severity::{Hazard, ServiceLoss};
use crate::domain::states::FailureSource;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = failure_reports)]
pub struct FailureRow {
    pub id: String,
    pub source: FailureSource,
    pub job_id: String,
    pub signoff_id: Option<String>,
    pub reported_by: String,
    pub reported_at: NaiveDateTime,
    pub description: String,
    /// The checklist items that failed.
    pub item_ids: Json<Vec<String>>,
    pub hazards: Json<Vec<Hazard>>,
    pub injury: bool,
    pub vulnerable_occupant: bool,
    pub service_lost: Option<Json<ServiceLoss>>,
    pub content_hash: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = failure_items)]
pub struct FailureItemRow {
    pub failure_id: String,
    pub item_id: String,
    pub checklist_key: String,
    pub checklist_version: i32,
    pub technician_id: String,
    pub reported_at: NaiveDateTime,
}

/// The notes of the failures `ids`, by failure id (one query for a page of incidents).
pub fn descriptions(conn: &mut DbConnection, ids: &[&str]) -> QueryResult<std::collections::HashMap<String, String>> {
    failure_reports::table
        .filter(failure_reports::id.eq_any(ids))
        .select((failure_reports::id, failure_reports::description))
        .load::<(String, String)>(conn)
        .map(|rows| rows.into_iter().collect())
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<FailureRow>> {
    super::cached::first!(failure_reports::table.find(id).select(FailureRow::as_select()), conn)
}

/// Stores a failure report and its items; the report joins its chain when the transaction commits.
pub fn insert(conn: &mut DbConnection, row: &FailureRow, items: &[FailureItemRow]) -> QueryResult<()> {
    super::appending(conn, |conn| {
        super::cached::execute!(
            diesel::insert_into(failure_reports::table).values(row).returning(failure_reports::id),
            conn,
        )?;
        for item in items {
            let insert = diesel::insert_into(failure_items::table).values(item).returning(failure_items::item_id);
            super::cached::execute!(insert, conn)?;
        }
        Ok(())
    })
}

/// Earlier incidents in which `technician_id` failed one of `item_ids` of `checklist_key`,
/// as (item id, incident id), oldest first.
pub fn earlier_item_failures(
    conn: &mut DbConnection,
    technician_id: &str,
    checklist_key: &str,
    item_ids: &[String],
    excluding_failure: &str,
) -> QueryResult<Vec<(String, String)>> {
    failure_items::table
        .inner_join(incidents::table.on(incidents::failure_id.eq(failure_items::failure_id)))
        .filter(failure_items::technician_id.eq(technician_id))
        .filter(failure_items::checklist_key.eq(checklist_key))
        .filter(failure_items::item_id.eq_any(item_ids))
        .filter(failure_items::failure_id.ne(excluding_failure))
        .order(failure_items::reported_at.asc())
        .select((failure_items::item_id, incidents::id))
        .load(conn)
}
