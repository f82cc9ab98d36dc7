//! Business actions. Each public function is one action in one transaction, with its audit entry.

pub mod checklists;
pub mod failures;
pub mod incidents;
pub mod jobs;
pub mod messages;
pub mod recovery;
pub mod safety;
pub mod signoffs;
pub mod users;

use chrono::{DateTime, Utc};

use crate::auth::AuthUser;
use crate::db::{self, DbConnection};
use crate::error::ApiError;

/// What business actions read besides the database: published checklists, the severity rules
/// and recovery policy in force, the safety deadlines and the feedback-link signer.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub catalogue: &'a crate::catalogue::Catalogue,
    pub rules: &'a crate::domain::rules::RuleSet,
    pub safety: &'a crate::config::SafetyPolicy,
    pub policy: &'a crate::domain::recovery::Policy,
    pub links: &'a crate::auth::links::FeedbackLinks,
}

/// What an idempotent create did: stored something new, or found the same request stored before.
#[derive(Debug)]
pub enum Recorded<T> {
    Created(T),
    Replayed(T),
}

/// Who performed an action, as the audit log records it.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The user's id; `None` for the command line and the service itself.
    pub id: Option<String>,
    pub name: String,
}

impl Actor {
    /// An operator at the command line (`fieldproof users add`, `checklists import`).
    pub fn cli() -> Self {
        Self { id: None, name: "cli".to_owned() }
    }
}

impl From<&AuthUser> for Actor {
    fn from(user: &AuthUser) -> Self {
        Self { id: Some(user.id.clone()), name: user.username.clone() }
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
) -> Result<(), ApiError> {
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
