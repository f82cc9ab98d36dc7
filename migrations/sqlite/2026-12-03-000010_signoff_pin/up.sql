-- Re-authentication at sign-off (21 CFR 11.200): each technician's own sign-off PIN, kept as an
-- Argon2id hash like passwords, and on each sign-off whether the signer re-authenticated with it.
CREATE TABLE signoff_pins (
    user_id  TEXT PRIMARY KEY NOT NULL REFERENCES users (id),
    pin_hash TEXT NOT NULL,
    set_at   TIMESTAMP NOT NULL
);

ALTER TABLE signoffs ADD COLUMN reauthenticated BOOLEAN NOT NULL DEFAULT 0;

-- why: the new column is sign-off content, immutable like the rest.
DROP TRIGGER signoffs_immutable_update;
CREATE TRIGGER signoffs_immutable_update BEFORE UPDATE OF
    id, job_id, technician_id, checklist_key, checklist_version, answers, failed_items, signed_at,
    received_at, signer_name, meaning, content_hash, reauthenticated ON signoffs
BEGIN SELECT RAISE(ABORT, 'sign-offs are immutable'); END;
