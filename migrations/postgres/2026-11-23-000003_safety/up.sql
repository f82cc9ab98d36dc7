-- Safety-critical follow-up: make-safe visits, safety audits, retraining that gates a skill,
-- and disciplinary review cases. One of each per incident (idempotent processing).

CREATE TABLE make_safe_visits (
    id            TEXT PRIMARY KEY NOT NULL,
    incident_id   TEXT NOT NULL UNIQUE REFERENCES incidents (id),
    checklist_key TEXT NOT NULL,
    due_at        TIMESTAMP NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('open', 'assigned', 'done', 'cancelled')),
    job_id        TEXT UNIQUE REFERENCES jobs (id),
    outcome       TEXT CHECK (outcome IN ('made_safe', 'not_made_safe')),
    signoff_id    TEXT REFERENCES signoffs (id),
    note          TEXT,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);
CREATE INDEX make_safe_visits_due ON make_safe_visits (status, due_at);

CREATE TABLE safety_audits (
    id                 TEXT PRIMARY KEY NOT NULL,
    incident_id        TEXT NOT NULL UNIQUE REFERENCES incidents (id),
    auditor_id         TEXT NOT NULL REFERENCES users (id),
    confirmed_severity TEXT NOT NULL CHECK (confirmed_severity IN ('nuisance', 'service_impacting', 'safety_critical')),
    root_cause         TEXT NOT NULL,
    root_cause_detail  TEXT NOT NULL,
    corrective_actions TEXT NOT NULL,
    recorded_at        TIMESTAMP NOT NULL
);

CREATE TABLE retraining_assignments (
    id            TEXT PRIMARY KEY NOT NULL,
    incident_id   TEXT NOT NULL REFERENCES incidents (id),
    technician_id TEXT NOT NULL REFERENCES users (id),
    checklist_key TEXT NOT NULL,
    item_ids      TEXT NOT NULL,
    cause         TEXT NOT NULL CHECK (cause IN ('safety_critical', 'repeat')),
    due_at        TIMESTAMP NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'trained', 'effective', 'ineffective', 'cancelled')),
    trained_at    TIMESTAMP,
    trained_by    TEXT REFERENCES users (id),
    note          TEXT,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    UNIQUE (incident_id, technician_id)
);
CREATE INDEX retraining_gate ON retraining_assignments (technician_id, checklist_key, status);

CREATE TABLE disciplinary_cases (
    id                   TEXT PRIMARY KEY NOT NULL,
    incident_id          TEXT NOT NULL UNIQUE REFERENCES incidents (id),
    technician_id        TEXT NOT NULL REFERENCES users (id),
    status               TEXT NOT NULL CHECK (status IN ('open', 'under_review', 'awaiting_approval', 'decided', 'closed')),
    behaviour            TEXT CHECK (behaviour IN ('human_error', 'at_risk', 'reckless')),
    system_factors       TEXT NOT NULL,
    technician_statement TEXT,
    outcome              TEXT CHECK (outcome IN ('no_action', 'coaching', 'verbal_warning', 'written_warning', 'skill_suspension', 'hr_referral')),
    outcome_reason       TEXT,
    proposed_by          TEXT REFERENCES users (id),
    approved_by          TEXT REFERENCES users (id),
    note                 TEXT,
    created_at           TIMESTAMP NOT NULL,
    updated_at           TIMESTAMP NOT NULL
);
CREATE INDEX disciplinary_cases_technician ON disciplinary_cases (technician_id, created_at);
