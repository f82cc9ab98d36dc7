DROP TABLE disciplinary_cases;
DROP TABLE retraining_assignments;
DROP TABLE safety_audits;
DROP TABLE make_safe_visits;
