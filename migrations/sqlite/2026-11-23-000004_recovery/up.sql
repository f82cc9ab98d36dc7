-- Customer recovery for ordinary (not safety-critical) failures: one case per incident, due 24 hours
-- after the failure was reported. Recovered = fixed, apologised, remedy settled.

CREATE TABLE recovery_cases (
    id                TEXT PRIMARY KEY NOT NULL,
    incident_id       TEXT NOT NULL UNIQUE REFERENCES incidents (id),
    customer_id       TEXT NOT NULL REFERENCES customers (id),
    due_at            TIMESTAMP NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('open', 'recovered', 'cancelled')),
    fixed_at          TIMESTAMP,
    apologised_at     TIMESTAMP,
    remedy_settled_at TIMESTAMP,
    recovered_at      TIMESTAMP,
    apology_text      TEXT,
    remedy_id         TEXT,
    remedy_value_gbp  REAL,
    remedy_status     TEXT CHECK (remedy_status IN ('pending_approval', 'settled')),
    remedy_proposed_by TEXT REFERENCES users (id),
    remedy_approved_by TEXT REFERENCES users (id),
    policy_version    TEXT,
    fix_job_id        TEXT UNIQUE REFERENCES jobs (id),
    explanation_due_at TIMESTAMP,
    explanation_text  TEXT,
    root_cause        TEXT,
    explained_at      TIMESTAMP,
    surprise_given    BOOLEAN,
    surprise_note     TEXT,
    note              TEXT,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);
CREATE INDEX recovery_cases_due ON recovery_cases (status, due_at);
