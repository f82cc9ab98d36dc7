//! Customers: the people whose homes the jobs are at (they are not users).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::customers::dsl as c;
use super::types::Json;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = super::schema::customers)]
pub struct CustomerRow {
    pub id: String,
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// Known preferences (e.g. "prefers texts", "has a dog called Bella").
    pub preferences: Json<Vec<String>>,
    pub notes: Option<String>,
    pub created_at: NaiveDateTime,
}

pub fn by_id(conn: &mut DbConnection, id: &str) -> QueryResult<Option<CustomerRow>> {
    super::cached::first!(c::customers.find(id).select(CustomerRow::as_select()), conn)
}

/// The customers with these ids (in no particular order).
pub fn by_ids(conn: &mut DbConnection, ids: &[&str]) -> QueryResult<Vec<CustomerRow>> {
    c::customers.filter(c::id.eq_any(ids)).select(CustomerRow::as_select()).load(conn)
}

pub fn insert(conn: &mut DbConnection, row: &CustomerRow) -> QueryResult<()> {
    diesel::insert_into(c::customers).values(row).execute(conn).map(drop)
}
