//! The only place that knows diesel and which backend it talks to: the connection type over
//! SQLite and PostgreSQL, the pool, migrations, write transactions and the row-level queries.

pub mod audit;
pub mod cached;
pub mod chain;
pub mod checklists;
pub mod customers;
pub mod failures;
pub mod feedback;
pub mod incidents;
pub mod jobs;
pub mod linker;
pub mod metrics;
pub mod outbox;
pub mod recovery;
pub mod safety;
pub mod schema;
mod scope;
pub mod signoffs;
mod threads;
pub mod types;
pub mod users;
pub mod writer;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::{ManageConnection, Pool, PooledConnection, R2D2Connection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// How long a unit of work waits for a database connection before it is refused.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);

/// One connection type over both backends; every query in `db/` is written once against it.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

/// Which database a `DATABASE_URL` points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A parsed `DATABASE_URL`: a `postgres://` URL, a `sqlite://` URL or a plain SQLite file path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    pub backend: Backend,
    /// What diesel connects to: the PostgreSQL URL, or the SQLite file path.
    pub target: String,
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> anyhow::Result<Self> {
        let raw = raw.trim();
        if raw.is_empty() {
            anyhow::bail!("DATABASE_URL is empty");
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(Self { backend: Backend::Postgres, target: raw.to_owned() });
        }
        let path = raw.strip_prefix("sqlite://").or_else(|| raw.strip_prefix("sqlite:")).unwrap_or(raw);
        if path.is_empty() || path == ":memory:" {
            // why: each pooled connection would get its own empty in-memory database.
            anyhow::bail!("DATABASE_URL must name a SQLite file (in-memory databases are not shared across the pool)");
        }
        if let Some((scheme, _)) = path.split_once("://") {
            anyhow::bail!(
                "DATABASE_URL scheme `{scheme}://` is not supported (use postgres://, sqlite:// or a file path)"
            );
        }
        Ok(Self { backend: Backend::Sqlite, target: path.to_owned() })
    }

    /// The URL for logs and reports: a PostgreSQL password is replaced by `***`.
    pub fn redacted(&self) -> String {
        let Some((scheme, rest)) = self.target.split_once("://") else { return self.target.clone() };
        match rest.split_once('@') {
            Some((credentials, host)) if credentials.contains(':') => {
                let user = credentials.split(':').next().unwrap_or_default();
                format!("{scheme}://{user}:***@{host}")
            }
            _ => self.target.clone(),
        }
    }
}

/// Opens connections of the backend named by the URL, so operators see the backend's own error
/// message (diesel's MultiConnection `establish` would try both and hide it).
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    url: DatabaseUrl,
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = diesel::ConnectionError;

    fn connect(&self) -> Result<DbConnection, diesel::ConnectionError> {
        match self.url.backend {
            Backend::Postgres => diesel::PgConnection::establish(&self.url.target).map(DbConnection::Postgresql),
            Backend::Sqlite => {
                let mut conn = diesel::SqliteConnection::establish(&self.url.target)?;
                // why: WAL lets readers run beside the one writer; FULL makes an acknowledged
                // sign-off survive power loss. In the service every write goes through the one
                // writer connection ([`writer`]); the busy timeout is for other processes (the CLI).
                // Each request of a group commit runs in a savepoint, whose undo pages SQLite keeps in
                // a temporary file unless told to keep temporary data in memory.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;",
                )
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), diesel::ConnectionError> {
        conn.ping().map_err(diesel::ConnectionError::CouldntSetupConfiguration)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        conn.is_broken()
    }
}

pub type Conn = PooledConnection<ConnectionManager>;

/// The connection pool, shared by the HTTP handlers and the CLI.
#[derive(Clone)]
pub struct Db {
    pool: Pool<ConnectionManager>,
    backend: Backend,
    /// Units of work waiting for a pooled connection (r2d2 does not count them).
    waiting: Arc<std::sync::atomic::AtomicUsize>,
    /// One per pooled connection: a unit of work takes one before it takes a thread.
    // why: a unit of work waiting for a connection on a blocking thread of its own kept that thread,
    // its stack and its allocator's cache alive: under 64 connections about 90 threads and 200 MiB.
    // Waiting here, as a task, costs nothing; only units that can get a connection hold a thread.
    slots: Arc<tokio::sync::Semaphore>,
    /// As many threads as slots, which run the units of work.
    threads: Arc<threads::Threads>,
    /// SQLite: the one connection that runs write transactions (see [`writer`]).
    writer: Option<Arc<writer::Writer>>,
    /// In the service: links committed rows into the audit chains (see [`linker`]).
    linker: Option<Arc<linker::Linker>>,
}

/// How the pool is doing, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolState {
    pub in_use: u32,
    pub idle: u32,
    /// Units of work waiting for a connection.
    pub waiting: usize,
    pub max_size: u32,
    /// SQLite: the one writer's queue and group commits.
    pub writer: Option<writer::WriterState>,
    /// In the service: the audit chains' linker.
    pub linker: Option<linker::LinkerState>,
}

impl Db {
    /// Builds the pool and checks that one connection can be opened.
    pub fn connect(url: &DatabaseUrl, max_connections: u32) -> anyhow::Result<Self> {
        // why: libpq opens TLS connections on the pool's threads, which may still be connecting when
        // the process exits; OpenSSL's exit-time clean-up then frees its state under them (a SIGSEGV
        // seen at the end of `audit verify`). Initialised here first, OpenSSL skips that clean-up;
        // the operating system frees the memory anyway.
        openssl_sys::init();
        let manager = ConnectionManager { url: url.clone() };
        // One direct connection first, so a wrong URL fails at once with the backend's own message.
        manager.connect().with_context(|| match url.backend {
            Backend::Sqlite => format!("cannot open SQLite database {}", url.target),
            Backend::Postgres => "cannot connect to PostgreSQL".to_owned(),
        })?;
        // why: on SQLite a unit of work keeps its pooled connection while its write waits for the
        // writer, so the pool is as large as on PostgreSQL: the writer's groups can grow to it.
        let writer = match url.backend {
            Backend::Sqlite => Some(Arc::new(writer::Writer::open(manager.clone())?)),
            Backend::Postgres => None,
        };
        let pool = Pool::builder()
            .max_size(max_connections.max(1))
            .min_idle(Some(1))
            .connection_timeout(CONNECTION_TIMEOUT)
            // why: testing each connection as it is taken (`SELECT 1`) cost a round trip per unit of
            // work, two in each sign-off. A connection found broken by a query is dropped when it
            // comes back (`has_broken`), and the pool opens a new one.
            .test_on_check_out(false)
            .build(manager)
            .context("cannot build the database connection pool")?;
        let slots = Arc::new(tokio::sync::Semaphore::new(pool.max_size() as usize));
        let threads =
            Arc::new(threads::Threads::start(pool.max_size() as usize).context("cannot start the database threads")?);
        Ok(Self { pool, backend: url.backend, waiting: Default::default(), slots, threads, writer, linker: None })
    }

    /// From now on, rows written by units of work run through this handle ([`Db::run`]) are linked
    /// into the audit chains by a background thread just after they commit, in batches (see
    /// [`linker`]). The service does this once its start-up writes are done; the thread stops when
    /// the last copy of the handle is dropped, after a last pass.
    pub fn link_in_background(mut self) -> anyhow::Result<Self> {
        let linker = linker::Linker::start(self.pool.clone(), self.writer.clone())
            .context("cannot start the audit chains' linker")?;
        self.linker = Some(Arc::new(linker));
        Ok(self)
    }

    /// Links every row that waits into its chain now, in a transaction of its own; returns how many.
    /// For a clean stop, `audit verify`, and tests that read the chains straight after writing.
    pub fn link_now(&self) -> anyhow::Result<u64> {
        let _writes = scope::Scope::enter(scope::Handles { writer: self.writer.clone(), linker: None });
        let mut conn = self.get()?;
        let linked = transaction(&mut conn, chain::link_pending).context("cannot link rows into the audit chains")?;
        if let Some(linker) = &self.linker {
            linker.count(linked);
        }
        Ok(linked)
    }

    pub fn pool_state(&self) -> PoolState {
        let state = self.pool.state();
        PoolState {
            in_use: state.connections.saturating_sub(state.idle_connections),
            idle: state.idle_connections,
            waiting: self.waiting.load(std::sync::atomic::Ordering::Relaxed),
            max_size: self.pool.max_size(),
            writer: self.writer.as_ref().map(|w| w.state()),
            linker: self.linker.as_ref().map(|l| l.state()),
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A pooled connection for blocking code (CLI, start-up, tests). Handlers use [`Db::run`].
    pub fn get(&self) -> anyhow::Result<Conn> {
        self.pool.get().context("no database connection available")
    }

    /// Runs one unit of blocking diesel work on one of the database threads, off the async executor.
    /// The work's own error type says what went wrong inside; [`RunError`] what kept it from running.
    pub async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<RunError> + Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    {
        let pool = self.pool.clone();
        let handles = scope::Handles { writer: self.writer.clone(), linker: self.linker.clone() };
        // why: what the work logs belongs to the request (its id) that asked for it.
        let span = tracing::Span::current();
        self.waiting.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // As long as the pool waits for a connection, and no longer.
        let slot = tokio::time::timeout(CONNECTION_TIMEOUT, self.slots.clone().acquire_owned()).await;
        self.waiting.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        let slot = match slot {
            Ok(Ok(slot)) => slot,
            Ok(Err(closed)) => return Err(RunError::Unavailable(closed.to_string()).into()),
            Err(_) => return Err(RunError::Unavailable("every database connection stayed busy".to_owned()).into()),
        };
        self.threads
            .run(move || {
                let _slot = slot;
                let _entered = span.enter();
                let _writes = scope::Scope::enter(handles);
                let mut conn = pool.get().map_err(|e| RunError::Unavailable(e.to_string()))?;
                work(&mut conn)
            })
            .await
            .map_err(|e| RunError::Blocking(e.to_string()))?
    }

    /// Waits (blocking) up to `limit` for every unit of work still queued or running; whether they
    /// all finished.
    pub fn wait_for_work(&self, limit: Duration) -> bool {
        self.threads.wait_idle(limit)
    }

    /// Runs a read (one query or a few) off the executor, for handlers that only look something up.
    pub async fn query<T, F>(&self, work: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> QueryResult<T> + Send + 'static,
    {
        self.run(move |conn| work(conn).map_err(Error::Query)).await
    }

    /// The names of the migrations not yet applied.
    pub fn pending_migrations(&self) -> anyhow::Result<Vec<String>> {
        let mut conn = self.get()?;
        let names = match &mut *conn {
            DbConnection::Sqlite(c) => c
                .pending_migrations(SQLITE_MIGRATIONS)
                .map(|pending| pending.iter().map(|m| m.name().to_string()).collect()),
            DbConnection::Postgresql(c) => c
                .pending_migrations(POSTGRES_MIGRATIONS)
                .map(|pending| pending.iter().map(|m| m.name().to_string()).collect()),
        };
        names.map_err(anyhow::Error::from_boxed)
    }

    /// Applies pending migrations; returns the names of those applied.
    /// Applies pending migrations, then links into the audit chains any rows written before them
    /// (see [`chain`]); returns the names of the migrations applied.
    pub fn migrate(&self) -> anyhow::Result<Vec<String>> {
        let applied = run_migrations(&mut *self.get()?)?;
        self.link_now()?;
        Ok(applied)
    }
}

/// Applies the embedded migrations of the connection's backend.
pub fn run_migrations(conn: &mut DbConnection) -> anyhow::Result<Vec<String>> {
    fn names(applied: Vec<diesel::migration::MigrationVersion<'_>>) -> Vec<String> {
        applied.iter().map(ToString::to_string).collect()
    }
    match conn {
        DbConnection::Sqlite(c) => {
            Ok(names(c.run_pending_migrations(SQLITE_MIGRATIONS).map_err(anyhow::Error::from_boxed)?))
        }
        DbConnection::Postgresql(c) => {
            // why: several instances may start at once against one PostgreSQL; one migrates, the rest wait.
            c.batch_execute("SELECT pg_advisory_lock(726153001)")?;
            let result = c.run_pending_migrations(POSTGRES_MIGRATIONS).map(names).map_err(anyhow::Error::from_boxed);
            c.batch_execute("SELECT pg_advisory_unlock(726153001)")?;
            result
        }
    }
}

/// Reverts every applied migration (used by the migration round-trip test).
pub fn revert_all_migrations(conn: &mut DbConnection) -> anyhow::Result<()> {
    match conn {
        DbConnection::Sqlite(c) => c.revert_all_migrations(SQLITE_MIGRATIONS).map_err(anyhow::Error::from_boxed)?,
        DbConnection::Postgresql(c) => {
            c.revert_all_migrations(POSTGRES_MIGRATIONS).map_err(anyhow::Error::from_boxed)?
        }
    };
    Ok(())
}

/// Runs `work` in a write transaction and commits on `Ok`; rolls back on `Err`. Returns once the
/// commit is durable. The rows it wrote into chained tables are linked into the audit chains: in the
/// service, by the linker just after the commit (which this wakes); elsewhere (the CLI, start-up), in
/// the transaction itself ([`chain::link_pending`]).
///
/// On SQLite, within a unit of work run by [`Db::run`], the transaction runs on the database's one
/// writer connection, in a savepoint of a group commit ([`writer`]); `conn` only serves the reads
/// before and after. Elsewhere (the CLI, start-up) and on PostgreSQL it is a transaction of `conn`.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let Some(linker) = scope::linker() else {
        return transaction(conn, |conn| {
            let value = work(conn)?;
            chain::link_pending(conn)?;
            Ok(value)
        });
    };
    let value = transaction(conn, work)?;
    linker.wake();
    Ok(value)
}

/// [`write_transaction`] without the linking.
fn transaction<T, E, F>(conn: &mut DbConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    type Tm = <DbConnection as Connection>::TransactionManager;
    // why: a transaction already open on `conn` is the writer's own (or the caller's mistake):
    // queueing for the writer from inside it would wait for ever.
    let in_transaction = Tm::transaction_manager_status_mut(conn).transaction_depth()?.is_some();
    if let (DbConnection::Sqlite(_), false, Some(writer)) = (&*conn, in_transaction, scope::writer()) {
        return writer.write(work);
    }
    begin_write(conn)?;
    match work(conn) {
        Ok(value) => {
            Tm::commit_transaction(conn)?;
            Ok(value)
        }
        Err(err) => {
            if let Err(rollback) = Tm::rollback_transaction(conn) {
                tracing::error!(error = %rollback, "rollback failed");
            }
            Err(err)
        }
    }
}

/// Opens a write transaction on `conn`: `BEGIN IMMEDIATE` on SQLite, a plain `BEGIN` on PostgreSQL.
fn begin_write(conn: &mut DbConnection) -> QueryResult<()> {
    type Tm = <DbConnection as Connection>::TransactionManager;
    match conn {
        // why: taking SQLite's write lock up front makes a concurrent writer wait instead of failing
        // with SQLITE_BUSY when a read transaction tries to upgrade.
        DbConnection::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE"),
        DbConnection::Postgresql(_) => Tm::begin_transaction(conn),
    }
}

/// Runs `work` in the caller's transaction, or in a write transaction of its own when there is
/// none, so a row of a chained table is linked into its chain when it commits.
pub(crate) fn appending<T>(
    conn: &mut DbConnection,
    work: impl FnOnce(&mut DbConnection) -> QueryResult<T>,
) -> QueryResult<T> {
    type Tm = <DbConnection as Connection>::TransactionManager;
    if Tm::transaction_manager_status_mut(conn).transaction_depth()?.is_some() {
        work(conn)
    } else {
        write_transaction(conn, work)
    }
}

/// The next change number of one technician's jobs, for the changes-since cursor: the technician's
/// counter, bumped and locked until the transaction ends, times 2^20, plus the technician's number.
// why: a counter per technician, not one row for all writers: changes to one technician's jobs
// commit in counter order (so a cursor never skips a late commit), while writers for different
// technicians never wait for each other. The technician's number keeps change_seq unique.
pub fn next_change_seq(conn: &mut DbConnection, technician_id: &str) -> QueryResult<i64> {
    use schema::sync_counters::dsl as sc;
    let bump = diesel::update(sc::sync_counters.filter(sc::technician_id.eq(technician_id)))
        .set(sc::last_change.eq(sc::last_change + 1))
        .returning((sc::last_change, sc::number));
    let (counter, number): (i64, i32) = cached::load!(bump, conn)?.pop().ok_or(diesel::result::Error::NotFound)?;
    Ok((counter << 20) | i64::from(number))
}

/// Gives a new user a sync counter (every user has one: any of them may become a technician).
pub fn add_sync_counter(conn: &mut DbConnection, user_id: &str) -> QueryResult<()> {
    use schema::sync_counters::dsl as sc;
    diesel::insert_into(sc::sync_counters)
        .values((sc::technician_id.eq(user_id), sc::last_change.eq(0_i64)))
        .execute(conn)
        .map(drop)
}

/// What kept a unit of database work from running at all.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("no database connection available: {0}")]
    Unavailable(String),
    #[error("blocking task failed: {0}")]
    Blocking(String),
}

/// What went wrong with a read run through [`Db::query`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Query(diesel::result::Error),
}

/// The table whose unique key a diesel error violated, or `None` for any other error. Callers
/// tell "a retry raced us" (the key of the record they insert) from any other duplicate by it.
pub fn unique_violation_table(err: &diesel::result::Error) -> Option<String> {
    use diesel::result::{DatabaseErrorKind, Error};
    let Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) = err else { return None };
    // why: PostgreSQL names the table; SQLite only says "UNIQUE constraint failed: table.column".
    let table = match info.table_name() {
        Some(table) => table.to_owned(),
        None => {
            let columns = info.message().rsplit(": ").next().unwrap_or_default();
            columns.split('.').next().unwrap_or_default().trim().to_owned()
        }
    };
    Some(table)
}
