-- Providers an operator paused (storage/sqlite/pauses.py): one row per paused provider name,
-- deleted on resume. Every worker on the file reads it twice a second (services/pauses.py).
CREATE TABLE provider_pauses (
    provider TEXT PRIMARY KEY,
    paused_at REAL NOT NULL
);
