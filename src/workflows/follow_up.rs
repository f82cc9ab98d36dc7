//! The records a grade opens (make-safe visit, retraining, disciplinary case, recovery case)
//! share one life at the edges: opened when the incident is graded, closed or cancelled when it
//! is re-graded away, and reopened rather than duplicated when it is graded back. This module
//! holds that "reopen if closed, else create, then audit" once.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{Actor, Context, Error, audit};
use crate::db::recovery::RecoveryCaseRow;
use crate::db::safety::{DisciplinaryRow, MakeSafeVisitRow, RetrainingRow};
use crate::db::{self, DbConnection};
use crate::domain::disciplinary::{self, CaseStep};
use crate::domain::make_safe::{self, VisitStep};
use crate::domain::recovery_case::{self, RecoveryStep};
use crate::domain::retraining::{self, RetrainingCause, RetrainingStep};

/// A record opened by a grade.
pub(super) trait FollowUp: Sized {
    /// The audit log's entity type.
    const ENTITY: &'static str;
    /// The audit actions' prefix (`<prefix>.opened`, `<prefix>.reopened`).
    const ACTIONS: &'static str;

    fn id(&self) -> &str;
    fn insert(&self, conn: &mut DbConnection) -> diesel::QueryResult<()>;
    fn save(&self, conn: &mut DbConnection) -> diesel::QueryResult<()>;
    /// Moves the record back to its first state if its state machine allows it (`false`: it is
    /// still open, or finished, and stays as it is).
    fn reopen(&mut self, ctx: Context<'_>, actor: &Actor, now: DateTime<Utc>) -> bool;
}

/// Whether the records an incident's grade opens may exist already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Opening {
    /// The incident's first grade (by the machine, or by a person out of triage): no record exists
    /// yet, so none is looked up. A record that did would be refused by its table's unique key.
    First,
    /// A re-grade: each record an earlier grade opened is reopened rather than opened twice.
    Again,
}

impl Opening {
    /// The record `look_up` finds, looked up only on a re-grade.
    pub(super) fn existing<R>(
        self,
        look_up: impl FnOnce() -> diesel::QueryResult<Option<R>>,
    ) -> diesel::QueryResult<Option<R>> {
        match self {
            Self::First => Ok(None),
            Self::Again => look_up(),
        }
    }
}

/// Opens a new record, in the caller's transaction, and audits it with `details`.
pub(super) fn open<R: FollowUp>(
    conn: &mut DbConnection,
    record: &R,
    details: serde_json::Value,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    record.insert(conn)?;
    audit(conn, actor, &format!("{}.opened", R::ACTIONS), (R::ENTITY, record.id()), details, now)
}

/// Reopens `existing` if it was closed, or opens the record `create` builds when there is none.
pub(super) fn reopen_or_open<R: FollowUp>(
    conn: &mut DbConnection,
    ctx: Context<'_>,
    existing: Option<R>,
    incident_id: &str,
    create: impl FnOnce(&mut DbConnection) -> Result<(R, serde_json::Value), Error>,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    match existing {
        Some(mut record) => {
            if record.reopen(ctx, actor, now) {
                record.save(conn)?;
                let details = json!({ "incident_id": incident_id });
                audit(conn, actor, &format!("{}.reopened", R::ACTIONS), (R::ENTITY, record.id()), details, now)?;
            }
            Ok(())
        }
        None => {
            let (record, details) = create(conn)?;
            open(conn, &record, details, actor, now)
        }
    }
}

impl FollowUp for MakeSafeVisitRow {
    const ENTITY: &'static str = "make_safe_visit";
    const ACTIONS: &'static str = "make_safe";

    fn id(&self) -> &str {
        &self.id
    }
    fn insert(&self, conn: &mut DbConnection) -> diesel::QueryResult<()> {
        db::safety::insert_visit(conn, self)
    }
    fn save(&self, conn: &mut DbConnection) -> diesel::QueryResult<()> {
        db::safety::save_visit(conn, self)
    }
    fn reopen(&mut self, ctx: Context<'_>, actor: &Actor, now: DateTime<Utc>) -> bool {
        let Ok(next) = make_safe::step(self.status, VisitStep::Reopen, actor.role) else { return false };
        // The deadline runs again from the new grade.
        (self.status, self.due_at, self.updated_at) =
            (next, (now + ctx.safety.make_safe_within).naive_utc(), now.naive_utc());
        true
    }
}

impl FollowUp for RetrainingRow {
    const ENTITY: &'static str = "retraining";
    const ACTIONS: &'static str = "retraining";

    fn id(&self) -> &str {
        &self.id
    }
    fn insert(&self, conn: &mut DbConnection) -> diesel::QueryResult<()> {
        db::safety::insert_retraining(conn, self)
    }
    fn save(&self, conn: &mut DbConnection) -> diesel::QueryResult<()> {
        db::safety::save_retraining(conn, self)
    }
    fn reopen(&mut self, ctx: Context<'_>, actor: &Actor, now: DateTime<Utc>) -> bool {
        let Ok(next) = retraining::step(self.status, RetrainingStep::Reopen, actor.role) else { return false };
        (self.status, self.cause, self.due_at, self.updated_at) =
            (next, RetrainingCause::SafetyCritical, (now + ctx.safety.retraining_within).naive_utc(), now.naive_utc());
        true
    }
}

impl FollowUp for DisciplinaryRow {
    const ENTITY: &'static str = "disciplinary_case";
    const ACTIONS: &'static str = "disciplinary";

    fn id(&self) -> &str {
        &self.id
    }
    fn insert(&self, conn: &mut DbConnection) -> diesel::QueryResult<()> {
        db::safety::insert_case(conn, self)
    }
    fn save(&self, conn: &mut DbConnection) -> diesel::QueryResult<()> {
        db::safety::save_case(conn, self)
    }
    fn reopen(&mut self, _: Context<'_>, actor: &Actor, now: DateTime<Utc>) -> bool {
        let Ok(next) = disciplinary::step(self.status, CaseStep::Reopen, actor.role, false) else { return false };
        (self.status, self.updated_at) = (next, now.naive_utc());
        true
    }
}

impl FollowUp for RecoveryCaseRow {
    const ENTITY: &'static str = "recovery_case";
    const ACTIONS: &'static str = "recovery";

    fn id(&self) -> &str {
        &self.id
    }
    fn insert(&self, conn: &mut DbConnection) -> diesel::QueryResult<()> {
        db::recovery::insert(conn, self)
    }
    fn save(&self, conn: &mut DbConnection) -> diesel::QueryResult<()> {
        db::recovery::save(conn, self)
    }
    fn reopen(&mut self, _: Context<'_>, actor: &Actor, now: DateTime<Utc>) -> bool {
        let Ok(next) = recovery_case::step(self.state(), RecoveryStep::Reopen, actor.role) else { return false };
        (self.status, self.updated_at) = (next.status, now.naive_utc());
        true
    }
}
