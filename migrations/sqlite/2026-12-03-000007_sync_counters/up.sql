-- One sync counter per technician instead of one row shared by every writer. A job's change_seq is
-- (the technician's counter × 2^20 + the technician's number): it increases with every change to that
-- technician's jobs, in commit order (the counter row is locked for the rest of the transaction), and
-- stays unique across technicians. Counters start above every global value handed out before.
CREATE TABLE sync_counters (
    number        INTEGER PRIMARY KEY AUTOINCREMENT,
    technician_id TEXT NOT NULL UNIQUE REFERENCES users (id),
    last_change   BIGINT NOT NULL
);
INSERT INTO sync_counters (technician_id, last_change)
    SELECT id, (SELECT value FROM counters WHERE name = 'jobs') / 1048576 + 1 FROM users ORDER BY id;
DROP TABLE counters;
