-- name: 2
-- Version 1 files (before API keys) gain the owner column and the keys table.
ALTER TABLE emails ADD COLUMN owner TEXT NOT NULL DEFAULT '';
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at REAL NOT NULL,
    last_used_at REAL,
    revoked_at REAL
);

-- name: 3
-- Daily quotas count a key's emails of the day.
CREATE INDEX IF NOT EXISTS emails_owner ON emails (owner, created_at);

-- name: 4
-- Provider attempts are events with an outcome class and a status code.
ALTER TABLE events ADD COLUMN outcome TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN code TEXT NOT NULL DEFAULT '';
