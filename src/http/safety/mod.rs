//! Safety-critical follow-up over HTTP, one module per resource: make-safe visits, the safety
//! audit (queue, audit file, recording), retraining assignments and disciplinary cases. This
//! module holds only what they share.

pub mod audits;
pub mod disciplinary;
pub mod make_safe;
pub mod retraining;

use crate::db::{self, DbConnection};
use crate::error::ApiError;

/// Usernames of the users a page of rows mentions, looked up in one query.
struct Names(std::collections::HashMap<String, String>);

impl Names {
    fn load<'a>(conn: &mut DbConnection, ids: impl IntoIterator<Item = Option<&'a str>>) -> Result<Self, ApiError> {
        let mut ids: Vec<&str> = ids.into_iter().flatten().collect();
        ids.sort_unstable();
        ids.dedup();
        Ok(Self(db::users::usernames(conn, &ids)?))
    }

    fn of(&self, id: Option<&str>) -> Option<String> {
        id.and_then(|id| self.0.get(id).cloned())
    }
}

/// The one item of a single-row page.
fn only<T>(mut items: Vec<T>) -> Result<T, ApiError> {
    items.pop().ok_or_else(|| ApiError::Internal(anyhow::anyhow!("a row vanished while it was read")))
}
