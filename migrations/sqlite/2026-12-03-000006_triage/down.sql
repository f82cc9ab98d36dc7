DROP INDEX incidents_queue;
CREATE INDEX incidents_queue ON incidents (severity_rank DESC, reported_at DESC, id DESC);
ALTER TABLE incidents DROP COLUMN triaged_at;
ALTER TABLE incidents DROP COLUMN triage_due_at;
ALTER TABLE incidents DROP COLUMN queue_rank;
