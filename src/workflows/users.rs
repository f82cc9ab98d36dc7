//! Users: admins add them (over HTTP or from the command line), change their role or name, reset
//! their password and deactivate them. Users are never deleted: their names stay on what they signed.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{Actor, audit};
use super::{Error, Refusal};
use crate::credentials::password;
use crate::db::{self, DbConnection, users::UserRow, write_transaction};
use crate::domain::Role;

/// Creates an active user with an Argon2id hash of `password`; the username must be free.
/// A new password, checked and hashed. Argon2 takes tens of milliseconds on purpose, so callers
/// hash before they take a database connection (`web::block` on the server).
#[derive(Clone)]
pub struct NewPassword(String);

impl NewPassword {
    pub fn hash(plain: &str) -> Result<Self, Error> {
        if plain.chars().count() < password::MIN_PASSWORD_LEN {
            return Err(Error::field("password", format!("at least {} characters", password::MIN_PASSWORD_LEN)));
        }
        Ok(Self(password::hash(plain)?))
    }
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(..)")
    }
}

pub fn add(
    conn: &mut DbConnection,
    username: &str,
    display_name: &str,
    role: Role,
    password: NewPassword,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<UserRow, Error> {
    let username = username.trim();
    if username.is_empty() || username.len() > 64 || username.chars().any(char::is_whitespace) {
        return Err(Error::field("username", "1 to 64 characters, no spaces"));
    }
    if username.chars().any(is_deceptive) {
        return Err(Error::field("username", "no control, bidirectional-override or zero-width characters"));
    }
    let row = UserRow {
        id: uuid::Uuid::now_v7().to_string(),
        username: username.to_owned(),
        display_name: if display_name.trim().is_empty() { username.to_owned() } else { display_name.trim().to_owned() },
        role,
        password_hash: password.0,
        active: true,
        created_at: now.naive_utc(),
        session_epoch: 0,
    };
    write_transaction(conn, |conn| {
        if db::users::by_username(conn, &row.username)?.is_some() {
            return Err(Error::Conflict(format!("user `{}` already exists", row.username)));
        }
        db::users::insert(conn, &row)?;
        db::add_sync_counter(conn, &row.id)?;
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

/// Signs the user out everywhere: every token issued to them so far stops working.
pub fn sign_out_everywhere(conn: &mut DbConnection, actor: &Actor, now: DateTime<Utc>) -> Result<(), Error> {
    let id = actor
        .id
        .clone()
        .ok_or_else(|| Error::Refused(Refusal::SignedInUserRequired, "only a signed-in user signs out".to_owned()))?;
    write_transaction(conn, |conn| {
        db::users::bump_session_epoch(conn, &id)?;
        audit(conn, actor, "auth.signed_out_everywhere", ("user", &id), json!({}), now)
    })
}

/// Records a successful sign-in in the audit log.
pub fn record_sign_in(
    conn: &mut DbConnection,
    user_id: &str,
    username: &str,
    address: Option<std::net::IpAddr>,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let actor = Actor { id: Some(user_id.to_owned()), name: username.to_owned(), role: None };
    let details = json!({ "address": address.map(|a| a.to_string()) });
    audit(conn, &actor, "auth.signed_in", ("user", user_id), details, now)
}

/// Records a sign-in lockout (too many failed sign-ins) in the audit log.
pub fn record_lockout(
    conn: &mut DbConnection,
    user_id: Option<&str>,
    username: &str,
    address: Option<std::net::IpAddr>,
    locked: &str,
    retry_after: std::time::Duration,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let actor = Actor::service("sign-in throttle");
    let details = json!({
        "username": username,
        "address": address.map(|a| a.to_string()),
        "locked": locked,
        "seconds": retry_after.as_secs(),
    });
    audit(conn, &actor, "auth.locked_out", ("user", user_id.unwrap_or(username)), details, now)
}

/// Stores the signed-in user's new sign-off PIN, already hashed (Argon2 runs before, off the
/// database connection). Audited as `user.pin_set` the first time and `user.pin_changed` after,
/// never with the PIN or its hash.
pub fn set_pin(conn: &mut DbConnection, actor: &Actor, pin_hash: &str, now: DateTime<Utc>) -> Result<(), Error> {
    let id = actor
        .id
        .clone()
        .ok_or_else(|| Error::Refused(Refusal::SignedInUserRequired, "only a signed-in user sets a PIN".to_owned()))?;
    write_transaction(conn, |conn| {
        let first = db::users::set_pin(conn, &id, pin_hash, now.naive_utc())?;
        let action = if first { "user.pin_set" } else { "user.pin_changed" };
        audit(conn, actor, action, ("user", &id), json!({}), now)
    })
}

/// Records a sign-off PIN lockout (too many wrong PINs) in the audit log.
pub fn record_pin_lockout(
    conn: &mut DbConnection,
    actor: &Actor,
    address: Option<std::net::IpAddr>,
    retry_after: std::time::Duration,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let id = actor.id.clone().unwrap_or_else(|| actor.name.clone());
    let details = json!({ "address": address.map(|a| a.to_string()), "seconds": retry_after.as_secs() });
    audit(conn, actor, "auth.pin_locked_out", ("user", &id), details, now)
}

/// Characters that make a name read differently from what it is: controls, bidirectional overrides
/// and isolates, and zero-width characters.
fn is_deceptive(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// What an admin changes about a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    /// `false` stops the user signing in (tokens already issued run out within their lifetime).
    pub active: Option<bool>,
    pub password: Option<NewPassword>,
}

/// Applies an admin's change to a user, audited with the names of the fields changed (never the
/// password). An admin cannot deactivate or demote themselves, so there is always one left.
pub fn update(
    conn: &mut DbConnection,
    id: &str,
    change: UserChange,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<UserRow, Error> {
    if actor.id.as_deref() == Some(id)
        && (change.active == Some(false) || change.role.is_some_and(|r| r != Role::Admin))
    {
        return Err(Error::Refused(
            Refusal::SelfLockout,
            "admins cannot deactivate or demote themselves; ask another admin".to_owned(),
        ));
    }
    let display_name = change.display_name.map(|name| name.trim().to_owned());
    if display_name.as_deref().is_some_and(|name| name.is_empty() || name.chars().count() > 200) {
        return Err(Error::field("display_name", "1 to 200 characters"));
    }
    let password_hash = change.password.map(|p| p.0);
    write_transaction(conn, |conn| {
        let mut user = db::users::by_id(conn, id)?.ok_or_else(|| Error::NotFound(format!("no user {id}")))?;
        let mut changed = Vec::new();
        if let Some(name) = display_name.filter(|name| *name != user.display_name) {
            user.display_name = name;
            changed.push("display_name");
        }
        if let Some(role) = change.role.filter(|role| *role != user.role) {
            user.role = role;
            changed.push("role");
        }
        if let Some(active) = change.active.filter(|active| *active != user.active) {
            user.active = active;
            changed.push("active");
        }
        if let Some(hash) = password_hash {
            user.password_hash = hash;
            changed.push("password");
        }
        if changed.is_empty() {
            return Ok(user);
        }
        // A new role, a deactivation or a new password ends every session the user has.
        if changed.iter().any(|c| ["role", "active", "password"].contains(c)) {
            user.session_epoch += 1;
        }
        db::users::save(conn, &user)?;
        let details = json!({ "changed": changed, "role": user.role, "active": user.active });
        audit(conn, actor, "user.updated", ("user", &user.id), details, now)?;
        Ok(user)
    })
}
