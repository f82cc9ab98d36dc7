//! Adding users (admins do it from the command line).

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{Actor, audit};
use crate::auth::{Role, password};
use crate::db::{self, DbConnection, users::UserRow, write_transaction};
use crate::error::ApiError;

/// Creates an active user with an Argon2id hash of `password`; the username must be free.
pub fn add(
    conn: &mut DbConnection,
    username: &str,
    display_name: &str,
    role: Role,
    plain_password: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<UserRow, ApiError> {
    let username = username.trim();
    if username.is_empty() || username.len() > 64 || username.chars().any(char::is_whitespace) {
        return Err(ApiError::field("username", "1 to 64 characters, no spaces"));
    }
    if plain_password.chars().count() < password::MIN_PASSWORD_LEN {
        return Err(ApiError::field("password", format!("at least {} characters", password::MIN_PASSWORD_LEN)));
    }
    let row = UserRow {
        id: uuid::Uuid::now_v7().to_string(),
        username: username.to_owned(),
        display_name: if display_name.trim().is_empty() { username.to_owned() } else { display_name.trim().to_owned() },
        role: role.as_str().to_owned(),
        password_hash: password::hash(plain_password)?,
        active: true,
        created_at: now.naive_utc(),
    };
    write_transaction(conn, |conn| {
        if db::users::by_username(conn, &row.username)?.is_some() {
            return Err(ApiError::Conflict(format!("user `{}` already exists", row.username)));
        }
        db::users::insert(conn, &row)?;
        audit(
            conn,
            actor,
            "user.created",
            ("user", &row.id),
            json!({ "username": row.username, "role": row.role }),
            now,
        )?;
        Ok(())
    })?;
    Ok(row)
}
