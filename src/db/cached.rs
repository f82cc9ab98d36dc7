//! Statements that keep their prepared form. diesel caches a prepared statement for most reads, but
//! never for an `UPDATE`, an `INSERT` of a struct with optional fields or a read with an `IN` list,
//! because their SQL can vary with the values (a `None` left out of a changeset, `DEFAULT` for a
//! missing field, one placeholder per listed value). Each such statement was parsed and planned again
//! every time: on PostgreSQL that is why pgbench with prepared statements ran the same sign-off SQL
//! at half again the rate of pgbench without.
//!
//! [`cached`] marks a statement safe to cache: diesel then keys its cache by the SQL text and the
//! bind types (never by the Rust type, as the wrapper gives no static query id), so each distinct
//! text gets a statement of its own and a changed text can never reuse the wrong one. Use it for the
//! statements on the hot paths, whose texts come in a handful of shapes; [`execute`] runs a write.

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::query_dsl::LoadQuery;
use diesel::{QueryResult, RunQueryDsl};

use super::DbConnection;

/// A statement whose prepared form is kept, keyed by its SQL text (see the module).
#[derive(Debug, Clone, Copy)]
pub struct Cached<Q>(Q);

/// Runs `query`, a write with a `RETURNING` clause, keeping its prepared statement; returns how many
/// rows it wrote.
// why: RETURNING, because only diesel's loading path asks the query itself whether it may be cached;
// `execute` asks a reference to it, which walks the statement and finds the write's refusal.
pub fn execute<'q, Q, U>(query: Q, conn: &mut DbConnection) -> QueryResult<usize>
where
    Cached<Q>: LoadQuery<'q, DbConnection, U>,
{
    cached(query).load::<U>(conn).map(|rows| rows.len())
}

/// The row a lookup by key finds, if any, keeping its prepared statement. diesel's own
/// `.first(conn)` adds a `LIMIT`, and with one diesel prepared the statement again on every call on
/// this connection type: a profile of SQLite sign-offs put a sixth of the CPU in parsing and planning
/// the same few `SELECT`s. A lookup by key finds at most one row, so this loads them instead.
pub fn first<'q, Q, U>(query: Q, conn: &mut DbConnection) -> QueryResult<Option<U>>
where
    Cached<Q>: LoadQuery<'q, DbConnection, U>,
{
    Ok(cached(query).load::<U>(conn)?.into_iter().next())
}

/// Marks `query` (a read, or a write with a `RETURNING` clause) to keep its prepared statement, for
/// running it with `get_result` or `load`.
pub fn cached<Q>(query: Q) -> Cached<Q> {
    Cached(query)
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
