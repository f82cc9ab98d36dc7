#!/usr/bin/env python3
"""Raw-SQLite anchor for the load benchmark: the SQL of a sign-off's transaction, without fieldproof.

    anchor_sqlite.py DB DIR THREADS SECONDS

DB is a copy of the seeded database (the same schema, triggers and indexes); DIR holds what seed.py
wrote. THREADS threads, each with its own connection (WAL, synchronous=FULL, foreign keys, a busy
timeout), run for SECONDS: BEGIN IMMEDIATE; bump the technician's sync counter; update the job; insert
the sign-off (the same answers bytes) and its audit entry; the three follow-up look-ups (make-safe
visit, retraining, recovery case); set both rows' chain links; COMMIT. The chain head row and its
serialization are left out. Prints: RESULT <transactions> <seconds> <p50 ms> <p99 ms> <errors>.
"""

import itertools
import json
import sqlite3
import sys
import threading
import time
import uuid
from datetime import datetime, timezone

HASH = "0" * 64


def main():
    db, out, threads, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    pairs = [line.split()[1:3] for line in open(f"{out}/technicians.txt")]
    answers = open(f"{out}/answers.json").read()
    setup = sqlite3.connect(db)
    start_seq = setup.execute(
        "SELECT max(coalesce((SELECT max(chain_seq) FROM signoffs), 0), "
        "coalesce((SELECT max(chain_seq) FROM audit_log), 0))").fetchone()[0]
    setup.close()
    chain = itertools.count(start_seq + 1)
    latencies, errors = [], [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(n):
        conn = sqlite3.connect(db, timeout=5, isolation_level=None, check_same_thread=False)
        conn.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")
        mine, i = [], n
        while time.monotonic() < stop:
            job_id, technician_id = pairs[i % len(pairs)]
            i += 7
            now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
            signoff_id, audit_id = str(uuid.uuid4()), str(uuid.uuid4())
            began = time.perf_counter()
            try:
                conn.execute("BEGIN IMMEDIATE")
                counter, number = conn.execute(
                    "UPDATE sync_counters SET last_change = last_change + 1 WHERE technician_id = ? "
                    "RETURNING last_change, number", (technician_id,)).fetchone()
                conn.execute("UPDATE jobs SET status = 'signed_off', change_seq = ?, updated_at = ? WHERE id = ?",
                             ((counter << 20) | number, now, job_id))
                conn.execute(
                    "INSERT INTO signoffs (id, job_id, technician_id, checklist_key, checklist_version, answers, "
                    "failed_items, signed_at, received_at, signer_name, meaning, content_hash) "
                    "VALUES (?, ?, ?, 'gas-boiler-annual-service', 1, ?, '[]', ?, ?, 'Load Technician', "
                    "'I carried out this work and the recorded results are true', ?)",
                    (signoff_id, job_id, technician_id, answers, now, now, HASH))
                details = json.dumps({"job_id": job_id, "checklist": "gas-boiler-annual-service/v1",
                                      "content_hash": HASH, "failed_items": []})
                conn.execute(
                    "INSERT INTO audit_log (id, at, actor_id, actor, action, entity_type, entity_id, details) "
                    "VALUES (?, ?, ?, 'load-tech', 'signoff.recorded', 'signoff', ?, ?)",
                    (audit_id, now, technician_id, signoff_id, details))
                conn.execute("SELECT * FROM make_safe_visits WHERE job_id = ? LIMIT 1", (job_id,)).fetchall()
                conn.execute("SELECT * FROM retraining_assignments WHERE technician_id = ? AND checklist_key = "
                             "'gas-boiler-annual-service' AND status IN ('trained') ORDER BY created_at",
                             (technician_id,)).fetchall()
                conn.execute("SELECT * FROM recovery_cases WHERE fix_job_id = ? LIMIT 1", (job_id,)).fetchall()
                for table, row in (("signoffs", signoff_id), ("audit_log", audit_id)):
                    conn.execute(f"UPDATE {table} SET chain_seq = ?, prev_hash = ?, row_hash = ? WHERE id = ?",
                                 (next(chain), HASH, HASH, row))
                conn.execute("COMMIT")
                mine.append(time.perf_counter() - began)
            except sqlite3.Error as e:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                with lock:
                    errors[0] += 1
                    if errors[0] <= 3:
                        print(f"anchor error: {e}", file=sys.stderr)
        with lock:
            latencies.extend(mine)

    started = time.monotonic()
    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.monotonic() - started
    latencies.sort()
    pct = lambda p: latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000 if latencies else 0
    print(f"RESULT {len(latencies)} {elapsed:.3f} {pct(0.5):.3f} {pct(0.99):.3f} {errors[0]}")


if __name__ == "__main__":
    main()
