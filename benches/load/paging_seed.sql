-- Seeds :n failure reports and :n incidents for the paging benchmark (benches/load/paging), on
-- PostgreSQL, in one transaction, into a database fieldproof has migrated and `serve --demo` seeded:
--   psql -v ON_ERROR_STOP=1 -v n=1000000 -v now_us=<epoch micros> -f paging_seed.sql DATABASE_URL
-- Every row references the demo's gas-boiler job (its customer and technician, tess); assignees are
-- dana and sam. reported_at is spread over the year before :now_us; grades 55% nuisance, 35%
-- service-impacting (1% of all re-graded up from nuisance), 10% safety-critical; statuses 8% open,
-- 8% acknowledged, 10% assigned, 74% resolved; 0.2% wait in triage (queue_rank 3, reported in the
-- last day, triage_due_at set) and 1% were graded out of triage. Inserts only: the CHECK
-- constraints, foreign keys and immutability triggers all apply. benches/load/paging_sqlite.py
-- seeds the same on SQLite.
--
-- why placeholder chain links: the queue never reads them, and rows left unlinked would be linked,
-- one UPDATE each, by the next start-up (src/db/chain.rs). The seeded reports are placed in the
-- failure_reports chain with placeholder hashes, so `fieldproof audit verify` flags this database.
\set ON_ERROR_STOP 1
BEGIN;

-- One row per incident: ids, when, and three draws (0..999) for grade, status and triage.
CREATE TEMP TABLE paging_seed ON COMMIT DROP AS
SELECT g,
       gen_random_uuid()::text AS failure_id,
       gen_random_uuid()::text AS incident_id,
       floor(random() * 1000)::int AS grade,
       floor(random() * 1000)::int AS state,
       floor(random() * 1000)::int AS triage,
       floor(random() * 31536000000000)::bigint AS age_us
FROM generate_series(1, :n) AS g;

CREATE TEMP TABLE paging_rows ON COMMIT DROP AS
SELECT s.g, s.failure_id, s.incident_id, s.state,
       -- waiting in triage: reported in the last day (its triage deadline may have passed)
       timestamp 'epoch' + (:now_us - CASE WHEN s.triage < 2 THEN s.age_us % 86400000000 ELSE s.age_us END)
           * interval '1 microsecond' AS reported_at,
       CASE WHEN s.grade < 100 THEN 2 WHEN s.grade < 450 THEN 1 ELSE 0 END AS rank,
       s.triage < 2 AS waiting,
       s.triage >= 2 AND s.triage < 12 AS triaged,
       s.grade BETWEEN 440 AND 449 AS regraded
FROM paging_seed s;

WITH refs AS (
    SELECT j.id AS job_id, j.technician_id
    FROM jobs j JOIN users u ON u.id = j.technician_id
    WHERE u.username = 'tess' AND j.checklist_key = 'gas-boiler-annual-service'
    ORDER BY j.created_at LIMIT 1
), head AS (
    SELECT length FROM audit_chain_heads WHERE chain = 'failure_reports'
)
INSERT INTO failure_reports (id, source, job_id, signoff_id, reported_by, reported_at, description, item_ids,
                             hazards, injury, vulnerable_occupant, service_lost, content_hash,
                             chain_seq, prev_hash, row_hash)
SELECT r.failure_id, 'report', refs.job_id, NULL, refs.technician_id, r.reported_at,
       CASE WHEN r.waiting THEN 'customer rang about the visit, call back'
            WHEN r.rank = 2 THEN 'customer smells gas near the boiler since the service'
            WHEN r.rank = 1 THEN 'no heating or hot water since the visit'
            ELSE 'dust sheets left behind and a scuff on the hall wall' END,
       '[]',
       CASE WHEN r.rank = 2 AND NOT r.waiting THEN '["gas"]' ELSE '[]' END,
       false, r.g % 50 = 0,
       CASE WHEN r.rank = 1 AND NOT r.waiting THEN '{"service":"heating","hours":6.0}' END,
       encode(sha256(convert_to(r.failure_id, 'UTF8')), 'hex'),
       head.length + r.g, 'placeholder: seeded by benches/load/paging', 'placeholder: seeded by benches/load/paging'
FROM paging_rows r, refs, head;

UPDATE audit_chain_heads SET length = length + :n, head_hash = 'placeholder: seeded by benches/load/paging'
WHERE chain = 'failure_reports';

WITH refs AS (
    SELECT j.id AS job_id, j.customer_id, j.technician_id, j.checklist_key
    FROM jobs j JOIN users u ON u.id = j.technician_id
    WHERE u.username = 'tess' AND j.checklist_key = 'gas-boiler-annual-service'
    ORDER BY j.created_at LIMIT 1
), people AS (
    SELECT (SELECT id FROM users WHERE username = 'dana') AS dana, (SELECT id FROM users WHERE username = 'sam') AS sam
), graded AS (
    SELECT r.*,
           CASE r.rank WHEN 2 THEN 'safety_critical' WHEN 1 THEN 'service_impacting' ELSE 'nuisance' END AS severity,
           CASE WHEN r.waiting THEN 'open' WHEN r.state < 80 THEN 'open' WHEN r.state < 160 THEN 'acknowledged'
                WHEN r.state < 260 THEN 'assigned' ELSE 'resolved' END AS status
    FROM paging_rows r
), versioned AS (
    SELECT g.*,
           CASE g.status WHEN 'open' THEN 1 WHEN 'acknowledged' THEN 2 WHEN 'assigned' THEN 3 ELSE 4 END
               + CASE WHEN g.triaged OR g.regraded THEN 1 ELSE 0 END AS revision
    FROM graded g
)
INSERT INTO incidents (id, failure_id, job_id, customer_id, technician_id, checklist_key, severity, severity_rank,
                       original_severity, reasons, rules_version, is_repeat, status, assignee_id, reported_at,
                       updated_at, revision, queue_rank, triage_due_at, triaged_at)
SELECT v.incident_id, v.failure_id, refs.job_id, refs.customer_id, refs.technician_id, refs.checklist_key,
       v.severity, v.rank,
       CASE WHEN v.regraded THEN 'nuisance' ELSE v.severity END,
       CASE WHEN v.waiting THEN '[]'
            WHEN v.rank = 2 THEN '[{"rule":"text.gas","evidence":"smells gas","points_to":"safety_critical"}]'
            WHEN v.rank = 1 THEN '[{"rule":"text.no-heat-or-hot-water","evidence":"no heating or hot water","points_to":"service_impacting"}]'
            ELSE '[{"rule":"text.mess-or-finish","evidence":"dust sheets left behind","points_to":"nuisance"}]' END,
       'severity-rules/v5', v.state % 20 = 0, v.status,
       CASE v.status WHEN 'assigned' THEN people.dana WHEN 'resolved' THEN people.sam END,
       v.reported_at, v.reported_at + (v.revision - 1) * interval '1 hour', v.revision,
       CASE WHEN v.waiting THEN 3 ELSE v.rank END,
       CASE WHEN v.waiting OR v.triaged THEN v.reported_at + interval '15 minutes' END,
       CASE WHEN v.triaged THEN v.reported_at + interval '10 minutes' END
FROM versioned v, refs, people;

COMMIT;
ANALYZE;
