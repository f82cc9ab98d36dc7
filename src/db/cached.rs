//! Statements that keep their prepared form. diesel caches a prepared statement for most reads, but
//! never for an `UPDATE`, an `INSERT` of a struct with optional fields or a read with an `IN` list,
//! because their SQL can vary with the values (a `None` left out of a changeset, `DEFAULT` for a
//! missing field, one placeholder per listed value). Each such statement was parsed and planned again
//! every time: on PostgreSQL that is why pgbench with prepared statements ran the same sign-off SQL
//! at half again the rate of pgbench without.
//!
//! [`Cached`] marks a statement safe to cache: diesel then keys its cache by the SQL text and the
//! bind types (never by the Rust type, as the wrapper gives no static query id), so each distinct
//! text gets a statement of its own and a changed text can never reuse the wrong one. Use it, through
//! [`load!`], [`execute!`] (a write) and [`first!`] (one row), for the statements on the hot paths,
//! whose texts come in a handful of shapes.
//!
//! A bound `LIMIT` is the other trap, in SQLite itself: its planner (3.53, bundled) reads the value
//! bound to a `LIMIT ?` (`sqlite3ExprIsInteger`) and marks the statement to be prepared again whenever that
//! parameter is bound anew, which is every run. diesel's `.first(conn)` binds its `LIMIT 1`, so each
//! call parsed and planned its `SELECT` again: a sixth of a SQLite sign-off's CPU. [`first!`] writes
//! `LIMIT 1` into the text instead.

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::query_dsl::LoadQuery;
use diesel::{QueryResult, RunQueryDsl};

/// A statement whose prepared form is kept, keyed by its SQL text (see the module).
#[derive(Debug, Clone, Copy)]
pub struct Cached<Q>(Q);

// why: macros, so that the query is written once and typed for each database's own connection:
// the multi-backend connection writes out a statement's SQL text again on every run, even when its
// prepared statement is cached (a tenth of the CPU of a SQLite failure report and of a PostgreSQL
// sign-off went to that), and a query typed for one database (`as_select()`) cannot serve both.

/// `first!(query, conn)`: the first row `query` finds, if any (`QueryResult<Option<_>>`). Its
/// `LIMIT 1` is written into the SQL text, so the statement is prepared once (see the module).
/// `query` is a read without a `LIMIT` or a locking clause of its own; order it when more than one
/// row can match.
macro_rules! first {
    ($query:expr, $conn:expr $(,)?) => {
        match $conn {
            $crate::db::DbConnection::Sqlite(conn) => $crate::db::cached::first_on($query, conn),
            $crate::db::DbConnection::Postgresql(conn) => $crate::db::cached::first_on($query, conn),
        }
    };
}

/// `load!(query, conn)`: every row `query` (a read, or a write with a `RETURNING` clause) returns
/// (`QueryResult<Vec<_>>`), keeping its prepared statement.
macro_rules! load {
    ($query:expr, $conn:expr $(,)?) => {
        match $conn {
            $crate::db::DbConnection::Sqlite(conn) => $crate::db::cached::load_on($query, conn),
            $crate::db::DbConnection::Postgresql(conn) => $crate::db::cached::load_on($query, conn),
        }
    };
}

/// `execute!(query, conn)`: runs `query`, a write `RETURNING` one text column (an id), keeping its prepared
/// statement; `QueryResult<usize>`, how many rows it wrote.
// why: RETURNING, because only diesel's loading path asks the query itself whether it may be cached;
// `execute` asks a reference to it, which walks the statement and finds the write's refusal.
macro_rules! execute {
    ($query:expr, $conn:expr $(,)?) => {
        $crate::db::cached::load!($query, $conn).map(|rows: Vec<String>| rows.len())
    };
}

pub(crate) use {execute, first, load};

/// [`first!`] on one database's connection.
pub fn first_on<'q, C, Q, U>(query: Q, conn: &mut C) -> QueryResult<Option<U>>
where
    Cached<LimitOne<Q>>: LoadQuery<'q, C, U>,
{
    Ok(Cached(LimitOne(query)).load::<U>(conn)?.into_iter().next())
}

/// [`load!`] on one database's connection.
pub fn load_on<'q, C, Q, U>(query: Q, conn: &mut C) -> QueryResult<Vec<U>>
where
    Cached<Q>: LoadQuery<'q, C, U>,
{
    Cached(query).load::<U>(conn)
}

impl<Q> QueryId for Cached<Q> {
    type QueryId = ();
    // why: no static id, so the statement cache keys this by SQL text and bind types.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for Cached<Q> {
    type SqlType = Q::SqlType;
}

impl<DB: Backend, Q: QueryFragment<DB>> QueryFragment<DB> for Cached<Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q, Conn> RunQueryDsl<Conn> for Cached<Q> {}

/// `query` with `LIMIT 1` written into its text (for [`first!`]).
#[derive(Debug, Clone, Copy)]
pub struct LimitOne<Q>(Q);

impl<Q> QueryId for LimitOne<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for LimitOne<Q> {
    type SqlType = Q::SqlType;
}

impl<DB: Backend, Q: QueryFragment<DB>> QueryFragment<DB> for LimitOne<Q> {
    fn walk_ast<'b>(&'b self, mut pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(pass.reborrow())?;
        pass.push_sql(" LIMIT 1");
        Ok(())
    }
}
