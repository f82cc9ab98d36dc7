DROP TRIGGER failure_reports_immutable ON failure_reports;
CREATE TRIGGER failure_reports_immutable BEFORE UPDATE OR DELETE ON failure_reports
FOR EACH ROW EXECUTE FUNCTION fieldproof_refuse_change();
DROP TRIGGER audit_log_immutable ON audit_log;
CREATE TRIGGER audit_log_immutable BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION fieldproof_refuse_change();
DROP TRIGGER signoffs_immutable ON signoffs;
CREATE TRIGGER signoffs_immutable BEFORE UPDATE OR DELETE ON signoffs
FOR EACH ROW EXECUTE FUNCTION fieldproof_refuse_change();
DROP FUNCTION fieldproof_chain_once();

DROP TABLE audit_chain_heads;
ALTER TABLE failure_reports DROP COLUMN chain_seq, DROP COLUMN prev_hash, DROP COLUMN row_hash;
ALTER TABLE signoffs DROP COLUMN chain_seq, DROP COLUMN prev_hash, DROP COLUMN row_hash;
ALTER TABLE audit_log DROP COLUMN chain_seq, DROP COLUMN prev_hash, DROP COLUMN row_hash;
