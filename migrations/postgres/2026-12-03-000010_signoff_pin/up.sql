-- Re-authentication at sign-off (21 CFR 11.200): each technician's own sign-off PIN, kept as an
-- Argon2id hash like passwords, and on each sign-off whether the signer re-authenticated with it.
CREATE TABLE signoff_pins (
    user_id  TEXT PRIMARY KEY NOT NULL REFERENCES users (id),
    pin_hash TEXT NOT NULL,
    set_at   TIMESTAMP NOT NULL
);

-- The immutability trigger (fieldproof_chain_once) compares whole rows, so it covers the new column.
ALTER TABLE signoffs ADD COLUMN reauthenticated BOOLEAN NOT NULL DEFAULT FALSE;
