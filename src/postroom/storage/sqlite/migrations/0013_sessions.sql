-- Browser sessions of the dev inbox and the dashboard (storage/sqlite/sessions.py), so every
-- process on the file honours a login and a restart keeps it. The cookie's token is kept only
-- as its SHA-256; the key is named by id and read through its primary key at each request, so
-- revoking it ends its sessions at once. Rows past expires_at are deleted by the purge.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    pages TEXT NOT NULL,
    key_id TEXT NOT NULL,
    tenant TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);
