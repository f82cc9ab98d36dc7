DROP TABLE incidents;
DROP TABLE failure_items;
DROP TABLE failure_reports;
