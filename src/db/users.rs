//! Users who sign in: technicians, dispatchers, safety officers, admins.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::users::dsl as u;
use crate::domain::Role;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = super::schema::users)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
    pub active: bool,
    pub created_at: NaiveDateTime,
    /// Tokens carry it; bumping it ends every token issued before.
    pub session_epoch: i64,
}

pub fn by_username(conn: &mut DbConnection, username: &str) -> QueryResult<Option<UserRow>> {
    super::cached::first!(u::users.filter(u::username.eq(username)).select(UserRow::as_select()), conn)
}

pub fn by_id(conn: &mut DbConnection, id: &str) -> QueryResult<Option<UserRow>> {
    super::cached::first!(u::users.find(id).select(UserRow::as_select()), conn)
}

pub fn insert(conn: &mut DbConnection, row: &UserRow) -> QueryResult<()> {
    diesel::insert_into(u::users).values(row).execute(conn).map(drop)
}

pub fn save(conn: &mut DbConnection, row: &UserRow) -> QueryResult<()> {
    diesel::update(u::users.find(&row.id)).set(row).execute(conn).map(drop)
}

/// Every user, by username.
pub fn list(conn: &mut DbConnection) -> QueryResult<Vec<UserRow>> {
    u::users.order(u::username.asc()).select(UserRow::as_select()).load(conn)
}

/// Every user's username and display name (to keep staff names out of customer messages).
pub fn all_names(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    let rows: Vec<(String, String)> = u::users.select((u::username, u::display_name)).load(conn)?;
    Ok(rows.into_iter().flat_map(|(username, display)| [username, display]).collect())
}

/// Usernames of the users with these ids, in one query.
pub fn usernames(conn: &mut DbConnection, ids: &[&str]) -> QueryResult<std::collections::HashMap<String, String>> {
    let rows: Vec<(String, String)> = u::users.filter(u::id.eq_any(ids)).select((u::id, u::username)).load(conn)?;
    Ok(rows.into_iter().collect())
}

/// A user's session epoch, whether they are active, and their role: what every token is checked against.
pub fn session(conn: &mut DbConnection, id: &str) -> QueryResult<Option<(i64, bool, String)>> {
    super::cached::first!(u::users.find(id).select((u::session_epoch, u::active, u::role)), conn)
}

/// Ends every token the user holds now.
pub fn bump_session_epoch(conn: &mut DbConnection, id: &str) -> QueryResult<()> {
    diesel::update(u::users.find(id)).set(u::session_epoch.eq(u::session_epoch + 1)).execute(conn).map(drop)
}

/// The Argon2id hash of the user's sign-off PIN, if they have set one.
pub fn pin_hash(conn: &mut DbConnection, user_id: &str) -> QueryResult<Option<String>> {
    use super::schema::signoff_pins::dsl as p;
    super::cached::first!(p::signoff_pins.find(user_id).select(p::pin_hash), conn)
}

/// Stores the user's sign-off PIN hash (in the caller's transaction); `true` when it is their first.
pub fn set_pin(conn: &mut DbConnection, user_id: &str, pin_hash: &str, at: NaiveDateTime) -> QueryResult<bool> {
    use super::schema::signoff_pins::dsl as p;
    let changed = diesel::update(p::signoff_pins.find(user_id))
        .set((p::pin_hash.eq(pin_hash), p::set_at.eq(at)))
        .execute(conn)?;
    if changed == 1 {
        return Ok(false);
    }
    diesel::insert_into(p::signoff_pins)
        .values((p::user_id.eq(user_id), p::pin_hash.eq(pin_hash), p::set_at.eq(at)))
        .execute(conn)?;
    Ok(true)
}
