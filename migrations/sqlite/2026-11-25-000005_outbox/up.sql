-- Customer messages and feedback. A message is written in the same transaction as the change that
-- causes it and delivered by the outbox worker (src/outbox/): claimed with a lease, retried with
-- backoff, marked delivered once. `dedup_key` names the message for the receiver, so a message
-- redelivered after a crash is recognised as the same one.

CREATE TABLE outbox_messages (
    id               TEXT PRIMARY KEY NOT NULL,
    dedup_key        TEXT NOT NULL UNIQUE,
    customer_id      TEXT NOT NULL REFERENCES customers (id),
    recovery_case_id TEXT REFERENCES recovery_cases (id),
    kind             TEXT NOT NULL CHECK (kind IN ('apology', 'explanation', 'feedback_request')),
    subject          TEXT NOT NULL,
    body             TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMP NOT NULL,
    claimed_by       TEXT,
    claimed_until    TIMESTAMP,
    channel          TEXT,
    recipient        TEXT,
    last_error       TEXT,
    created_at       TIMESTAMP NOT NULL,
    delivered_at     TIMESTAMP
);
CREATE INDEX outbox_messages_due ON outbox_messages (status, next_attempt_at);

-- One feedback request per recovered case. The customer's link carries a signed token naming the
-- request; it works once (answered_at) and until expires_at.
CREATE TABLE feedback_requests (
    id               TEXT PRIMARY KEY NOT NULL,
    recovery_case_id TEXT NOT NULL UNIQUE REFERENCES recovery_cases (id),
    customer_id      TEXT NOT NULL REFERENCES customers (id),
    expires_at       TIMESTAMP NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    answered_at      TIMESTAMP,
    satisfaction     INTEGER CHECK (satisfaction BETWEEN 1 AND 5),
    surprised        BOOLEAN,
    surprise_note    TEXT,
    comment          TEXT
);
