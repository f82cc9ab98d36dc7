-- The spine: users, customers, published checklist versions, jobs, sign-offs and the audit log.
-- Portable types only (see src/db/schema.rs): ids and JSON are TEXT, times are naive UTC TIMESTAMP.

CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('technician', 'dispatcher', 'safety_officer', 'admin')),
    password_hash TEXT NOT NULL,
    active        BOOLEAN NOT NULL DEFAULT 1,
    created_at    TIMESTAMP NOT NULL
);

CREATE TABLE customers (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    phone       TEXT,
    email       TEXT,
    preferences TEXT NOT NULL DEFAULT '[]',
    notes       TEXT,
    created_at  TIMESTAMP NOT NULL
);

CREATE TABLE checklist_versions (
    checklist_key TEXT NOT NULL,
    version       INTEGER NOT NULL CHECK (version > 0),
    title         TEXT NOT NULL,
    trade         TEXT NOT NULL,
    body          TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    published_at  TIMESTAMP NOT NULL,
    published_by  TEXT,
    PRIMARY KEY (checklist_key, version)
);

-- Monotonic change counters: a job's change_seq drives the technicians' changes-since cursor.
CREATE TABLE counters (
    name  TEXT PRIMARY KEY NOT NULL,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('jobs', 0);

CREATE TABLE jobs (
    id                TEXT PRIMARY KEY NOT NULL,
    customer_id       TEXT NOT NULL REFERENCES customers (id),
    site_address      TEXT NOT NULL,
    site_postcode     TEXT NOT NULL,
    site_notes        TEXT,
    technician_id     TEXT NOT NULL REFERENCES users (id),
    checklist_key     TEXT NOT NULL,
    checklist_version INTEGER NOT NULL,
    scheduled_for     TIMESTAMP NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('scheduled', 'signed_off')),
    created_by        TEXT NOT NULL REFERENCES users (id),
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    change_seq        BIGINT NOT NULL UNIQUE,
    FOREIGN KEY (checklist_key, checklist_version) REFERENCES checklist_versions (checklist_key, version)
);
CREATE INDEX jobs_technician_change_seq ON jobs (technician_id, change_seq);

CREATE TABLE signoffs (
    id                TEXT PRIMARY KEY NOT NULL,
    job_id            TEXT NOT NULL REFERENCES jobs (id),
    technician_id     TEXT NOT NULL REFERENCES users (id),
    checklist_key     TEXT NOT NULL,
    checklist_version INTEGER NOT NULL,
    answers           TEXT NOT NULL,
    failed_items      TEXT NOT NULL,
    signed_at         TIMESTAMP NOT NULL,
    received_at       TIMESTAMP NOT NULL,
    signer_name       TEXT NOT NULL,
    meaning           TEXT NOT NULL,
    content_hash      TEXT NOT NULL,
    FOREIGN KEY (checklist_key, checklist_version) REFERENCES checklist_versions (checklist_key, version)
);
CREATE INDEX signoffs_job ON signoffs (job_id, received_at);

-- why: a sign-off is a signed record; the database refuses to alter it whatever the code does.
CREATE TRIGGER signoffs_immutable_update BEFORE UPDATE ON signoffs
BEGIN SELECT RAISE(ABORT, 'sign-offs are immutable'); END;
CREATE TRIGGER signoffs_immutable_delete BEFORE DELETE ON signoffs
BEGIN SELECT RAISE(ABORT, 'sign-offs are immutable'); END;

CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY NOT NULL,
    at          TIMESTAMP NOT NULL,
    actor_id    TEXT,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    details     TEXT NOT NULL
);
CREATE INDEX audit_log_entity ON audit_log (entity_type, entity_id, at);

CREATE TRIGGER audit_log_immutable_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_immutable_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
