-- Failure reports (from sign-offs with failed items, or filed afterwards) and the incidents they open.

CREATE TABLE failure_reports (
    id                  TEXT PRIMARY KEY NOT NULL,
    source              TEXT NOT NULL CHECK (source IN ('signoff', 'report')),
    job_id              TEXT NOT NULL REFERENCES jobs (id),
    signoff_id          TEXT UNIQUE REFERENCES signoffs (id),
    reported_by         TEXT NOT NULL REFERENCES users (id),
    reported_at         TIMESTAMP NOT NULL,
    description         TEXT NOT NULL,
    item_ids            TEXT NOT NULL,
    hazards             TEXT NOT NULL,
    injury              BOOLEAN NOT NULL,
    vulnerable_occupant BOOLEAN NOT NULL,
    service_lost        TEXT,
    content_hash        TEXT NOT NULL
);

-- One row per checklist item a failure names: repeat detection and "which items fail most".
CREATE TABLE failure_items (
    failure_id        TEXT NOT NULL REFERENCES failure_reports (id),
    item_id           TEXT NOT NULL,
    checklist_key     TEXT NOT NULL,
    checklist_version INTEGER NOT NULL,
    technician_id     TEXT NOT NULL REFERENCES users (id),
    reported_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (failure_id, item_id)
);
CREATE INDEX failure_items_technician ON failure_items (technician_id, checklist_key, item_id);

CREATE TABLE incidents (
    id                TEXT PRIMARY KEY NOT NULL,
    failure_id        TEXT NOT NULL UNIQUE REFERENCES failure_reports (id),
    job_id            TEXT NOT NULL REFERENCES jobs (id),
    customer_id       TEXT NOT NULL REFERENCES customers (id),
    technician_id     TEXT NOT NULL REFERENCES users (id),
    checklist_key     TEXT NOT NULL,
    severity          TEXT NOT NULL CHECK (severity IN ('nuisance', 'service_impacting', 'safety_critical')),
    severity_rank     INTEGER NOT NULL CHECK (severity_rank BETWEEN 0 AND 2),
    original_severity TEXT NOT NULL CHECK (original_severity IN ('nuisance', 'service_impacting', 'safety_critical')),
    reasons           TEXT NOT NULL,
    rules_version     TEXT NOT NULL,
    is_repeat         BOOLEAN NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'assigned', 'resolved')),
    assignee_id       TEXT REFERENCES users (id),
    reported_at       TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    revision          BIGINT NOT NULL
);
CREATE INDEX incidents_queue ON incidents (severity_rank DESC, reported_at DESC, id DESC);
CREATE INDEX incidents_customer ON incidents (customer_id, reported_at);
CREATE INDEX incidents_technician ON incidents (technician_id, reported_at);

-- why: a failure report is evidence; grades change on the incident, never on the report.
CREATE TRIGGER failure_reports_immutable_update BEFORE UPDATE ON failure_reports
BEGIN SELECT RAISE(ABORT, 'failure reports are immutable'); END;
CREATE TRIGGER failure_reports_immutable_delete BEFORE DELETE ON failure_reports
BEGIN SELECT RAISE(ABORT, 'failure reports are immutable'); END;
