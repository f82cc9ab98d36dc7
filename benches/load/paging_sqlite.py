#!/usr/bin/env python3
"""SQLite side of the paging benchmark (benches/load/paging), on a database fieldproof has migrated
and `serve --demo` seeded (the server stopped):

    paging_sqlite.py seed DB N NOW_US     N failure reports and N incidents, in one transaction, then ANALYZE
    paging_sqlite.py row DB OFFSET        the cursor and id of the row at OFFSET in queue order
    paging_sqlite.py plan DB CURSOR       EXPLAIN QUERY PLAN of the page after CURSOR, as the server asks it
    paging_sqlite.py sql -                that query's SQL (diesel's, with ? for the cursor and limit)

The rows are those benches/load/paging_seed.sql writes on PostgreSQL (see there): the same draws,
references, CHECK-valid values and placeholder chain links, with times stored as diesel stores them
on SQLite (chrono's "%F %T%.f": no fraction, 3 or 6 digits), so text order is time order.
"""

import hashlib
import sqlite3
import sys
import uuid
from datetime import datetime, timezone

PLACEHOLDER = "placeholder: seeded by benches/load/paging"
YEAR_US = 365 * 86400 * 1_000_000
DAY_US = 86400 * 1_000_000
HOUR_US = 3600 * 1_000_000
COLUMNS = ("id, failure_id, job_id, customer_id, technician_id, checklist_key, severity, severity_rank, "
           "original_severity, reasons, rules_version, is_repeat, status, assignee_id, reported_at, updated_at, "
           "revision, queue_rank, triage_due_at, triaged_at")


def ts(us):
    """A time (epoch microseconds) as diesel writes a NaiveDateTime to SQLite."""
    seconds, fraction = divmod(us, 1_000_000)
    text = datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    if fraction == 0:
        return text
    if fraction % 1000 == 0:
        return f"{text}.{fraction // 1000:03d}"
    return f"{text}.{fraction:06d}"


def micros(text):
    """Epoch microseconds of a stored time (the server's cursor encoding)."""
    fmt = "%Y-%m-%d %H:%M:%S.%f" if "." in text else "%Y-%m-%d %H:%M:%S"
    at = datetime.strptime(text, fmt).replace(tzinfo=timezone.utc)
    return int(at.timestamp()) * 1_000_000 + at.microsecond


def connect(db):
    conn = sqlite3.connect(db, isolation_level=None)
    conn.create_function("ts", 1, ts, deterministic=True)
    conn.create_function("uuid4", 0, lambda: str(uuid.uuid4()))
    conn.create_function("sha256_hex", 1, lambda s: hashlib.sha256(s.encode()).hexdigest(), deterministic=True)
    conn.execute("PRAGMA foreign_keys = ON")
    # why: a million random-id inserts into six indexes spill SQLite's default 2 MiB page cache to
    # disk over and over; 512 MiB keeps the indexes in memory until the commit.
    conn.execute("PRAGMA cache_size = -524288")
    conn.execute("PRAGMA temp_store = MEMORY")
    return conn


def draw(n):
    """A uniform draw in 0..n-1 (random() is a signed 64-bit integer)."""
    return f"((random() % {n}) + {n}) % {n}"


def seed(db, n, now_us):
    conn = connect(db)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(f"""
        CREATE TEMP TABLE paging_seed AS
        WITH RECURSIVE series(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM series WHERE g < :n)
        SELECT g, uuid4() AS failure_id, uuid4() AS incident_id, {draw(1000)} AS grade, {draw(1000)} AS state,
               {draw(1000)} AS triage, {draw(YEAR_US)} AS age_us
        FROM series""", {"n": n})
    conn.execute("""
        CREATE TEMP TABLE paging_rows AS
        SELECT g, failure_id, incident_id, state,
               :now_us - CASE WHEN triage < 2 THEN age_us % :day ELSE age_us END AS at_us,
               CASE WHEN grade < 100 THEN 2 WHEN grade < 450 THEN 1 ELSE 0 END AS rank,
               triage < 2 AS waiting,
               triage >= 2 AND triage < 12 AS triaged,
               grade BETWEEN 440 AND 449 AS regraded
        FROM paging_seed""", {"now_us": now_us, "day": DAY_US})
    refs = """
        WITH refs AS (
            SELECT j.id AS job_id, j.customer_id, j.technician_id, j.checklist_key
            FROM jobs j JOIN users u ON u.id = j.technician_id
            WHERE u.username = 'tess' AND j.checklist_key = 'gas-boiler-annual-service'
            ORDER BY j.created_at LIMIT 1
        )"""
    conn.execute(refs + """
        , head AS (SELECT length FROM audit_chain_heads WHERE chain = 'failure_reports')
        INSERT INTO failure_reports (id, source, job_id, signoff_id, reported_by, reported_at, description, item_ids,
                                     hazards, injury, vulnerable_occupant, service_lost, content_hash,
                                     chain_seq, prev_hash, row_hash)
        SELECT r.failure_id, 'report', refs.job_id, NULL, refs.technician_id, ts(r.at_us),
               CASE WHEN r.waiting THEN 'customer rang about the visit, call back'
                    WHEN r.rank = 2 THEN 'customer smells gas near the boiler since the service'
                    WHEN r.rank = 1 THEN 'no heating or hot water since the visit'
                    ELSE 'dust sheets left behind and a scuff on the hall wall' END,
               '[]',
               CASE WHEN r.rank = 2 AND NOT r.waiting THEN '["gas"]' ELSE '[]' END,
               0, r.g % 50 = 0,
               CASE WHEN r.rank = 1 AND NOT r.waiting THEN '{"service":"heating","hours":6.0}' END,
               sha256_hex(r.failure_id),
               head.length + r.g, :placeholder, :placeholder
        FROM paging_rows r, refs, head""", {"placeholder": PLACEHOLDER})
    conn.execute("UPDATE audit_chain_heads SET length = length + :n, head_hash = :placeholder "
                 "WHERE chain = 'failure_reports'", {"n": n, "placeholder": PLACEHOLDER})
    conn.execute(refs + f"""
        , people AS (
            SELECT (SELECT id FROM users WHERE username = 'dana') AS dana,
                   (SELECT id FROM users WHERE username = 'sam') AS sam
        ), graded AS (
            SELECT r.*,
                   CASE r.rank WHEN 2 THEN 'safety_critical' WHEN 1 THEN 'service_impacting' ELSE 'nuisance' END
                       AS severity,
                   CASE WHEN r.waiting THEN 'open' WHEN r.state < 80 THEN 'open' WHEN r.state < 160 THEN 'acknowledged'
                        WHEN r.state < 260 THEN 'assigned' ELSE 'resolved' END AS status
            FROM paging_rows r
        ), versioned AS (
            SELECT g.*,
                   CASE g.status WHEN 'open' THEN 1 WHEN 'acknowledged' THEN 2 WHEN 'assigned' THEN 3 ELSE 4 END
                       + CASE WHEN g.triaged OR g.regraded THEN 1 ELSE 0 END AS revision
            FROM graded g
        )
        INSERT INTO incidents ({COLUMNS})
        SELECT v.incident_id, v.failure_id, refs.job_id, refs.customer_id, refs.technician_id, refs.checklist_key,
               v.severity, v.rank,
               CASE WHEN v.regraded THEN 'nuisance' ELSE v.severity END,
               CASE WHEN v.waiting THEN '[]'
                    WHEN v.rank = 2 THEN '[{{"rule":"text.gas","evidence":"smells gas","points_to":"safety_critical"}}]'
                    WHEN v.rank = 1 THEN '[{{"rule":"text.no-heat-or-hot-water","evidence":"no heating or hot water","points_to":"service_impacting"}}]'
                    ELSE '[{{"rule":"text.mess-or-finish","evidence":"dust sheets left behind","points_to":"nuisance"}}]' END,
               'severity-rules/v5', v.state % 20 = 0, v.status,
               CASE v.status WHEN 'assigned' THEN people.dana WHEN 'resolved' THEN people.sam END,
               ts(v.at_us), ts(v.at_us + (v.revision - 1) * :hour), v.revision,
               CASE WHEN v.waiting THEN 3 ELSE v.rank END,
               CASE WHEN v.waiting OR v.triaged THEN ts(v.at_us + 15 * 60 * 1000000) END,
               CASE WHEN v.triaged THEN ts(v.at_us + 10 * 60 * 1000000) END
        FROM versioned v, refs, people""", {"hour": HOUR_US})
    conn.execute("DROP TABLE paging_rows")
    conn.execute("DROP TABLE paging_seed")
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()


def row(db, offset):
    conn = sqlite3.connect(db)
    rank, at, id_ = conn.execute(
        "SELECT queue_rank, reported_at, id FROM incidents ORDER BY queue_rank DESC, reported_at DESC, id DESC "
        "LIMIT 1 OFFSET ?", (offset,)).fetchone()
    print(f"{rank}_{micros(at)}_{id_} {id_}")


# The page query as diesel writes it on SQLite (src/db/incidents.rs `queue`, with a cursor).
PAGE_SQL = (
    "SELECT " + ", ".join(f"`incidents`.`{c.strip()}`" for c in COLUMNS.split(",")) + " FROM `incidents` "
    "WHERE (incidents.queue_rank, incidents.reported_at, incidents.id) < (?, ?, ?) "
    "ORDER BY `incidents`.`queue_rank` DESC, `incidents`.`reported_at` DESC, `incidents`.`id` DESC LIMIT ?"
)


def plan(db, cursor):
    rank, at, id_ = cursor.split("_", 2)
    conn = sqlite3.connect(db)
    print(f"  EXPLAIN QUERY PLAN (SQLite {sqlite3.sqlite_version}, Python's; the server bundles its own):")
    for entry in conn.execute("EXPLAIN QUERY PLAN " + PAGE_SQL, (int(rank), ts(int(at)), id_, 50)):
        print(f"    {entry[-1]}")


if __name__ == "__main__":
    command, db = sys.argv[1], sys.argv[2]
    if command == "seed":
        seed(db, int(sys.argv[3]), int(sys.argv[4]))
    elif command == "row":
        row(db, int(sys.argv[3]))
    elif command == "plan":
        plan(db, sys.argv[3])
    elif command == "sql":
        print(PAGE_SQL)
    else:
        sys.exit(f"unknown command {command}")
