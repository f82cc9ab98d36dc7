ALTER TABLE signoffs DROP COLUMN reauthenticated;
DROP TABLE signoff_pins;
