//! The append-only audit log: who changed what, when (the database refuses updates and deletes).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::audit_log::dsl as al;

#[derive(Insertable)]
#[diesel(table_name = super::schema::audit_log)]
pub struct NewAuditEntry<'a> {
    pub id: String,
    pub at: NaiveDateTime,
    pub actor_id: Option<&'a str>,
    pub actor: &'a str,
    pub action: &'a str,
    pub entity_type: &'a str,
    pub entity_id: &'a str,
    pub details: String,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::audit_log)]
pub struct AuditEntryRow {
    pub id: String,
    pub at: NaiveDateTime,
    pub actor_id: Option<String>,
    pub actor: String,
    pub action: String,
    pub entity_type: String,
    pub entity_id: String,
    pub details: String,
}

/// Appends an entry; it joins the audit chain when its transaction commits.
pub fn insert(conn: &mut DbConnection, entry: &NewAuditEntry<'_>) -> QueryResult<()> {
    super::appending(conn, |conn| {
        super::cached::execute!(diesel::insert_into(al::audit_log).values(entry).returning(al::id), conn).map(drop)
    })
}

pub fn for_entity(conn: &mut DbConnection, entity_type: &str, entity_id: &str) -> QueryResult<Vec<AuditEntryRow>> {
    al::audit_log
        .filter(al::entity_type.eq(entity_type))
        .filter(al::entity_id.eq(entity_id))
        .order((al::at.asc(), al::id.asc()))
        .select(AuditEntryRow::as_select())
        .load(conn)
}
