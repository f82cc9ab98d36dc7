DROP TRIGGER failure_reports_chained_once;
DROP TRIGGER failure_reports_immutable_update;
CREATE TRIGGER failure_reports_immutable_update BEFORE UPDATE ON failure_reports
BEGIN SELECT RAISE(ABORT, 'failure reports are immutable'); END;
DROP TRIGGER audit_log_chained_once;
DROP TRIGGER audit_log_immutable_update;
CREATE TRIGGER audit_log_immutable_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
DROP TRIGGER signoffs_chained_once;
DROP TRIGGER signoffs_immutable_update;
CREATE TRIGGER signoffs_immutable_update BEFORE UPDATE ON signoffs
BEGIN SELECT RAISE(ABORT, 'sign-offs are immutable'); END;

DROP TABLE audit_chain_heads;
DROP INDEX failure_reports_unchained;
DROP INDEX signoffs_unchained;
DROP INDEX audit_log_unchained;
DROP INDEX failure_reports_chain;
DROP INDEX signoffs_chain;
DROP INDEX audit_log_chain;
ALTER TABLE failure_reports DROP COLUMN row_hash;
ALTER TABLE failure_reports DROP COLUMN prev_hash;
ALTER TABLE failure_reports DROP COLUMN chain_seq;
ALTER TABLE signoffs DROP COLUMN row_hash;
ALTER TABLE signoffs DROP COLUMN prev_hash;
ALTER TABLE signoffs DROP COLUMN chain_seq;
ALTER TABLE audit_log DROP COLUMN row_hash;
ALTER TABLE audit_log DROP COLUMN prev_hash;
ALTER TABLE audit_log DROP COLUMN chain_seq;
