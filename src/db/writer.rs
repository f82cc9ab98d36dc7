//! SQLite's one writer, with group commit. SQLite lets one connection write at a time; instead of
//! every pooled connection racing for that lock and sleeping on the busy timeout, every write
//! transaction of the service runs on one dedicated connection, taking turns in arrival order.
//!
//! The requests that queue up while a transaction is open share it: each runs in a savepoint of its
//! own (a failing request rolls back only its savepoint and gets its own error), and the last of
//! them commits once (one fsync, `synchronous=FULL`) for all. Nobody is answered before that commit
//! is durable: every member of a group, the failed ones too, waits for it (a failed request's caller
//! may read what an earlier member of its group wrote, such as the sign-off a retry raced).
//!
//! A group takes the requests waiting when it began and those arriving while they run, but no more
//! than were waiting at its start plus one, so a steady stream of requests cannot keep a group open
//! (and its members unanswered) for ever. Each caller runs its own work on the writer's connection
//! while it holds its turn (the work borrows from the caller, so it cannot be handed to a thread).

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use diesel::connection::{Connection, TransactionManager};
use diesel::r2d2::{ManageConnection, R2D2Connection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use parking_lot::FairMutex;

use super::{ConnectionManager, DbConnection, begin_write};

type Tm = <DbConnection as Connection>::TransactionManager;

/// The one connection that writes to a SQLite database, and the queue in front of it.
pub struct Writer {
    /// Fair: turns are taken in arrival order, so no writer waits behind later ones.
    turn: FairMutex<Session>,
    /// Callers waiting for their turn.
    queued: AtomicUsize,
    /// Group transactions committed (or ended) so far, and the requests that ran in them: their
    /// ratio is the average group size.
    groups: AtomicU64,
    requests: AtomicU64,
}

/// What `/metrics` shows of the writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterState {
    /// Write requests waiting for their turn now.
    pub queued: usize,
    /// Group transactions ended since start.
    pub groups: u64,
    /// Write requests run since start.
    pub requests: u64,
}

/// The writer's connection and the transaction open on it, if any.
struct Session {
    conn: DbConnection,
    manager: ConnectionManager,
    open: Option<Open>,
}

/// A transaction shared by a group of requests.
struct Open {
    group: Arc<Group>,
    /// Requests that have run in it so far.
    members: usize,
    /// Requests it takes at most: those waiting when it began, plus the one that began it.
    room: usize,
}

/// How a group's commit ended, for its members to wait on.
#[derive(Default)]
struct Group {
    outcome: Mutex<Option<Result<(), String>>>,
    ended: Condvar,
}

impl Group {
    fn end(&self, outcome: Result<(), String>) {
        *self.outcome.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(outcome);
        self.ended.notify_all();
    }

    fn wait(&self) -> Result<(), String> {
        let outcome = self.outcome.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let outcome =
            self.ended.wait_while(outcome, |o| o.is_none()).unwrap_or_else(std::sync::PoisonError::into_inner);
        outcome.clone().unwrap_or_else(|| Err("the group ended without an outcome".to_owned()))
    }
}

/// What one request's work did in its savepoint.
enum Step<T, E> {
    Kept(T),
    Failed(E),
    Panicked(Box<dyn std::any::Any + Send>),
}

impl Writer {
    /// Opens the writer's own connection.
    pub(super) fn open(manager: ConnectionManager) -> Result<Self, diesel::ConnectionError> {
        let conn = manager.connect()?;
        Ok(Self {
            turn: FairMutex::new(Session { conn, manager, open: None }),
            queued: AtomicUsize::new(0),
            groups: AtomicU64::new(0),
            requests: AtomicU64::new(0),
        })
    }

    pub(super) fn state(&self) -> WriterState {
        WriterState {
            queued: self.queued.load(Ordering::Relaxed),
            groups: self.groups.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
        }
    }

    /// Runs `work` in its own savepoint of the group transaction under way (or of a new one), and
    /// returns once the group has committed.
    pub(super) fn write<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E>,
        E: From<DieselError>,
    {
        self.queued.fetch_add(1, Ordering::SeqCst);
        let mut session = self.turn.lock();
        self.queued.fetch_sub(1, Ordering::SeqCst);
        if session.open.is_none() {
            session.begin(self.queued.load(Ordering::SeqCst) + 1)?;
        }
        let Some(group) = session.open.as_ref().map(|open| open.group.clone()) else {
            return Err(DieselError::NotInTransaction.into());
        };
        let step = session.run(work);
        self.requests.fetch_add(1, Ordering::Relaxed);
        if let Some(open) = session.open.as_mut() {
            open.members += 1;
            // Commit when the group is full or nobody else is waiting to join it.
            if open.members >= open.room || self.queued.load(Ordering::SeqCst) == 0 {
                session.commit();
            }
        }
        if session.open.is_none() {
            self.groups.fetch_add(1, Ordering::Relaxed);
        }
        drop(session);
        let committed = group.wait();
        match step {
            Step::Kept(value) => committed.map(|()| value).map_err(|message| commit_failed(message).into()),
            Step::Failed(err) => Err(err),
            Step::Panicked(payload) => resume_unwind(payload),
        }
    }
}

impl Session {
    fn begin(&mut self, room: usize) -> Result<(), DieselError> {
        if self.conn.is_broken() {
            self.conn = self.manager.connect().map_err(|e| commit_failed(e.to_string()))?;
        }
        begin_write(&mut self.conn)?;
        self.open = Some(Open { group: Arc::default(), members: 0, room });
        Ok(())
    }

    /// One request's work in a savepoint: kept (released) if it succeeds, rolled back if not.
    fn run<T, E, F>(&mut self, work: F) -> Step<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E>,
        E: From<DieselError>,
    {
        if let Err(err) = Tm::begin_transaction(&mut self.conn) {
            self.abandon(&err);
            return Step::Failed(err.into());
        }
        let conn = &mut self.conn;
        let ran = catch_unwind(AssertUnwindSafe(|| work(conn)));
        let closed = match ran {
            Ok(Ok(_)) => Tm::commit_transaction(&mut self.conn),
            Ok(Err(_)) | Err(_) => Tm::rollback_transaction(&mut self.conn),
        };
        if let Err(err) = closed {
            // why: a savepoint that cannot be released or rolled back leaves the transaction in an
            // unknown state; none of the group may commit.
            self.abandon(&err);
            if let Ok(Ok(_)) = ran {
                return Step::Failed(err.into());
            }
        }
        match ran {
            Ok(Ok(value)) => Step::Kept(value),
            Ok(Err(err)) => Step::Failed(err),
            Err(payload) => Step::Panicked(payload),
        }
    }

    /// Commits the group's transaction and tells its members how it went.
    fn commit(&mut self) {
        let Some(open) = self.open.take() else { return };
        let committed = Tm::commit_transaction(&mut self.conn).map_err(|e| e.to_string());
        if committed.is_err() {
            self.roll_back();
        }
        open.group.end(committed);
    }

    /// Rolls the whole group back, after `cause`.
    fn abandon(&mut self, cause: &DieselError) {
        tracing::error!(error = %cause, "the SQLite writer abandons its group transaction");
        self.roll_back();
        if let Some(open) = self.open.take() {
            open.group.end(Err(format!("the group transaction was rolled back: {cause}")));
        }
    }

    fn roll_back(&mut self) {
        while matches!(Tm::transaction_manager_status_mut(&mut self.conn).transaction_depth(), Ok(Some(_))) {
            if let Err(err) = Tm::rollback_transaction(&mut self.conn) {
                // The next group opens a new connection (`begin` checks `is_broken`).
                tracing::error!(error = %err, "rollback failed");
                break;
            }
        }
    }
}

/// The error a request whose work succeeded gets when its group's commit failed.
fn commit_failed(message: String) -> DieselError {
    DieselError::DatabaseError(DatabaseErrorKind::Unknown, Box::new(message))
}
