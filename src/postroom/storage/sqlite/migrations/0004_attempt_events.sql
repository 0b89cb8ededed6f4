-- Provider attempts are events with an outcome class and a status code.
ALTER TABLE events ADD COLUMN outcome TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN code TEXT NOT NULL DEFAULT '';
