//! The audit chains' linker: while the service runs, rows are linked into their chains just after the
//! transaction that wrote them commits, by one background thread per process, in batches.
//!
//! why: a chain is one line, so whoever extends it must hold it alone until their commit is durable.
//! Linking inside each write transaction made every writer queue for that one lock across its
//! commit's fsync: one durable commit at a time for the whole service, however many connections it
//! had (on PostgreSQL, a third of what the same SQL does without it). Here writers never touch the
//! chain heads; the linker takes the lock once per batch (`chain::link_pending`), so a whole batch
//! costs one commit, and writers commit side by side. This is how transparency logs run (a sequencer
//! integrating queued leaves in batches). A row waits unlinked for the length of one pass, a few
//! milliseconds; rows left unlinked by a crash are linked at the next start (`Db::migrate`), and
//! `fieldproof audit verify` links what waits before it checks.
//!
//! Outside the service (the command line, start-up) nothing runs in the background, and
//! `write_transaction` links before it commits, as the linker would.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use diesel::r2d2::Pool;

use super::scope::{Handles, Scope};
use super::{ConnectionManager, chain, transaction, writer};

/// How long the linker waits before trying again after a pass failed (the database was away).
const RETRY: Duration = Duration::from_secs(1);

/// The handle writers wake the linker with; stops it when the last copy is dropped.
pub struct Linker {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    /// Passes that linked at least one row, and the rows they linked (with those linked on demand,
    /// [`super::Db::link_now`]): their ratio is the batch size.
    passes: AtomicU64,
    linked: AtomicU64,
    /// Background passes that failed (each is tried again after `retry`, unless the linker is
    /// stopping: then its rows are linked at the next start).
    failures: AtomicU64,
    retry: Duration,
}

#[derive(Default)]
struct State {
    /// A write committed since the last pass began.
    pending: bool,
    stopped: bool,
}

/// What `/metrics` shows of the linker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkerState {
    /// Passes that linked rows since start.
    pub passes: u64,
    /// Rows linked since start.
    pub rows: u64,
    /// Background passes that failed since start (no connection, or the database refused the
    /// work): while rows wait unlinked, the chains' heads lag behind.
    pub failures: u64,
}

impl Linker {
    /// Starts the linker's thread, which links through `pool` (and on SQLite the one `writer`).
    pub(super) fn start(pool: Pool<ConnectionManager>, writer: Option<Arc<writer::Writer>>) -> std::io::Result<Self> {
        Self::start_retrying_after(pool, writer, RETRY)
    }

    fn start_retrying_after(
        pool: Pool<ConnectionManager>,
        writer: Option<Arc<writer::Writer>>,
        retry: Duration,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State { pending: true, stopped: false }),
            wake: Condvar::new(),
            passes: AtomicU64::new(0),
            linked: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            retry,
        });
        let thread = shared.clone();
        std::thread::Builder::new().name("chain-linker".to_owned()).spawn(move || thread.run(&pool, writer))?;
        Ok(Self { shared })
    }

    /// Tells the linker that a write committed.
    pub(super) fn wake(&self) {
        self.shared.state.lock().unwrap_or_else(PoisonError::into_inner).pending = true;
        self.shared.wake.notify_one();
    }

    /// Counts a pass that linked `rows` rows.
    pub(super) fn count(&self, rows: u64) {
        self.shared.count(rows);
    }

    pub(super) fn state(&self) -> LinkerState {
        LinkerState {
            passes: self.shared.passes.load(Ordering::Relaxed),
            rows: self.shared.linked.load(Ordering::Relaxed),
            failures: self.shared.failures.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Linker {
    fn drop(&mut self) {
        self.shared.state.lock().unwrap_or_else(PoisonError::into_inner).stopped = true;
        self.shared.wake.notify_one();
    }
}

impl Shared {
    fn count(&self, rows: u64) {
        if rows > 0 {
            self.passes.fetch_add(1, Ordering::Relaxed);
            self.linked.fetch_add(rows, Ordering::Relaxed);
        }
    }

    /// Waits for writes and links them, until stopped; a last pass after the stop links what the
    /// final writes left.
    fn run(&self, pool: &Pool<ConnectionManager>, writer: Option<Arc<writer::Writer>>) {
        let _writes = Scope::enter(Handles { writer, linker: None });
        loop {
            let stopped = {
                let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                let mut state =
                    self.wake.wait_while(state, |s| !s.pending && !s.stopped).unwrap_or_else(PoisonError::into_inner);
                state.pending = false;
                state.stopped
            };
            match link(pool) {
                Ok(rows) => self.count(rows),
                Err(err) => {
                    self.failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %err, "linking rows into the audit chains failed; retrying");
                    if stopped {
                        return;
                    }
                    self.state.lock().unwrap_or_else(PoisonError::into_inner).pending = true;
                    std::thread::sleep(self.retry);
                }
            }
            if stopped {
                return;
            }
        }
    }
}

/// One pass: links every committed row that waits, in one write transaction; returns how many.
fn link(pool: &Pool<ConnectionManager>) -> anyhow::Result<u64> {
    let mut conn = pool.get()?;
    // why: a read first, so that a pass with nothing to do takes no write lock (on SQLite, no turn
    // of the one writer).
    if !chain::any_pending(&mut conn)? {
        return Ok(0);
    }
    // why: the rows are read and hashed before the write transaction, which only writes the links:
    // the one writer's turn (on PostgreSQL, the chains' lock) is held that much shorter, and the
    // requests sharing its group commit wait that much less. If another process linked meanwhile,
    // everything is read again under the lock.
    let plan = chain::plan(&mut conn)?;
    if let Some(linked) = transaction(&mut conn, |conn| chain::write(conn, &plan))? {
        return Ok(linked);
    }
    Ok(transaction(&mut conn, chain::link_waiting)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{Backend, ConnectionManager, DatabaseUrl};

    #[test]
    fn a_pass_that_fails_is_counted_and_tried_again() {
        // A database that cannot be opened (its folder does not exist): every pass fails at its first
        // connection.
        let dir = tempfile::tempdir().expect("temporary folder");
        let target = dir.path().join("missing").join("linker.db").display().to_string();
        let url = DatabaseUrl { backend: Backend::Sqlite, target };
        let pool = Pool::builder()
            .max_size(1)
            .min_idle(Some(0))
            .connection_timeout(Duration::from_millis(100))
            .build_unchecked(ConnectionManager { url });
        let linker = Linker::start_retrying_after(pool, None, Duration::from_millis(10)).expect("the thread starts");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while linker.state().failures < 2 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let state = linker.state();
        assert!(state.failures >= 2, "the first pass and its retry are counted: {state:?}");
    }
}
