-- A tamper-evident trail (21 CFR 11.10(e)): audit entries, sign-offs and failure reports each form a
-- hash chain of their own. A row's position (chain_seq), the hash of the row before it (prev_hash)
-- and the hash of its content and prev_hash (row_hash) are set once, by the service, at the end of
-- the transaction that wrote it (src/db/chain.rs). Rows written before this migration are chained
-- at the next start-up, in the order they were written: the chain proves nothing about them before then.
ALTER TABLE audit_log ADD COLUMN chain_seq BIGINT;
ALTER TABLE audit_log ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_log ADD COLUMN row_hash TEXT;
ALTER TABLE signoffs ADD COLUMN chain_seq BIGINT;
ALTER TABLE signoffs ADD COLUMN prev_hash TEXT;
ALTER TABLE signoffs ADD COLUMN row_hash TEXT;
ALTER TABLE failure_reports ADD COLUMN chain_seq BIGINT;
ALTER TABLE failure_reports ADD COLUMN prev_hash TEXT;
ALTER TABLE failure_reports ADD COLUMN row_hash TEXT;

CREATE UNIQUE INDEX audit_log_chain ON audit_log (chain_seq);
CREATE UNIQUE INDEX signoffs_chain ON signoffs (chain_seq);
CREATE UNIQUE INDEX failure_reports_chain ON failure_reports (chain_seq);
-- The rows not yet chained: found at every commit, so kept in small partial indexes.
CREATE INDEX audit_log_unchained ON audit_log (at, id) WHERE row_hash IS NULL;
CREATE INDEX signoffs_unchained ON signoffs (received_at, id) WHERE row_hash IS NULL;
CREATE INDEX failure_reports_unchained ON failure_reports (reported_at, id) WHERE row_hash IS NULL;

-- The end of each chain: how many rows it holds and the last row's hash (genesis: 64 zeros).
CREATE TABLE audit_chain_heads (
    chain     TEXT PRIMARY KEY NOT NULL CHECK (chain IN ('audit_log', 'signoffs', 'failure_reports')),
    length    BIGINT NOT NULL,
    head_hash TEXT NOT NULL
);
INSERT INTO audit_chain_heads (chain, length, head_hash) VALUES
    ('audit_log', 0, '0000000000000000000000000000000000000000000000000000000000000000'),
    ('signoffs', 0, '0000000000000000000000000000000000000000000000000000000000000000'),
    ('failure_reports', 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- why: the rows stay immutable; the only change allowed is setting a row's link once.
DROP TRIGGER signoffs_immutable_update;
CREATE TRIGGER signoffs_immutable_update BEFORE UPDATE OF
    id, job_id, technician_id, checklist_key, checklist_version, answers, failed_items, signed_at,
    received_at, signer_name, meaning, content_hash ON signoffs
BEGIN SELECT RAISE(ABORT, 'sign-offs are immutable'); END;
CREATE TRIGGER signoffs_chained_once BEFORE UPDATE OF chain_seq, prev_hash, row_hash ON signoffs
WHEN OLD.row_hash IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'sign-offs are immutable'); END;

DROP TRIGGER audit_log_immutable_update;
CREATE TRIGGER audit_log_immutable_update BEFORE UPDATE OF
    id, at, actor_id, actor, action, entity_type, entity_id, details ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_chained_once BEFORE UPDATE OF chain_seq, prev_hash, row_hash ON audit_log
WHEN OLD.row_hash IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

DROP TRIGGER failure_reports_immutable_update;
CREATE TRIGGER failure_reports_immutable_update BEFORE UPDATE OF
    id, source, job_id, signoff_id, reported_by, reported_at, description, item_ids, hazards, injury,
    vulnerable_occupant, service_lost, content_hash ON failure_reports
BEGIN SELECT RAISE(ABORT, 'failure reports are immutable'); END;
CREATE TRIGGER failure_reports_chained_once BEFORE UPDATE OF chain_seq, prev_hash, row_hash ON failure_reports
WHEN OLD.row_hash IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'failure reports are immutable'); END;
