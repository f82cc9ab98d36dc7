DROP TABLE audit_log;
DROP TABLE signoffs;
DROP TABLE jobs;
DROP TABLE counters;
DROP TABLE checklist_versions;
DROP TABLE customers;
DROP TABLE users;
