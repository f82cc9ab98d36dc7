//! The tamper-evident trail (21 CFR 11.10(e)): audit entries, sign-offs and failure reports are each
//! a hash chain. Every row carries its position (`chain_seq`), the hash of the row before it
//! (`prev_hash`) and `row_hash` = SHA-256 over the chain's name, `prev_hash` and a canonical
//! serialization of the row's content (every column but the three link columns). Editing a row
//! breaks its own hash; deleting or reordering rows breaks the links; `audit_chain_heads` holds each
//! chain's length and last hash, which operators copy elsewhere (`GET /v1/audit/head`) so that
//! truncating the end, or rewriting the whole chain, shows too.
//!
//! One chain per table, not one across the three: each table is verified on its own, and a table's
//! order is the order in which its rows were linked. Rows are inserted unlinked and linked by
//! [`link_pending`]: in the service, by the linker thread just after their transaction commits, in
//! batches (see [`super::linker`], which says why); elsewhere, by `write_transaction` just before it
//! commits. Either way the lock that serializes linking is the last lock a transaction takes and it
//! never waits on anything while holding it (see [`lock_chains`]).
//!
//! Rows written before the chain existed (migration `audit_chain`) are linked by the next
//! `fieldproof migrate` or `serve`, in the order they were written: the chain vouches for them from
//! then on, not before.

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::DbConnection;
use super::audit::AuditEntryRow;
use super::cached;
use super::failures::FailureRow;
use super::schema::audit_chain_heads::dsl as heads;
use super::signoffs::SignOffRow;

/// The `prev_hash` of a chain's first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Rows read at a time when verifying.
const PAGE: i64 = 1000;

/// One of the three chains, named after its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chain {
    AuditLog,
    SignOffs,
    FailureReports,
}

impl Chain {
    /// Every chain, in the order they are linked and verified.
    pub const ALL: [Chain; 3] = [Chain::AuditLog, Chain::SignOffs, Chain::FailureReports];

    pub fn name(self) -> &'static str {
        match self {
            Self::AuditLog => "audit_log",
            Self::SignOffs => "signoffs",
            Self::FailureReports => "failure_reports",
        }
    }
}

/// A chain's end as recorded: how many rows it holds and the last row's hash.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct Head {
    pub chain: String,
    pub length: i64,
    pub head_hash: String,
}

/// One row as the chain sees it: its id, its link columns and its canonical content.
struct Linked {
    id: String,
    seq: Option<i64>,
    prev_hash: Option<String>,
    row_hash: Option<String>,
    content: String,
}

/// Which rows of a table to read.
#[derive(Clone, Copy)]
enum Rows {
    /// Not yet linked, in the order they were written.
    Unlinked,
    /// Linked, after this position, in chain order (a page).
    After(i64),
}

/// SHA-256 (hex) of a row: the chain's name, the previous row's hash and the row's content.
fn link_hash(chain: Chain, prev_hash: &str, content: &str) -> String {
    let mut hasher = Sha256::new();
    for part in [chain.name(), prev_hash, content] {
        hasher.update(part.as_bytes());
        hasher.update(b"\n");
    }
    hex::encode(hasher.finalize())
}

/// Times as the database returns them, with every fractional digit.
fn time(at: NaiveDateTime) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.9f").to_string()
}

// Canonical content: a JSON array of every content column in table order (an array, so no map
// ordering can change it; serde_json writes strings, numbers and null one way only).

fn audit_content(r: &AuditEntryRow) -> String {
    json!([r.id, time(r.at), r.actor_id, r.actor, r.action, r.entity_type, r.entity_id, r.details]).to_string()
}

/// `reauthenticated` joins the content only when set, so rows written before it existed (all
/// `false`) keep the hash they were chained with, while turning it on or off in any row breaks it.
fn signoff_content(r: &SignOffRow) -> String {
    let mut content = json!([
        r.id,
        r.job_id,
        r.technician_id,
        r.checklist_key,
        r.checklist_version,
        r.answers.text(),
        r.failed_items.text(),
        time(r.signed_at),
        time(r.received_at),
        r.signer_name,
        r.meaning,
        r.content_hash
    ]);
    if r.reauthenticated
        && let Some(columns) = content.as_array_mut()
    {
        columns.push(json!({ "reauthenticated": true }));
    }
    content.to_string()
}

fn failure_content(r: &FailureRow) -> String {
    json!([
        r.id,
        r.source,
        r.job_id,
        r.signoff_id,
        r.reported_by,
        time(r.reported_at),
        r.description,
        r.item_ids.text(),
        r.hazards.text(),
        r.injury,
        r.vulnerable_occupant,
        r.service_lost.as_ref().map(|loss| loss.text()),
        r.content_hash
    ])
    .to_string()
}

/// The queries one chained table needs, written once for the three.
macro_rules! chained_table {
    ($module:ident, $table:ident, $row:ty, $time:ident, $content:path) => {
        mod $module {
            use super::*;
            use crate::db::schema::$table::dsl as t;

            pub(super) fn load(conn: &mut DbConnection, rows: Rows) -> QueryResult<Vec<Linked>> {
                let query =
                    t::$table.select((<$row>::as_select(), t::chain_seq, t::prev_hash, t::row_hash)).into_boxed();
                let query = match rows {
                    Rows::Unlinked => query.filter(t::row_hash.is_null()).order((t::$time.asc(), t::id.asc())),
                    Rows::After(seq) => query.filter(t::chain_seq.gt(seq)).order(t::chain_seq.asc()).limit(PAGE),
                };
                let loaded: Vec<($row, Option<i64>, Option<String>, Option<String>)> = query.load(conn)?;
                Ok(loaded
                    .into_iter()
                    .map(|(row, seq, prev_hash, row_hash)| Linked {
                        content: $content(&row),
                        id: row.id,
                        seq,
                        prev_hash,
                        row_hash,
                    })
                    .collect())
            }

            /// Whether any row waits to be linked (an indexed look-up that reads no row).
            pub(super) fn any_unlinked(conn: &mut DbConnection) -> QueryResult<bool> {
                diesel::select(diesel::dsl::exists(t::$table.filter(t::row_hash.is_null()))).get_result(conn)
            }

            /// How many rows wait to be linked.
            pub(super) fn unlinked(conn: &mut DbConnection) -> QueryResult<i64> {
                t::$table.filter(t::row_hash.is_null()).count().get_result(conn)
            }

            pub(super) fn link(conn: &mut DbConnection, id: &str, seq: i64, prev: &str, hash: &str) -> QueryResult<()> {
                let link = diesel::update(t::$table.find(id))
                    .set((t::chain_seq.eq(seq), t::prev_hash.eq(prev), t::row_hash.eq(hash)))
                    .returning(t::id);
                cached::execute!(link, conn).map(drop)
            }

            /// The row at `seq`, as (id, hash).
            pub(super) fn at(conn: &mut DbConnection, seq: i64) -> QueryResult<Option<(String, Option<String>)>> {
                cached::first!(t::$table.filter(t::chain_seq.eq(seq)).select((t::id, t::row_hash)), conn)
            }

            /// The row whose hash is `hash`, as (id, position).
            pub(super) fn by_hash(conn: &mut DbConnection, hash: &str) -> QueryResult<Option<(String, Option<i64>)>> {
                cached::first!(t::$table.filter(t::row_hash.eq(hash)).select((t::id, t::chain_seq)), conn)
            }
        }
    };
}

chained_table!(audit_rows, audit_log, AuditEntryRow, at, audit_content);
chained_table!(signoff_rows, signoffs, SignOffRow, received_at, signoff_content);
chained_table!(failure_rows, failure_reports, FailureRow, reported_at, failure_content);

fn load(conn: &mut DbConnection, chain: Chain, rows: Rows) -> QueryResult<Vec<Linked>> {
    match chain {
        Chain::AuditLog => audit_rows::load(conn, rows),
        Chain::SignOffs => signoff_rows::load(conn, rows),
        Chain::FailureReports => failure_rows::load(conn, rows),
    }
}

fn any_unlinked(conn: &mut DbConnection, chain: Chain) -> QueryResult<bool> {
    match chain {
        Chain::AuditLog => audit_rows::any_unlinked(conn),
        Chain::SignOffs => signoff_rows::any_unlinked(conn),
        Chain::FailureReports => failure_rows::any_unlinked(conn),
    }
}

fn unlinked(conn: &mut DbConnection, chain: Chain) -> QueryResult<i64> {
    match chain {
        Chain::AuditLog => audit_rows::unlinked(conn),
        Chain::SignOffs => signoff_rows::unlinked(conn),
        Chain::FailureReports => failure_rows::unlinked(conn),
    }
}

fn link(conn: &mut DbConnection, chain: Chain, id: &str, seq: i64, prev: &str, hash: &str) -> QueryResult<()> {
    match chain {
        Chain::AuditLog => audit_rows::link(conn, id, seq, prev, hash),
        Chain::SignOffs => signoff_rows::link(conn, id, seq, prev, hash),
        Chain::FailureReports => failure_rows::link(conn, id, seq, prev, hash),
    }
}

fn by_hash(conn: &mut DbConnection, chain: Chain, hash: &str) -> QueryResult<Option<(String, Option<i64>)>> {
    match chain {
        Chain::AuditLog => audit_rows::by_hash(conn, hash),
        Chain::SignOffs => signoff_rows::by_hash(conn, hash),
        Chain::FailureReports => failure_rows::by_hash(conn, hash),
    }
}

fn at(conn: &mut DbConnection, chain: Chain, seq: i64) -> QueryResult<Option<(String, Option<String>)>> {
    match chain {
        Chain::AuditLog => audit_rows::at(conn, seq),
        Chain::SignOffs => signoff_rows::at(conn, seq),
        Chain::FailureReports => failure_rows::at(conn, seq),
    }
}

/// Serializes linking across concurrent writers, until the transaction ends.
fn lock_chains(conn: &mut DbConnection) -> QueryResult<()> {
    match conn {
        // why: two PostgreSQL transactions linking at once would both extend a chain from the same
        // head (a fork). One transaction-scoped lock covers the three chains; it is taken just before
        // commit, after every other lock the transaction holds, and while holding it the transaction
        // only touches unlinked rows (whose writers have committed, or are this transaction) and the
        // heads (which only this lock's holder touches), so it never waits for another writer: no
        // lock cycle with `next_change_seq`, incident rows, etc.
        DbConnection::Postgresql(c) => c.batch_execute("SELECT pg_advisory_xact_lock(726153002)"),
        // why: SQLite write transactions are already serialized (`BEGIN IMMEDIATE`, one writer).
        DbConnection::Sqlite(_) => Ok(()),
    }
}

/// Whether any row waits to be linked into its chain: one indexed look-up per chain.
pub fn any_pending(conn: &mut DbConnection) -> QueryResult<bool> {
    for chain in Chain::ALL {
        if any_unlinked(conn, chain)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Links every row not yet in its chain (the committed ones, and the caller's own), in the caller's
/// write transaction; returns how many. Cheap when nothing waits: one indexed look-up per chain, and
/// no lock.
pub fn link_pending(conn: &mut DbConnection) -> QueryResult<u64> {
    if !any_pending(conn)? {
        return Ok(0);
    }
    link_waiting(conn)
}

/// [`link_pending`] for a caller that has just seen rows waiting ([`any_pending`]).
pub fn link_waiting(conn: &mut DbConnection) -> QueryResult<u64> {
    lock_chains(conn)?;
    // Read under the lock: another writer may have linked committed rows meanwhile.
    let plan = plan(conn)?;
    write_links(conn, &plan)
}

/// The links that extend one chain by the rows waiting, worked out from its head as it was read.
#[derive(Debug)]
struct Extension {
    chain: Chain,
    /// The head extended, as (length, hash).
    from: (i64, String),
    /// In chain order.
    links: Vec<Link>,
}

/// One row's link: its position, the hash before it and its own.
#[derive(Debug)]
struct Link {
    id: String,
    seq: i64,
    prev: String,
    hash: String,
}

/// The links of every row waiting, worked out by [`plan`] and written by [`write`].
#[derive(Debug)]
pub struct Plan(Vec<Extension>);

impl Plan {
    /// How many rows it links.
    pub fn rows(&self) -> usize {
        self.0.iter().map(|e| e.links.len()).sum()
    }
}

/// Works out the links of every row waiting to be linked (committed, or the caller's own), from
/// the chains' heads as they stand: reads and hashes, writes nothing. [`write`] writes them.
// why: apart, so that a caller can read and hash outside its write transaction and hold the
// write lock (on SQLite, the one writer's turn; on PostgreSQL, the chains' lock) only to write.
pub fn plan(conn: &mut DbConnection) -> QueryResult<Plan> {
    let heads = heads(conn)?;
    let mut extensions = Vec::new();
    for chain in Chain::ALL {
        let rows = load(conn, chain, Rows::Unlinked)?;
        if rows.is_empty() {
            continue;
        }
        let head = heads.iter().find(|h| h.chain == chain.name()).ok_or(diesel::result::Error::NotFound)?;
        let from = (head.length, head.head_hash.clone());
        let (mut length, mut prev) = from.clone();
        let mut links = Vec::with_capacity(rows.len());
        for row in rows {
            length += 1;
            let hash = link_hash(chain, &prev, &row.content);
            links.push(Link { id: row.id, seq: length, prev: std::mem::replace(&mut prev, hash.clone()), hash });
        }
        extensions.push(Extension { chain, from, links });
    }
    Ok(Plan(extensions))
}

/// Writes a [`plan`] in the caller's write transaction, unless a head it extends moved since it
/// was read (another process linked meanwhile): then writes nothing and returns `None`, and the
/// caller plans again. Returns how many rows it linked.
pub fn write(conn: &mut DbConnection, plan: &Plan) -> QueryResult<Option<u64>> {
    if plan.0.is_empty() {
        return Ok(Some(0));
    }
    lock_chains(conn)?;
    let heads = heads(conn)?;
    let unmoved = plan
        .0
        .iter()
        .all(|e| heads.iter().any(|h| h.chain == e.chain.name() && h.length == e.from.0 && h.head_hash == e.from.1));
    if !unmoved {
        return Ok(None);
    }
    write_links(conn, plan).map(Some)
}

/// Writes each link and each chain's new head; the chains' lock is held.
fn write_links(conn: &mut DbConnection, plan: &Plan) -> QueryResult<u64> {
    let mut linked = 0;
    for extension in &plan.0 {
        let Some(last) = extension.links.last() else { continue };
        for Link { id, seq, prev, hash } in &extension.links {
            link(conn, extension.chain, id, *seq, prev, hash)?;
            linked += 1;
        }
        let head = diesel::update(heads::audit_chain_heads.find(extension.chain.name()))
            .set((heads::length.eq(last.seq), heads::head_hash.eq(&last.hash)))
            .returning(heads::chain);
        cached::execute!(head, conn)?;
    }
    Ok(linked)
}

/// Each chain's recorded end.
pub fn heads(conn: &mut DbConnection) -> QueryResult<Vec<Head>> {
    let mut found: Vec<Head> =
        heads::audit_chain_heads.select((heads::chain, heads::length, heads::head_hash)).load(conn)?;
    found.sort_by_key(|h| Chain::ALL.iter().position(|c| c.name() == h.chain));
    Ok(found)
}

/// What is wrong at the first broken link of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The row's content (or its recorded previous hash) no longer matches its hash.
    Edited,
    /// Rows are missing before this one (positions `from..=to`).
    Deleted { from: i64, to: i64 },
    /// The row was chained after another row, which now stands elsewhere.
    Reordered { chained_after: String, now_at: Option<i64> },
    /// The row before it is not the one it was chained to, and no row has that hash: it was
    /// replaced, or edited and given a new hash.
    PredecessorReplaced { predecessor: String },
    /// The chain ends before its recorded head: rows were deleted from the end.
    Truncated { recorded: i64, found: i64 },
    /// The chain's last hash is not the recorded head.
    HeadDiffers { recorded: String },
}

/// The first broken link of a chain: the row it shows at and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// The row where the chain breaks (for a truncated chain: its last row, if any).
    pub row_id: Option<String>,
    pub position: Option<i64>,
    pub fault: Fault,
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let row = self.row_id.as_deref().unwrap_or("(none)");
        let at = self.position.map(|p| format!(" at position {p}")).unwrap_or_default();
        match &self.fault {
            Fault::Edited => write!(f, "row {row}{at} was edited: its content no longer matches its hash"),
            Fault::Deleted { from, to } if from == to => {
                write!(f, "row {row}{at}: the row before it (position {from}) was deleted")
            }
            Fault::Deleted { from, to } => {
                write!(f, "row {row}{at}: the rows before it (positions {from} to {to}) were deleted")
            }
            Fault::Reordered { chained_after, now_at } => {
                let now = now_at.map_or_else(|| "outside the chain".to_owned(), |p| format!("at position {p}"));
                write!(f, "row {row}{at} was reordered: it was chained after row {chained_after}, which is now {now}")
            }
            Fault::PredecessorReplaced { predecessor } => write!(
                f,
                "row {row}{at}: the row before it, {predecessor}, is not the row it was chained to (edited and re-hashed, or replaced)"
            ),
            Fault::Truncated { recorded, found } => write!(
                f,
                "the chain ends after {found} rows (last row {row}) but its head records {recorded}: rows were deleted from the end"
            ),
            Fault::HeadDiffers { recorded } => {
                write!(f, "the last row {row} does not hash to the recorded head {recorded}")
            }
        }
    }
}

/// What verifying one chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub chain: Chain,
    /// Rows walked (up to the first broken link).
    pub rows: i64,
    /// The hash of the last row walked.
    pub head_hash: String,
    pub broken: Option<Broken>,
    /// Rows written but not yet linked (the linker's next pass takes them): not a fault, and not
    /// vouched for until linked.
    pub pending: i64,
}

/// Walks `chain` from its first row to its recorded head, recomputing every hash and link; stops at
/// the first broken link. Rows linked after the head was read are left for the next run, and rows
/// not yet linked are counted as pending.
pub fn verify(conn: &mut DbConnection, chain: Chain) -> QueryResult<Verdict> {
    let head: Head = cached::first!(
        heads::audit_chain_heads.find(chain.name()).select((heads::chain, heads::length, heads::head_hash)),
        conn,
    )?
    .ok_or(diesel::result::Error::NotFound)?;
    let mut verdict = Verdict { chain, rows: 0, head_hash: GENESIS.to_owned(), broken: None, pending: 0 };
    let mut last_id: Option<String> = None;
    'pages: loop {
        let page = load(conn, chain, Rows::After(verdict.rows))?;
        if page.is_empty() {
            break;
        }
        for row in page {
            let seq = row.seq.unwrap_or_default();
            if seq > head.length {
                break 'pages;
            }
            let broken = |fault| Some(Broken { row_id: Some(row.id.clone()), position: Some(seq), fault });
            let prev = row.prev_hash.as_deref().unwrap_or_default();
            if seq != verdict.rows + 1 {
                verdict.broken = broken(Fault::Deleted { from: verdict.rows + 1, to: seq - 1 });
            } else if prev != verdict.head_hash {
                let fault = match by_hash(conn, chain, prev)? {
                    Some((id, now_at)) => Fault::Reordered { chained_after: id, now_at },
                    None => Fault::PredecessorReplaced { predecessor: last_id.clone().unwrap_or_default() },
                };
                verdict.broken = broken(fault);
            } else if row.row_hash.as_deref() != Some(link_hash(chain, prev, &row.content).as_str()) {
                verdict.broken = broken(Fault::Edited);
            }
            if verdict.broken.is_some() {
                return Ok(verdict);
            }
            verdict.rows = seq;
            verdict.head_hash = row.row_hash.unwrap_or_default();
            last_id = Some(row.id);
        }
    }
    verdict.pending = unlinked(conn, chain)?;
    if verdict.rows != head.length {
        let fault = Fault::Truncated { recorded: head.length, found: verdict.rows };
        verdict.broken = Some(Broken { row_id: last_id, position: Some(verdict.rows), fault });
    } else if verdict.head_hash != head.head_hash {
        let fault = Fault::HeadDiffers { recorded: head.head_hash };
        verdict.broken = Some(Broken { row_id: last_id, position: Some(verdict.rows), fault });
    }
    Ok(verdict)
}

/// A head copied elsewhere earlier (`GET /v1/audit/head`), to check the chains against: rows cut
/// from the end, with `audit_chain_heads` rewritten to match, pass [`verify`] but not this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SavedHead {
    /// Each listed chain's length and last hash, as `GET /v1/audit/head` returns them.
    Chains(Vec<Head>),
    /// One chain's head hash, copied on its own.
    Hash(String),
}

impl SavedHead {
    /// Reads `{"chains":[{"chain","rows","head_hash"}]}` (as served) or a bare 64-digit hash.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let is_hash = |h: &str| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit());
        if is_hash(text) {
            return Ok(Self::Hash(text.to_ascii_lowercase()));
        }
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|_| "expected a 64-digit hex hash or the JSON `GET /v1/audit/head` returned".to_owned())?;
        let chains = value["chains"].as_array().ok_or("the JSON has no `chains` list")?;
        let mut heads = Vec::new();
        for entry in chains {
            let chain = entry["chain"].as_str().filter(|c| Chain::ALL.iter().any(|k| k.name() == *c));
            let length = entry["rows"].as_i64().filter(|n| *n >= 0);
            let hash = entry["head_hash"].as_str().filter(|h| is_hash(h));
            match (chain, length, hash) {
                (Some(chain), Some(length), Some(hash)) => {
                    heads.push(Head { chain: chain.to_owned(), length, head_hash: hash.to_ascii_lowercase() });
                }
                _ => return Err(format!("not a chain head: {entry}")),
            }
        }
        if heads.is_empty() {
            return Err("the JSON lists no chain".to_owned());
        }
        Ok(Self::Chains(heads))
    }
}

/// Whether the chains, as `verdicts` found them intact, still hold `saved` within their intact part
/// (and so extend it). Returns what is wrong, one line per chain; empty when all is well.
pub fn check_saved_head(conn: &mut DbConnection, verdicts: &[Verdict], saved: &SavedHead) -> QueryResult<Vec<String>> {
    let intact = |chain: Chain| verdicts.iter().find(|v| v.chain == chain).map_or(0, |v| v.rows);
    let mut problems = Vec::new();
    match saved {
        SavedHead::Chains(heads) => {
            for head in heads {
                let Some(chain) = Chain::ALL.into_iter().find(|c| c.name() == head.chain) else { continue };
                if head.length == 0 {
                    continue;
                }
                let (name, rows, hash) = (chain.name(), head.length, &head.head_hash);
                match at(conn, chain, rows)? {
                    Some((_, Some(found))) if found == *hash && rows <= intact(chain) => {}
                    Some((id, Some(found))) if found == *hash => problems.push(format!(
                        "{name}: the saved head (row {id} at position {rows}) lies past the chain's first broken link"
                    )),
                    Some((id, found)) => problems.push(format!(
                        "{name}: row {id} at position {rows} hashes to {}, not to the saved head {hash}: the chain was rewritten",
                        found.as_deref().unwrap_or("nothing")
                    )),
                    None => problems.push(format!(
                        "{name}: the saved head is row {rows} ({hash}), but the chain now holds {} intact rows: rows were deleted from its end",
                        intact(chain)
                    )),
                }
            }
        }
        SavedHead::Hash(hash) if hash == GENESIS => {}
        SavedHead::Hash(hash) => {
            let mut held = false;
            for chain in Chain::ALL {
                if let Some((_, Some(seq))) = by_hash(conn, chain, hash)? {
                    held |= seq <= intact(chain);
                }
            }
            if !held {
                problems.push(format!(
                    "no chain holds the saved head {hash} in its intact part: rows were deleted from the end of a chain, or it was rewritten"
                ));
            }
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::types::Json;

    #[test]
    fn a_signoff_without_reauthentication_hashes_as_before_the_flag_existed() {
        let at = chrono::DateTime::from_timestamp(1_780_000_000, 123_000).expect("time").naive_utc();
        let mut row = SignOffRow {
            id: "s1".into(),
            job_id: "j1".into(),
            technician_id: "t1".into(),
            checklist_key: "gas".into(),
            checklist_version: 2,
            answers: Json::new(Vec::new()).expect("json"),
            failed_items: Json::new(Vec::new()).expect("json"),
            signed_at: at,
            received_at: at,
            signer_name: "Tess".into(),
            meaning: "true".into(),
            content_hash: "c".into(),
            reauthenticated: false,
        };
        // The canonical content rows were chained with before the `reauthenticated` column.
        let before = json!(["s1", "j1", "t1", "gas", 2, "[]", "[]", time(at), time(at), "Tess", "true", "c"]);
        assert_eq!(signoff_content(&row), before.to_string());
        row.reauthenticated = true;
        assert_ne!(signoff_content(&row), before.to_string(), "the flag is vouched for once set");
    }

    #[test]
    fn a_saved_head_is_read_from_the_served_json_or_a_bare_hash() {
        let hash = "ab".repeat(32);
        assert_eq!(SavedHead::parse(&format!(" {} \n", hash.to_uppercase())), Ok(SavedHead::Hash(hash.clone())));
        let served = format!(r#"{{"chains":[{{"chain":"signoffs","rows":3,"head_hash":"{hash}"}}]}}"#);
        let head = Head { chain: "signoffs".to_owned(), length: 3, head_hash: hash.clone() };
        assert_eq!(SavedHead::parse(&served), Ok(SavedHead::Chains(vec![head])));
        for wrong in
            ["", "abc", "{}", r#"{"chains":[]}"#, r#"{"chains":[{"chain":"users","rows":1,"head_hash":"00"}]}"#]
        {
            assert!(SavedHead::parse(wrong).is_err(), "{wrong}");
        }
    }
}
