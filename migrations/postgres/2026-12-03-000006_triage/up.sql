-- The triage lane: a report the rules cannot grade waits for a person. While it waits it sorts
-- above every graded incident (queue_rank 3); otherwise queue_rank is the severity rank.
ALTER TABLE incidents ADD COLUMN queue_rank INTEGER NOT NULL DEFAULT 0 CHECK (queue_rank BETWEEN 0 AND 3);
ALTER TABLE incidents ADD COLUMN triage_due_at TIMESTAMP;
ALTER TABLE incidents ADD COLUMN triaged_at TIMESTAMP;
UPDATE incidents SET queue_rank = severity_rank;
DROP INDEX incidents_queue;
CREATE INDEX incidents_queue ON incidents (queue_rank DESC, reported_at DESC, id DESC);
