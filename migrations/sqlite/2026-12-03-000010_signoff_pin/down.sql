DROP TRIGGER signoffs_immutable_update;
CREATE TRIGGER signoffs_immutable_update BEFORE UPDATE OF
    id, job_id, technician_id, checklist_key, checklist_version, answers, failed_items, signed_at,
    received_at, signer_name, meaning, content_hash ON signoffs
BEGIN SELECT RAISE(ABORT, 'sign-offs are immutable'); END;
ALTER TABLE signoffs DROP COLUMN reauthenticated;
DROP TABLE signoff_pins;
