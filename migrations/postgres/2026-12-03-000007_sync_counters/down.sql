CREATE TABLE counters (
    name  TEXT PRIMARY KEY NOT NULL,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) SELECT 'jobs', COALESCE(MAX(change_seq), 0) FROM jobs;
DROP TABLE sync_counters;
