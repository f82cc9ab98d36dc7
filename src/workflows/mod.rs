//! Business actions. Each public function is one action in one transaction, with its audit entry.

pub mod checklists;
pub mod error;
pub mod failures;
mod follow_up;
pub mod incidents;
pub mod jobs;
pub mod messages;
pub mod recovery;
mod routing;
pub mod safety;
pub mod signoffs;
pub mod users;

use chrono::{DateTime, Utc};

use crate::db::{self, DbConnection};
use crate::domain::Role;

pub use error::{Error, FieldError, Refusal};

/// What business actions read besides the database: published checklists, the severity rules
/// and recovery policy in force, the safety deadlines and the feedback-link signer.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub catalogue: &'a crate::catalogue::Catalogue,
    pub rules: &'a crate::domain::rules::RuleSet,
    pub safety: &'a crate::config::SafetyPolicy,
    pub policy: &'a crate::domain::recovery::Policy,
    pub links: &'a crate::credentials::links::FeedbackLinks,
}

/// What an idempotent create did: stored something new, or found the same request stored before.
#[derive(Debug)]
pub enum Recorded<T> {
    Created(T),
    Replayed(T),
}

/// Who performed an action, as the audit log records it and as the action checks it.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The user's id; `None` for the command line, a customer and the service itself.
    pub id: Option<String>,
    pub name: String,
    /// The signed-in user's role; `None` for the command line, a customer and the service.
    pub role: Option<Role>,
}

impl Actor {
    /// A signed-in user.
    pub fn user(id: impl Into<String>, username: impl Into<String>, role: Role) -> Self {
        Self { id: Some(id.into()), name: username.into(), role: Some(role) }
    }

    /// An operator at the command line (`fieldproof users add`, `checklists import`).
    pub fn cli() -> Self {
        Self::service("cli")
    }

    /// The service itself (the outbox worker, the sign-in throttle).
    pub fn service(name: &str) -> Self {
        Self { id: None, name: name.to_owned(), role: None }
    }

    /// Whether the actor is the signed-in user `id`.
    pub fn is(&self, id: &str) -> bool {
        self.id.as_deref() == Some(id)
    }

    /// Refuses with [`Refusal::WrongRole`] unless the actor has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<Role, Error> {
        match self.role {
            Some(role) if roles.contains(&role) => Ok(role),
            held => {
                let allowed: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
                let held = held.map_or("no role", Role::as_str);
                Err(Error::Refused(
                    Refusal::WrongRole,
                    format!("this action needs the role {}; you are signed in as {held}", allowed.join(" or ")),
                ))
            }
        }
    }
}

/// Appends one audit entry in the caller's transaction.
pub(crate) fn audit(
    conn: &mut DbConnection,
    actor: &Actor,
    action: &str,
    (entity_type, entity_id): (&str, &str),
    details: serde_json::Value,
    at: DateTime<Utc>,
) -> Result<(), Error> {
    db::audit::insert(
        conn,
        &db::audit::NewAuditEntry {
            id: uuid::Uuid::now_v7().to_string(),
            at: at.naive_utc(),
            actor_id: actor.id.as_deref(),
            actor: &actor.name,
            action,
            entity_type,
            entity_id,
            details: details.to_string(),
        },
    )?;
    Ok(())
}
